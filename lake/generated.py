"""Every file the project generates from its specs, and what generates it: one table, one
``make ddl`` (``python -m lake.generated``), one up-to-date test
(tests/test_repository.py, one case per file).

The Native App's setup script is built from ``sql/`` as it is on disk, so it is written
last.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = ROOT / "sql"


def files() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that writes its text, in writing order."""
    from lake import app, business_vault, contract, governance, privileges
    from procedures import controls, ingest, quality, staging, vault

    return {
        SQL_DIR / "035_landing_tables.sql": ingest.ddl,
        SQL_DIR / "040_vault.sql": vault.ddl,
        SQL_DIR / "045_staging.sql": staging.ddl,
        SQL_DIR / "050_vault_views.sql": vault.views_ddl,
        SQL_DIR / "055_controls.sql": controls.views_ddl,
        SQL_DIR / "060_quality.sql": quality.ddl,
        **governance.writers(),
        **business_vault.writers(),
        ROOT / contract.DOC: contract.producer_contract,
        # built from the sql/ written above, as it is on disk
        app.SETUP_SCRIPT: lambda: app.setup_script(app.SETUP_SCRIPT.read_text()),
        ROOT / privileges.DEPLOY_DOC: lambda: privileges.deploy_doc((ROOT / privileges.DEPLOY_DOC).read_text()),
    }


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


def main() -> int:
    for path, write in files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(write())
        print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
