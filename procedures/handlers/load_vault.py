"""``CALL LOAD_VAULT(batch_id)``: staged landing rows into hubs, links and satellites.

Default: every ingested batch not loaded yet, oldest first. A batch commits as a whole or
not at all, with one load timestamp; re-running it inserts nothing (a batch whose load
covered every row landed for it is skipped at once). Loads take the vault's load lock
first, so two at once run one after the other and never duplicate a hub key. See
``procedures/vault_statements.py`` for the statements and the rule for late rows.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

from procedures import spec
from procedures.audit import audited, checked_batch_id, checked_schemas, require_landed
from procedures.ingest import CONTROL_TABLE, landing_table
from procedures.sql import LOCK_CONFLICT, quote, sql_literal
from procedures.vault_statements import (
    LOADED_TABLE,
    batch_statements,
    drop_batch_sql,
    empty_tables_sql,
    stage_batch_sql,
)

PROCEDURE = "LOAD_VAULT"
log = logging.getLogger("procedures.handlers.load_vault")


LOCK_TABLE = "LOAD_LOCK"
LOCK_NAME = "LOAD_VAULT"


class Summary(TypedDict):
    """What LOAD_VAULT returns: the batches it took (those loaded before are listed
    again under ``already_loaded``), rows inserted per vault table and quarantined."""

    batches: list[str]
    already_loaded: list[str]
    inserted: dict[str, int]
    run_id: str


class LockTimeout(RuntimeError):
    """Another LOAD_VAULT held the vault's load lock for longer than we would wait."""


def pending_batches(session: Any, landing: str, vault: str) -> list[str]:
    rows = session.sql(
        f"SELECT DISTINCT batch_id FROM {quote(landing)}.{CONTROL_TABLE} WHERE batch_id NOT IN "
        f"(SELECT batch_id FROM {quote(vault)}.{LOADED_TABLE}) ORDER BY batch_id"
    ).collect()
    return [str(r[0]) for r in rows]


def landed_rows(session: Any, landing: str, batch: str) -> int:
    """Rows of ``batch`` in the landing tables now."""
    counts = " UNION ALL ".join(
        f"SELECT COUNT(*) AS n FROM {quote(landing)}.{landing_table(e)} WHERE batch_id = {sql_literal(batch)}"
        for e in spec.ENTITIES
    )
    return int(session.sql(f"SELECT SUM(n) FROM ({counts})").collect()[0][0] or 0)


def loaded_rows(session: Any, vault: str, batch: str) -> int | None:
    """Landed rows the batch's committed load covered, or None if it was never loaded."""
    rows = session.sql(
        f"SELECT landed_rows FROM {quote(vault)}.{LOADED_TABLE} WHERE batch_id = {sql_literal(batch)}"
    ).collect()
    return int(rows[0][0]) if rows else None


def _lock(session: Any, vault: str, run_id: str, batch: str) -> None:
    """First statement of a load's transaction: loads run one at a time, so two never
    insert the same new hub key. Snowflake holds the row's lock until COMMIT or ROLLBACK."""
    updated = session.sql(
        f"UPDATE {quote(vault)}.{LOCK_TABLE} SET run_id = {sql_literal(run_id)}, batch_id = {sql_literal(batch)}, "
        f"locked_at = SYSDATE() WHERE lock_name = '{LOCK_NAME}'"
    ).collect()
    if not int(updated[0][0]):
        raise RuntimeError(f"{vault}.{LOCK_TABLE} has no {LOCK_NAME} row: apply sql/040_vault.sql")


@dataclass
class BatchLoad:
    """What one batch's load did, for the summary and the audit."""

    batch: str
    run_id: str
    landed: int
    load_ts: str = ""
    inserted: dict[str, int] = field(default_factory=dict)
    # (table, rows inserted, rows superseded, seconds)
    tables: list[tuple[str, int, int, float]] = field(default_factory=list)
    already_loaded: bool = False


def _run_statements(session: Any, load: BatchLoad, landing: str, vault: str) -> None:
    """Inside the transaction and the lock: every statement of the batch, then its mark."""
    ts_sql = f"CAST('{load.load_ts}' AS TIMESTAMP_NTZ)"
    superseded: dict[str, int] = {}
    # under the lock: the satellites no load has written to yet take the first-load path
    empty = frozenset(str(r[0]) for r in session.sql(empty_tables_sql(vault)).collect())
    for st in batch_statements(vault, landing, load.batch, ts_sql, load.run_id, empty):
        started = time.perf_counter()
        if st.kind == "superseded":
            superseded = {str(r[0]): int(r[1]) for r in session.sql(st.sql).collect()}
            continue
        rows = int(session.sql(st.sql).collect()[0][0])
        key = "quarantined" if st.kind == "quarantine" else st.table
        load.inserted[key] = load.inserted.get(key, 0) + rows
        if st.kind != "quarantine":
            load.tables.append((st.table, rows, superseded.get(st.table, 0), time.perf_counter() - started))
    loaded = f"{quote(vault)}.{LOADED_TABLE}"
    batch = sql_literal(load.batch)
    # the first load of a batch sets its place on the timeline; a later one (late files
    # landed under the same batch) records the rows it covered and keeps that place
    session.sql(f"UPDATE {loaded} SET landed_rows = {load.landed} WHERE batch_id = {batch}").collect()
    session.sql(
        f"INSERT INTO {loaded} SELECT {batch}, {ts_sql}, {sql_literal(load.run_id)}, {load.landed} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {loaded} WHERE batch_id = {batch})"
    ).collect()


def load_batch(
    session: Any,
    batch: str,
    run_id: str,
    landing: str,
    vault: str,
    audit: str,
    lock_wait_seconds: float = 600.0,
) -> BatchLoad:
    """Load one batch in one transaction, under the load lock; audit it either way.

    A batch whose committed load covered exactly the rows landed now is skipped (its
    statements would insert nothing): the audit says ``ALREADY_LOADED``.
    """
    started = time.perf_counter()
    load = BatchLoad(batch, run_id, landed_rows(session, landing, batch))
    status, error = "SUCCEEDED", None
    try:
        if loaded_rows(session, vault, batch) == load.landed:
            load.already_loaded = True
            status = "ALREADY_LOADED"
            return load
        _load_in_transaction(session, load, landing, vault, lock_wait_seconds)
        if load.already_loaded:
            status = "ALREADY_LOADED"
    except Exception as err:
        status, error = "FAILED", f"{type(err).__name__}: {err}"[:2000]
        raise
    finally:
        _audit(session, load, audit, status, error, time.perf_counter() - started)
    return load


def _load_in_transaction(session: Any, load: BatchLoad, landing: str, vault: str, lock_wait_seconds: float) -> None:
    # the work tables are DDL, so they are made before the transaction (DDL would commit it
    # in Snowflake); their names carry the run id, so concurrent loads never share one.
    # Temporary tables are made in the current schema: LOAD_VAULT's own (the vault), as an
    # owner's-rights procedure resolves unqualified names in the schema it was created in
    # and may not run USE (https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights).
    for ent in spec.ENTITIES:
        session.sql(stage_batch_sql(landing, ent, load.batch, load.run_id)).collect()
    deadline = time.monotonic() + lock_wait_seconds
    last_said = -math.inf
    pause = 0.2
    try:
        while True:
            load.inserted, load.tables = {}, []
            session.sql("BEGIN").collect()
            try:
                _lock(session, vault, load.run_id, load.batch)
                # taken under the lock, so load timestamps rise in commit order and a
                # reader's "loaded since" watermark (dbt's incremental models) misses nothing
                load.load_ts = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
                if loaded_rows(session, vault, load.batch) == load.landed:
                    load.already_loaded = True  # a concurrent load committed it while we waited
                else:
                    _run_statements(session, load, landing, vault)
                session.sql("COMMIT").collect()
                return
            except Exception as err:
                session.sql("ROLLBACK").collect()
                if not LOCK_CONFLICT.search(str(err)):
                    raise
                now = time.monotonic()
                if now >= last_said + 30:
                    # say what it waits on, and for how long (the first time, then every 30 s)
                    log.warning(
                        "batch %s: another LOAD_VAULT holds %s.%s; retrying for up to %.0f s more (%s)",
                        load.batch,
                        vault,
                        LOCK_TABLE,
                        max(deadline - now, 0),
                        str(err).splitlines()[0][:120],
                    )
                    last_said = now
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"batch {load.batch}: another LOAD_VAULT held {vault}.{LOCK_TABLE} for over "
                        f"{lock_wait_seconds:.0f}s ({err})"
                    ) from err
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
    finally:
        for ent in spec.ENTITIES:
            session.sql(drop_batch_sql(ent, load.batch, load.run_id)).collect()


def _audit(session: Any, load: BatchLoad, audit: str, status: str, error: str | None, seconds: float) -> None:
    """One row per table the load wrote, and one for the rows it quarantined (table
    ``quarantine``; the quarantine statement covers every entity at once), or one row
    for the whole batch ('*')."""
    quarantined = load.inserted.get("quarantined", 0)
    values = [
        f"({sql_literal(load.run_id)}, {sql_literal(load.batch)}, {sql_literal(table)}, {rows}, 0, "
        f"{superseded}, {secs:.4f}, '{status}', NULL)"
        for table, rows, superseded, secs in load.tables
    ]
    if values:
        values.append(
            f"({sql_literal(load.run_id)}, {sql_literal(load.batch)}, 'quarantine', {quarantined}, {quarantined}, "
            f"0, 0, '{status}', NULL)"
        )
    params = None
    if status != "SUCCEEDED" or not values:
        values = [
            f"({sql_literal(load.run_id)}, {sql_literal(load.batch)}, '*', 0, 0, 0, {seconds:.4f}, '{status}', ?)"
        ]
        params = [error]
    session.sql(f"INSERT INTO {quote(audit)}.VAULT_LOAD_RUNS VALUES {', '.join(values)}", params=params).collect()


def run(
    session: Any, batch_id: str = "", schemas: Mapping[str, str] | None = None, lock_wait_seconds: float = 600.0
) -> Summary:
    """Load ``batch_id`` (default: every pending batch) into the vault; ``schemas`` names
    the landing, vault and audit schemas (default LANDING, VAULT, AUDIT)."""
    checked_batch_id(batch_id)
    names = checked_schemas(schemas, "landing", "vault", "audit")
    landing_schema, vault_schema, audit_schema = names["landing"], names["vault"], names["audit"]
    with audited(session, PROCEDURE, {"batch_id": batch_id}, f"{audit_schema}.PROCEDURE_RUNS") as audit:
        if batch_id:
            require_landed(session, landing_schema, batch_id)
        batches = [batch_id] if batch_id else pending_batches(session, landing_schema, vault_schema)
        totals: dict[str, int] = {}
        already = []
        for b in batches:
            load = load_batch(session, b, audit.run_id, landing_schema, vault_schema, audit_schema, lock_wait_seconds)
            already += [b] if load.already_loaded else []
            for table, n in load.inserted.items():
                totals[table] = totals.get(table, 0) + n
        summary: Summary = {"batches": batches, "already_loaded": already, "inserted": totals, "run_id": audit.run_id}
        audit.rows_written = sum(n for t, n in totals.items() if t != "quarantined")
        audit.result = summary
    return summary


def main(session: Any, batch_id: str = "") -> Summary:
    """Stored procedure handler for LOAD_VAULT.

    Args:
        batch_id: one batch to load, e.g. ``B20260105``; default: every ingested batch
            not loaded yet, oldest first. Loading a batch again inserts nothing.
    """
    return run(session, batch_id=batch_id)
