"""Test cases kept as data: a YAML file of tables, each a mapping of case id to its values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml


def cases(file: Path, table: str) -> list[Any]:
    """``table`` of ``file`` as pytest parameters: one per case, its key as the test id, its
    values in the order the file writes them."""
    rows: dict[str, dict[str, Any]] = yaml.safe_load(file.read_text(encoding="utf-8"))[table]
    return [pytest.param(*row.values(), id=case) for case, row in rows.items()]
