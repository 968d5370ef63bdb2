"""Run LOAD_VAULT for one batch and SIGKILL this process between two statements of the
load's transaction: ``python -m tests.procedures.killed_load STATE_DIR BATCH VAULT N``
dies just before the (N+1)th statement after BEGIN. Used by test_load_vault_recovery."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from lake.config import LocalTarget, Settings
from lake.local import strict
from lake.local.stack import LocalStack
from lake.session import open_session
from procedures.handlers import load_vault


def main() -> None:
    state_dir, batch, vault, after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = Settings(local=LocalTarget(state_dir=Path(state_dir)))
    endpoints = LocalStack(settings.local).running()
    assert endpoints is not None, f"no local servers run for {state_dir}"
    # as LOAD_VAULT gets it: in the vault's schema, owner's-rights statements only
    session = strict.owners_rights(open_session(settings, endpoints, settings.names.vault))
    sql = session.sql
    seen = {"in_transaction": False, "statements": 0}

    def killing_sql(query: str, *args: Any, **kwargs: Any) -> Any:
        if query == "BEGIN":
            seen["in_transaction"] = True
        elif seen["in_transaction"]:
            seen["statements"] += 1
            if seen["statements"] > after:
                print(f"killed before: {query[:100]}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        return sql(query, *args, **kwargs)

    session.sql = killing_sql  # type: ignore[method-assign]
    load_vault.run(session, batch_id=batch, schemas={"vault": vault})
    raise SystemExit("the load finished before it could be killed")


if __name__ == "__main__":
    main()
