"""The README's examples work as written: every SQL block and every `lake sql "..."` it
shows runs on the lake `make run` builds (the same plan, on a lake of this module's own)
and answers rows (an example that answers nothing teaches nothing: the snapshot date used
to be one the sample never has)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake import pipeline
from lake.cli import PLAN_OPTIONS
from lake.config import LocalTarget, Settings
from lake.local.stack import LocalStack
from lake.session import connect
from procedures.sample_data import Plan

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text()
    blocks = [b.strip().rstrip(";") for b in re.findall(r"```sql\n(.*?)```", text, re.DOTALL)]
    commands = re.findall(r'lake sql "([^"]+)"', text)
    return blocks + [c for c in commands if "<" not in c]


@pytest.mark.unit
def test_the_readme_has_examples_to_run() -> None:
    assert len(examples()) >= 8


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """What `make run` leaves: `lake run` with its defaults (three days from 2026-01-05,
    1,000 clients, seed 42), on a state folder of its own."""
    settings = Settings(local=LocalTarget(state_dir=tmp_path_factory.mktemp("make-run")))
    with LocalStack(settings.local).ensure() as endpoints:
        defaults = {name: default for name, _, default in PLAN_OPTIONS}
        report = pipeline.run(settings, Plan.build(**defaults | {"days": 3}))  # `lake run`'s own
        assert report.reconciliation_problems == 0
        conn = connect(settings, endpoints)
        try:
            yield conn
        finally:
            conn.close()


@pytest.mark.integration
@pytest.mark.parametrize("statement", examples(), ids=lambda s: " ".join(s.split())[:60])
def test_a_readme_example_answers_rows(made: Any, statement: str) -> None:
    cur = made.cursor()
    cur.execute(statement)
    assert cur.fetchall(), f"no rows: {statement}"
