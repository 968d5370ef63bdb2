"""Audit rows for stored-procedure runs (table ``AUDIT.PROCEDURE_RUNS``, see sql/030_audit.sql)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from procedures.errors import UserError

QUALIFIED = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


class ArgumentError(UserError, ValueError):
    """A procedure argument that cannot be used; the message names it."""


# in the landing schema: every data file ingestion loaded (procedures/ingest.py writes it)
INGESTED_FILES = "INGESTED_FILES"


class UnknownBatch(ArgumentError):
    """A batch id that names no landed file: loading or validating it would record a
    batch that never arrived (and stretch the business vault's snapshots to its date)."""


def require_landed(session: Any, landing_schema: str, batch_id: str) -> None:
    """Refuse ``batch_id`` unless ingestion landed at least one of its files (an empty
    extract counts: a quiet day is a delivery)."""
    table = f"{checked_name(landing_schema, 'landing_schema')}.{INGESTED_FILES}"
    found = session.sql(
        f"SELECT COUNT(*) FROM {table} WHERE batch_id = ? AND status = 'LOADED'", params=[batch_id]
    ).collect()
    if int(found[0][0]):
        return
    known = session.sql(
        f"SELECT MIN(batch_id), MAX(batch_id), COUNT(DISTINCT batch_id) FROM {table} WHERE status = 'LOADED'"
    ).collect()
    first, last, n = known[0] if known else (None, None, 0)
    shown = f"{first} to {last} ({n} batches)" if n else "none yet"
    raise UnknownBatch(
        f"batch {batch_id} has no landed files in {table}: nothing to do (landed batches: {shown}); check the id, "
        "or ingest the batch first"
    )


def checked_name(value: str, argument: str) -> str:
    """An object name from a caller, accepted only as plain dotted identifiers."""
    if not QUALIFIED.match(value or ""):
        raise ArgumentError(f"{argument} must be a plain object name like SCHEMA.TABLE, got {value!r}")
    return value


def checked_schemas(schemas: Mapping[str, str] | None, *keys: str) -> dict[str, str]:
    """The schemas a procedure works in, by key (``landing``, ``vault``, ...): each named in
    ``schemas`` or, by default, the key in upper case (the lake's own names); every name
    checked."""
    names = {key: key.upper() for key in keys} | dict(schemas or {})
    for key, name in names.items():
        checked_name(name, f"the {key} schema")
    return names


def checked_batch_id(value: str) -> str:
    """A batch id from a caller: empty (every pending batch) or like B20260105."""
    if value and not (value.startswith("B") and value[1:].isdigit() and len(value) == 9):
        raise ArgumentError(f"batch_id must look like B20260105, got {value!r}")
    return value


@dataclass
class Run:
    procedure: str
    arguments: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    rows_written: int = 0
    result: Mapping[str, Any] = field(default_factory=dict)  # what the procedure returns


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


@contextmanager
def audited(session: Any, procedure: str, arguments: dict[str, Any], table: str) -> Iterator[Run]:
    """Record one row for the run, whether it succeeds or fails (the error is re-raised)."""
    run = Run(procedure, arguments)
    status, error = "SUCCEEDED", None
    try:
        yield run
    except Exception as err:
        status, error = "FAILED", f"{type(err).__name__}: {err}"
        raise
    finally:
        finished = datetime.now(UTC).replace(tzinfo=None)
        session.sql(
            f"INSERT INTO {checked_name(table, 'audit_table')} (run_id, procedure_name, arguments, "
            "started_at, finished_at, status, rows_written, result, error) "
            "VALUES (?, ?, ?, TO_TIMESTAMP_NTZ(?), TO_TIMESTAMP_NTZ(?), ?, ?, ?, ?)",
            params=[
                run.run_id,
                procedure,
                json.dumps(arguments, default=str, sort_keys=True),
                _ts(run.started_at),
                _ts(finished),
                status,
                run.rows_written,
                json.dumps(run.result, default=str, sort_keys=True),
                error,
            ],
        ).collect()
