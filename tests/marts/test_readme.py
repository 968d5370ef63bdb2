"""The README's examples work as written: every SQL block and every `lake sql "..."` it
shows runs on a lake built from the sample data and answers rows (an example that
answers nothing teaches nothing: the snapshot date used to be one the sample never has)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def examples() -> list[str]:
    text = README.read_text()
    blocks = [b.strip().rstrip(";") for b in re.findall(r"```sql\n(.*?)```", text, re.DOTALL)]
    commands = re.findall(r'lake sql "([^"]+)"', text)
    return blocks + [c for c in commands if "<" not in c]


@pytest.mark.unit
def test_the_readme_has_examples_to_run() -> None:
    assert len(examples()) >= 8


@pytest.mark.integration
@pytest.mark.parametrize("statement", examples(), ids=lambda s: " ".join(s.split())[:60])
def test_a_readme_example_answers_rows(built: dict[str, Any], conn: Any, statement: str) -> None:
    cur = conn.cursor()
    cur.execute(statement)
    assert cur.fetchall(), f"no rows: {statement}"
