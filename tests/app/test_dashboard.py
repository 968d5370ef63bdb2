"""The dashboard renders every page with data from a local run (Streamlit's AppTest,
in-process, against the local warehouse the test session loaded)."""

from __future__ import annotations

import re
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from lake import pipeline, ui
from lake.config import Settings
from lake.local.stack import Endpoints
from lake.steps import Built
from procedures.handlers import validate_data

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def validated(settings: Settings, built: Built, applied: Endpoints) -> validate_data.Summary:
    return pipeline.validate(settings, applied, "all").detail


@pytest.fixture()
def dashboard(settings: Settings, validated: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("LAKE_STATE_DIR", str(settings.local.state_dir))
    for key, value in ui.environment(settings).items():
        monkeypatch.setenv(key, value)
    app = AppTest.from_file(str(ui.DASHBOARD), default_timeout=120)
    yield app


def _open(app: AppTest, page: str) -> AppTest:
    app.run()
    app.sidebar.radio[0].set_value(page).run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def _metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def test_every_page_renders_without_exceptions(dashboard: AppTest) -> None:
    dashboard.run()
    pages = list(dashboard.sidebar.radio[0].options)
    assert pages == ["Pipeline runs", "Raw vault", "Data quality", "Gold KPIs", "Governance"]
    for page in pages:
        _open(dashboard, page)
        assert dashboard.header[0].value == page


def test_the_pages_show_the_runs_data(dashboard: AppTest, validated: dict[str, Any]) -> None:
    app = _open(dashboard, "Pipeline runs")
    assert int(_metric(app, "Procedure calls")) >= 4  # ingest, load, validate at least
    app = _open(dashboard, "Raw vault")
    assert int(_metric(app, "Rows in the vault").replace(",", "")) > 10_000
    app = _open(dashboard, "Data quality")
    assert int(_metric(app, "Rules run")) == validated["rules_run"]
    assert int(_metric(app, "Warn")) == validated["warned"]
    # drill-down: the failing keys of the first failing rule come from RULE_EXCEPTIONS
    rule = app.selectbox[0].value
    keys = app.dataframe[-1].value
    assert len(keys) > 0, f"no failing keys shown for {rule}"
    app = _open(dashboard, "Gold KPIs")
    assert [len(frame.value) > 0 for frame in app.dataframe] == [True, True, True]
    app = _open(dashboard, "Governance")
    assert int(_metric(app, "PII columns tagged and masked")) >= 7


def test_the_pipeline_page_tells_failed_and_interrupted_runs_apart(
    settings: Settings, applied: Endpoints, dashboard: AppTest
) -> None:
    """A failed run and an interrupted one (Ctrl-C) count apart, as PIPELINE_RUNS says."""
    from lake import task_graph

    def fail(s: Settings, e: Endpoints | None) -> None:
        raise RuntimeError("forced")

    def interrupt(s: Settings, e: Endpoints | None) -> None:
        raise KeyboardInterrupt

    for error, runner in ((RuntimeError, fail), (KeyboardInterrupt, interrupt)):
        with pytest.raises(error):
            task_graph.walk(settings, applied, {"LAKE_INGEST_LANDING": runner})
    counts = dict(pipeline.fetch(settings, applied, "SELECT status, COUNT(*) FROM AUDIT.PIPELINE_RUNS GROUP BY status"))
    app = _open(dashboard, "Pipeline runs")
    assert int(_metric(app, "Failed graph runs")) == counts["FAILED"] >= 1
    assert int(_metric(app, "Interrupted graph runs")) == counts["INTERRUPTED"] >= 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_real_browser_shows_the_dashboard_with_data(
    settings: Settings, validated: dict[str, Any], tmp_path: Path
) -> None:
    """Debian's chromium (make browser installs it) opens `lake ui` on loopback."""
    shot = tmp_path / "dashboard.png"
    with ui.served(settings, _free_port()) as url:
        page = ui.capture(url, shot, ready="Procedure calls")
    text = page.text
    # the picture is taken once the charts are drawn, not while the page still runs
    assert page.charts >= 1 and page.drawn == page.charts, page
    numbers = dict(re.findall(r"(Graph runs|Procedure calls)\n+(\d+)", text))
    assert int(numbers["Procedure calls"]) >= 4, text[:1000]
    assert "Exception" not in text and "Error:" not in text, text[:1000]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1400, 1000)
