"""``CALL REPLAY(from_date, to_date)``: reprocess a range of delivery days.

After a fix (a corrected mapping, a new rule), the days it touches are run again: for each
day from ``from_date`` to ``to_date`` (inclusive, ``YYYY-MM-DD``), its batch (``B`` and the
date) is ingested again from the files the landing zone still holds, then loaded into
the vault again. The rest of the pipeline (validation, the marts, publishing, the run's
record and notification) is a graph run after it: ``lake replay`` starts it (locally it
walks the graph; on Snowflake it runs ``EXECUTE TASK <audit>.LAKE_PIPELINE_ROOT``,
https://docs.snowflake.com/en/sql-reference/sql/execute-task), and a worksheet user runs
that statement after the CALL. The procedure does not start the graph itself: an
owner's-rights procedure may run SELECT, DML, DDL, GRANT/REVOKE, DESCRIBE and SHOW, and
EXECUTE TASK is none of them. Replaying is idempotent: ingestion
skips a file it loaded before (COPY's load history), and the vault loader inserts only
rows whose content differs from what the vault holds, so a replay of loaded days changes
nothing unless the code or the rules changed.

A day cannot be replayed when the landing zone no longer holds its control file: either
its files expired (the landing bucket's lifecycle rule deletes them after
``LANDING_FILE_DAYS``; the vault keeps what was loaded) or nothing was delivered that day.
The summary names both kinds of day, and replays the others.

"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, TypedDict

from procedures import landing
from procedures.audit import ArgumentError, audited, checked_name, checked_schemas
from procedures.handlers import ingest_landing, load_vault
from procedures.ingest import CONTROL_TABLE, control_paths
from procedures.sql import quote

PROCEDURE = "REPLAY"
MAX_DAYS = 366


class Replayed(TypedDict):
    batch: str
    rows_landed: int
    vault_rows: int


class Summary(TypedDict):
    """What REPLAY returns: each day replayed, and the days it could not replay."""

    from_date: str
    to_date: str
    replayed: list[Replayed]
    files_gone: list[str]  # ingested before; the landing zone no longer holds the files
    not_delivered: list[str]  # no control file was ever seen for the day


def days(from_date: str, to_date: str) -> list[date]:
    """The days of the range, checked (ISO dates, in order, at most MAX_DAYS)."""
    try:
        first, last = date.fromisoformat(from_date), date.fromisoformat(to_date)
    except ValueError:
        raise ArgumentError(
            f"from_date and to_date must be dates like 2026-01-05, got {from_date!r}, {to_date!r}"
        ) from None
    if last < first:
        raise ArgumentError(f"to_date {to_date} is before from_date {from_date}")
    if (last - first).days >= MAX_DAYS:
        raise ArgumentError(f"a replay covers at most {MAX_DAYS} days; {from_date} to {to_date} is more: split it")
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def run(
    session: Any,
    from_date: str,
    to_date: str,
    stage: str = "",
    schemas: Mapping[str, str] | None = None,
) -> Summary:
    names = checked_schemas(schemas, "landing", "vault", "audit")
    landing_schema, audit_schema = names["landing"], names["audit"]
    wanted = days(from_date, to_date)
    stage = checked_name(stage or ingest_landing.landing_stage(session, landing_schema), "stage")
    arguments = {"from_date": from_date, "to_date": to_date}
    with audited(session, PROCEDURE, arguments, f"{audit_schema}.PROCEDURE_RUNS") as audit:
        held = {landing.batch_id_for_date(m["date"]) for _, m in control_paths(session, stage)}
        seen = {
            str(r[0])
            for r in session.sql(f"SELECT DISTINCT BATCH_ID FROM {quote(landing_schema)}.{CONTROL_TABLE}").collect()
        }
        summary: Summary = {
            "from_date": from_date,
            "to_date": to_date,
            "replayed": [],
            "files_gone": [],
            "not_delivered": [],
        }
        for day in wanted:
            batch = landing.batch_id_for(day)
            if batch not in held:
                summary["files_gone" if batch in seen else "not_delivered"].append(batch)
                continue
            landed = ingest_landing.run(session, batch_id=batch, stage=stage, schemas=names)
            loaded = load_vault.run(session, batch_id=batch, schemas=names)
            summary["replayed"].append(
                {
                    "batch": batch,
                    "rows_landed": int(landed["total_rows"]),
                    "vault_rows": sum(int(n) for t, n in loaded["inserted"].items() if t != "quarantined"),
                }
            )
        audit.rows_written = sum(r["vault_rows"] for r in summary["replayed"])
        audit.result = summary
    return summary


def main(session: Any, from_date: str, to_date: str) -> Summary:
    """Stored procedure handler for REPLAY.

    Args:
        from_date: the first delivery day to replay, e.g. ``2026-01-05``.
        to_date: the last one (inclusive).
    """
    return run(session, from_date, to_date)
