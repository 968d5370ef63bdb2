"""Every file the project generates from its specs, and what generates it: one table, one
``make ddl`` (``python -m lake.generated``), one up-to-date test
(tests/test_repository.py, one case per file).

The spec-derived DDL comes first: the governance files and the Native App's setup
script are built from ``sql/`` as it is on disk, so they are written after it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = ROOT / "sql"


def _from_spec() -> dict[Path, Callable[[], str]]:
    from procedures import ingest, quality, staging, vault

    return {
        SQL_DIR / "035_landing_tables.sql": ingest.ddl,
        SQL_DIR / "040_vault.sql": vault.ddl,
        SQL_DIR / "045_staging.sql": staging.ddl,
        SQL_DIR / "050_vault_views.sql": vault.views_ddl,
        SQL_DIR / "060_quality.sql": quality.ddl,
    }


@functools.cache
def _governance() -> dict[Path, str]:
    from lake import governance

    return governance.generated()


def files() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that writes its text, in writing order."""
    from lake import governance

    later = {path: functools.partial(lambda p: _governance()[p], path) for path in governance.generated_paths()}
    return {**_from_spec(), **later}


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


def main() -> int:
    for path, write in _from_spec().items():
        path.write_text(write())
        print(f"wrote {shown(path)}")
    _governance.cache_clear()  # built from the sql/ just written
    for path, text in _governance().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
