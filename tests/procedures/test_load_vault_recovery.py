"""LOAD_VAULT under failure and concurrency: a load killed between two statements leaves
nothing behind and its re-run gives the vault a clean run gives; two loads at once run
one after the other and never duplicate a key."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from lake.config import Settings
from lake.local import strict
from lake.local.stack import Endpoints
from lake.session import connect, open_session
from procedures import vault as vault_spec
from procedures.handlers import load_vault
from tests.conftest import SMALL_BATCHES, fresh_vault

pytestmark = pytest.mark.integration
VOLATILE = {"LOAD_TS", "RUN_ID"}  # when a row was written, not what it says
TABLES = [*vault_spec.tables(), "QUARANTINE", "LOADED_BATCHES"]


def snapshot(conn: Any, vault: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every vault table's rows, without the columns that record when they were written."""
    out = {}
    cur = conn.cursor()
    for table in TABLES:
        cur.execute(f"SELECT * FROM {vault}.{table} LIMIT 0")
        keep = [d[0] for d in cur.description if d[0].upper() not in VOLATILE]
        cur.execute(f"SELECT {', '.join(keep)} FROM {vault}.{table}")
        out[table] = sorted(cur.fetchall(), key=repr)
    return out


@pytest.fixture(scope="module")
def clean(settings: Settings, ingested: dict[str, Any], session: Any, applied: Endpoints) -> Any:
    """The vault a clean run of the three small batches gives."""
    conn = connect(settings, applied)
    try:
        vault = fresh_vault(settings, conn, "VAULT_CLEAN")
        for batch in SMALL_BATCHES:
            load_vault.run(session, batch_id=batch, schemas={"vault": vault})
        return snapshot(conn, vault)
    finally:
        conn.close()


@pytest.mark.parametrize("after", [20])
def test_a_load_killed_between_statements_then_rerun_equals_a_clean_run(
    settings: Settings, clean: Any, session: Any, conn: Any, after: int
) -> None:
    vault = fresh_vault(settings, conn, f"VAULT_KILLED_{after}")
    *first, last = SMALL_BATCHES
    for batch in first:
        load_vault.run(session, batch_id=batch, schemas={"vault": vault})
    before = snapshot(conn, vault)
    killed = subprocess.run(
        [sys.executable, "-m", "tests.procedures.killed_load", str(settings.local.state_dir), last, vault, str(after)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert "killed before" in killed.stdout
    # nothing of the killed load is visible: the batch commits as a whole or not at all
    assert snapshot(conn, vault) == before
    # the re-run waits for the killed session's lock, released as soon as the server sees
    # that session's client process is gone (not after the idle limit), then loads the batch
    rerun = load_vault.run(session, batch_id=last, schemas={"vault": vault}, lock_wait_seconds=120)
    assert rerun["already_loaded"] == [] and sum(rerun["inserted"].values()) > 0
    assert snapshot(conn, vault) == clean
    log = (settings.local.state_dir / "servers.log").read_text()
    assert "rolled back the transaction of a session whose client (pid" in log


def test_two_loads_at_once_run_one_after_the_other(
    settings: Settings, clean: Any, applied: Endpoints, conn: Any
) -> None:
    vault = fresh_vault(settings, conn, "VAULT_CONCURRENT")
    results: list[list[load_vault.Summary]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def load(slot: int) -> None:
        s = strict.owners_rights(open_session(settings, applied, settings.names.vault))  # as LOAD_VAULT gets one
        try:
            start.wait()
            for batch in SMALL_BATCHES:
                results[slot].append(load_vault.run(s, batch_id=batch, schemas={"vault": vault}, lock_wait_seconds=120))
        except BaseException as err:  # reported below, with the thread's error
            errors.append(err)
        finally:
            s.close()

    threads = [threading.Thread(target=load, args=(slot,)) for slot in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    # each batch was loaded by exactly one of the two; the other found it loaded
    for i, batch in enumerate(SMALL_BATCHES):
        skipped = [r[i]["already_loaded"] == [batch] for r in results]
        assert sorted(skipped) == [False, True], batch
    assert snapshot(conn, vault) == clean


def test_the_first_load_path_gives_what_the_comparing_path_gives(
    settings: Settings, clean: Any, session: Any, conn: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into empty satellites a load skips the comparison with history (there is none):
    switched off, the same three batches give the same vault."""
    monkeypatch.setattr(load_vault, "empty_tables_sql", lambda vault: "SELECT 'none' AS table_name WHERE FALSE")
    vault = fresh_vault(settings, conn, "VAULT_COMPARING")
    for batch in SMALL_BATCHES:
        load_vault.run(session, batch_id=batch, schemas={"vault": vault})
    assert snapshot(conn, vault) == clean
