"""Synthesize cdktf/ once per test session, through the command a user runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the settings module is plain pydantic: import it in-process for the validation tests
sys.path.insert(0, str(ROOT / "cdktf"))


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdktf") / "cdktf.out"
    lake = Path(sys.executable).with_name("lake")
    done = subprocess.run([str(lake), "infra", "synth", "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="session")
def stacks(synth_dir: Path) -> dict[str, dict[str, Any]]:
    """Environment name -> the synthesized Terraform JSON of its stack."""
    return {
        path.parent.name.removeprefix("lake-"): json.loads(path.read_text())
        for path in sorted((synth_dir / "stacks").glob("*/cdk.tf.json"))
    }
