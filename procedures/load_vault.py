"""``CALL LOAD_VAULT(batch_id)``: staged landing rows into hubs, links and satellites.

Default: every ingested batch not loaded yet, oldest first. A batch commits as a whole or
not at all, with one load timestamp; re-running it inserts nothing. See
``procedures/vault_load.py`` for the statements and the rule for late rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from procedures import spec as S
from procedures import vault as V
from procedures.audit import audited, checked_batch_id, checked_name
from procedures.ingest import CONTROL_TABLE
from procedures.vault import quote
from procedures.vault_load import LOADED_TABLE, batch_statements, drop_batch_sql, stage_batch_sql, superseded_sql

PROCEDURE = "LOAD_VAULT"


def pending_batches(session: Any, landing: str, vault: str) -> list[str]:
    rows = session.sql(
        f"SELECT DISTINCT batch_id FROM {quote(landing)}.{CONTROL_TABLE} WHERE batch_id NOT IN "
        f"(SELECT batch_id FROM {quote(vault)}.{LOADED_TABLE}) ORDER BY batch_id"
    ).collect()
    return [str(r[0]) for r in rows]


def load_batch(session: Any, batch: str, run_id: str, landing: str, vault: str, audit: str) -> dict[str, Any]:
    """Load one batch in one transaction; write its audit rows either way."""
    load_ts = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    ts_sql = f"CAST('{load_ts}' AS TIMESTAMP_NTZ)"
    audit_rows: list[tuple[str, int, int, int, float]] = []
    inserted: dict[str, int] = {}
    status, error = "SUCCEEDED", None
    for ent in S.ENTITIES:
        session.sql(stage_batch_sql(landing, vault, ent, batch)).collect()
    session.sql("BEGIN").collect()
    try:
        for st in batch_statements(landing, vault, batch, ts_sql):
            superseded = 0
            if st.kind == "satellite":
                sat = next(s for s in V.SATELLITES if s.name == st.table)
                superseded = int(session.sql(superseded_sql(landing, vault, sat, batch)).collect()[0][0])
            started = time.perf_counter()
            rows = int(session.sql(st.sql).collect()[0][0])
            key = "quarantined" if st.kind == "quarantine" else st.table
            inserted[key] = inserted.get(key, 0) + rows
            if st.kind != "quarantine":
                audit_rows.append((st.table, rows, 0, superseded, time.perf_counter() - started))
        # the first load of a batch sets its place on the timeline; a re-run does not move it
        session.sql(
            f"INSERT INTO {quote(vault)}.{LOADED_TABLE} SELECT '{batch}', {ts_sql}, '{run_id}' WHERE NOT EXISTS "
            f"(SELECT 1 FROM {quote(vault)}.{LOADED_TABLE} WHERE batch_id = '{batch}')"
        ).collect()
        session.sql("COMMIT").collect()
    except Exception as err:
        session.sql("ROLLBACK").collect()
        status, error = "FAILED", f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        for ent in S.ENTITIES:
            session.sql(drop_batch_sql(vault, ent, batch)).collect()
        quarantined = inserted.get("quarantined", 0)
        rows_sql = [
            f"('{run_id}', '{batch}', '{table}', {n if status == 'SUCCEEDED' else 0}, "
            f"{quarantined if table == V.HUBS[0].name else 0}, {sup}, {secs:.4f}, '{status}', NULL)"
            for table, n, _, sup, secs in audit_rows
        ] or [f"('{run_id}', '{batch}', '*', 0, 0, 0, 0, '{status}', ?)"]
        session.sql(
            f"INSERT INTO {quote(audit)}.VAULT_LOAD_RUNS VALUES {', '.join(rows_sql)}",
            params=[error] if not audit_rows else None,
        ).collect()
    return {"load_ts": load_ts, "inserted": inserted}


def run(
    session: Any,
    batch_id: str = "",
    landing_schema: str = "LANDING",
    vault_schema: str = "VAULT",
    audit_schema: str = "AUDIT",
) -> dict[str, Any]:
    checked_batch_id(batch_id)
    for value, name in (
        (landing_schema, "landing_schema"),
        (vault_schema, "vault_schema"),
        (audit_schema, "audit_schema"),
    ):
        checked_name(value, name)
    with audited(session, PROCEDURE, {"batch_id": batch_id}, f"{audit_schema}.PROCEDURE_RUNS") as audit:
        batches = [batch_id] if batch_id else pending_batches(session, landing_schema, vault_schema)
        results = {b: load_batch(session, b, audit.run_id, landing_schema, vault_schema, audit_schema) for b in batches}
        totals: dict[str, int] = {}
        for r in results.values():
            for table, n in r["inserted"].items():
                totals[table] = totals.get(table, 0) + n
        summary = {"batches": batches, "inserted": totals, "run_id": audit.run_id}
        audit.rows_written = sum(n for t, n in totals.items() if t != "quarantined")
        audit.result = summary
    return summary


def main(session: Any, batch_id: str = "") -> dict[str, Any]:
    """Stored procedure handler for LOAD_VAULT.

    Args:
        batch_id: one batch to load, e.g. ``B20260105``; default: every ingested batch
            not loaded yet, oldest first. Loading a batch again inserts nothing.
    """
    return run(session, batch_id=batch_id)
