"""`lake ui`: the Native App's Streamlit dashboard, served locally on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

from lake.config import Settings

DASHBOARD = Path(__file__).resolve().parent.parent / "native_app" / "streamlit" / "dashboard.py"


def environment(settings: Settings) -> dict[str, str]:
    """What the dashboard reads: local mode, and the schema names of this configuration."""
    env = {"LAKE_UI_LOCAL": "1"}
    for layer in ("audit", "vault", "quality", "gold"):
        env[f"LAKE_UI_{layer.upper()}_SCHEMA"] = settings.names.schemas[layer]
    return env


def command(port: int) -> list[str]:
    """streamlit run, headless, on loopback only, with no usage statistics sent anywhere."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
    ]
