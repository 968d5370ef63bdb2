"""``CALL ERASE_SUBJECT(customer_id, request_id)``: forget a client's contact people.

In one transaction: every personal value of the subject (``procedures/erasure.py``) is
overwritten with NULL wherever the lake's tables hold it, by key, in all history; the
subject is added to the erasure register, so later loads keep it erased; and a row goes to
``AUDIT.ERASURE_LOG``. The subject's keys, links, non-personal history and counts stay.

Then, with ``verify``, every text column of every table in the lake's schemas is scanned
for the subject's former identifying values, which were copied before the erasure into a
transient table of this run without Time Travel, compared by a semi-join (never written
into a statement or bound to one: Snowflake keeps both in its query history) and dropped
at the end; the log row records the matches left (zero, or the erasure failed and was
rolled back). A value another client holds anywhere in the landing tables is not the
person's alone and is not searched for (``values_sql``). A subject is known when its hub
or any landing row names it (a delivery not loaded yet, a quarantined row). Every run
adds its own ``AUDIT.ERASURE_LOG`` row (``run_id``); running a request id again is
recorded as a repeat (``repeat_of``), never over the earlier proof.

It runs with owner's rights ("The default is owner's rights",
https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights, which
also lists what such a procedure may not do to the caller's session) and changes no
session state: no USE, no ALTER SESSION, no session variable; every name is qualified.
"""

from __future__ import annotations

import json
import time
from typing import Any, NotRequired, TypedDict

from procedures import erasure
from procedures import vault as vault_spec
from procedures.audit import ArgumentError, audited, checked_schemas
from procedures.ingest import landing_table
from procedures.sql import quote, sql_literal

PROCEDURE = "ERASE_SUBJECT"
# the personal classes whose values identify one person on their own; a first name, a
# postcode or a birth date alone is also someone else's, so the scan looks for these
IDENTIFYING = ("email", "phone", "tax_id", "address")
SCHEMA_KEYS = ("landing", "vault", "quality", "audit", "bronze", "silver", "gold")


class Summary(TypedDict):
    """What ERASE_SUBJECT returns: rows overwritten per place, whether the tables were
    searched for the former values, and where they were found before and after (table:
    rows). ``lake erase`` adds what it did to the landing files under ``files``."""

    customer_id: str
    request_id: str
    erased: dict[str, int]  # rows overwritten per place: {"LANDING.CUSTOMERS": 1, ...}
    rows_erased: int
    # the verification: former values searched, and the tables holding them (table: rows)
    verified: bool
    values_checked: int
    found_before: dict[str, int]
    found_after: dict[str, int]  # empty, or the erasure was rolled back
    seconds: float
    run_id: str  # the ERASE_SUBJECT run: its AUDIT.ERASURE_LOG row
    repeat_of: int  # earlier runs of the same request id (a repeat adds its own proof row)
    files: NotRequired[dict[str, Any]]


class ErasureError(ArgumentError):
    """An erasure that cannot run, or whose verification found values left."""


VALUES_TABLE = "ERASURE_VALUES"


def values_sql(hk: str, schemas: dict[str, str]) -> str:
    """A SELECT of the subject's identifying values (one column, VALUE: trimmed,
    upper-case, four characters or more), from the landing rows (everything loaded came
    from them), leaving out every value another client's rows hold in any landing table
    (an office's street address, a switchboard number that is also another client's
    contact's phone): those are not the person's alone and stay where the others have
    them. Its text holds the subject's hash key and no value."""
    own: list[str] = []
    others: list[str] = []
    for place in erasure.places():
        table = f"{quote(schemas['landing'])}.{quote(landing_table(place.entity))}"
        is_subject = erasure.is_subject(place.subject_column, hk)
        for column in (c for c in place.entity.columns if c.name in place.columns and c.pii in IDENTIFYING):
            value = f"UPPER(TRIM({quote(column.name)}))"
            own.append(f"SELECT {value} AS VALUE FROM {table} WHERE {is_subject} AND LENGTH({value}) >= 4")
            others.append(f"SELECT {value} AS VALUE FROM {table} WHERE NOT ({is_subject}) AND {value} IS NOT NULL")
    return f"SELECT VALUE FROM ({' UNION '.join(own)}) EXCEPT SELECT VALUE FROM ({' UNION '.join(others)})"


def former_values(session: Any, hk: str, schemas: dict[str, str]) -> set[str]:
    """``values_sql``'s values, into this process's memory (``lake erase`` searches the
    landing files for them; they are never written into a statement)."""
    return {str(r[0]) for r in session.sql(values_sql(hk, schemas)).collect()}


def scan(session: Any, values_table: str | None, schemas: dict[str, str]) -> dict[str, int]:
    """Per table of the lake's schemas, the rows where a text column holds a value of
    ``values_table`` (trimmed, case-insensitive); only tables with a match are listed.

    The values are compared inside the warehouse, by a semi-join with the table that
    holds them: never written into a statement's text, nor bound to one. Snowflake keeps
    both: the text in QUERY_HISTORY (ACCOUNT_USAGE, 365 days), and "bind_values: Values
    of bind variables used in this query" in the same views unless the account sets
    ALLOW_BIND_VALUES_ACCESS = FALSE
    (https://docs.snowflake.com/en/release-notes/bcr-bundles/2025_06/bcr-1980-2050,
    https://docs.snowflake.com/en/sql-reference/functions/bind_values)."""
    if values_table is None:
        return {}
    found: dict[str, int] = {}
    holder = values_table.rsplit(".", 1)[-1].upper()
    wanted = f"(SELECT VALUE FROM {values_table})"
    for key in SCHEMA_KEYS:
        schema = schemas[key]
        # a VARCHAR column's DATA_TYPE reads TEXT in Snowflake's information schema, as in the
        # local engine; VARCHAR is kept too, since a type the scan missed would pass unseen
        columns = session.sql(
            "SELECT table_name, column_name FROM information_schema.columns "
            f"WHERE table_schema = {sql_literal(schema.upper())} AND data_type IN ('TEXT', 'VARCHAR') "
            "ORDER BY table_name, ordinal_position"
        ).collect()
        by_table: dict[str, list[str]] = {}
        for table, column in columns:
            if str(table).upper() != holder:
                by_table.setdefault(str(table), []).append(str(column))
        for table, names in by_table.items():
            hit = " OR ".join(f"UPPER(TRIM({quote(c)})) IN {wanted}" for c in names)
            rows = int(session.sql(f"SELECT COUNT(*) FROM {quote(schema)}.{quote(table)} WHERE {hit}").collect()[0][0])
            if rows:
                found[f"{schema}.{table}"] = rows
    return found


def _holding(session: Any, hk: str, schemas: dict[str, str], run_id: str) -> tuple[str, int]:
    """A table of this run holding the subject's former values (``values_sql``), for the
    verification, and how many: transient and without Time Travel, so once dropped (at the
    end of the run, whatever its outcome) nothing keeps them
    (https://docs.snowflake.com/en/user-guide/tables-temp-transient: a transient table has no
    Fail-safe; DATA_RETENTION_TIME_IN_DAYS = 0 gives it no Time Travel). Created before the
    erasure's transaction: DDL would commit it."""
    table = f"{quote(schemas['audit'])}.{VALUES_TABLE}_{run_id[:16].upper()}"
    session.sql(
        f"CREATE TRANSIENT TABLE {table} DATA_RETENTION_TIME_IN_DAYS = 0 AS {values_sql(hk, schemas)}"
    ).collect()
    return table, int(session.sql(f"SELECT COUNT(*) FROM {table}").collect()[0][0])


def known(session: Any, hk: str, schemas: dict[str, str]) -> bool:
    """Whether the lake holds the subject anywhere: its hub, or a landing row naming it
    (a first delivery not loaded yet, a row the loader quarantined)."""
    hub = f"SELECT 1 FROM {quote(schemas['vault'])}.HUB_CUSTOMER WHERE CUSTOMER_HK = {sql_literal(hk)}"
    if session.sql(hub).collect():
        return True  # the usual case, found by key; the landing tables are read only when not
    places = [
        f"SELECT 1 FROM {quote(schemas['landing'])}.{quote(landing_table(p.entity))} "
        f"WHERE {erasure.is_subject(p.subject_column, hk)}"
        for p in erasure.places()
    ]
    return bool(session.sql(f"SELECT 1 FROM ({' UNION ALL '.join(places)}) LIMIT 1").collect())


def _existing(session: Any, schema: str) -> set[str]:
    rows = session.sql(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = {sql_literal(schema.upper())}"
    ).collect()
    return {str(r[0]).upper() for r in rows}


def run(
    session: Any,
    customer_id: str,
    request_id: str,
    verify: bool = True,
    schemas: dict[str, str] | None = None,
    requested_by: str = "",
) -> Summary:
    if not (customer_id or "").strip():
        raise ErasureError("customer_id is required: the client whose contact people are erased")
    if not (request_id or "").strip():
        raise ErasureError("request_id is required: the erasure request's reference, kept in AUDIT.ERASURE_LOG")
    schemas = checked_schemas(schemas, *SCHEMA_KEYS)
    hk = vault_spec.hash_key(customer_id)
    audit_table = f"{quote(schemas['audit'])}.PROCEDURE_RUNS"
    arguments = {"customer_id": customer_id, "request_id": request_id, "verify": verify}
    with audited(session, PROCEDURE, arguments, audit_table) as audit:
        started = time.perf_counter()
        if not known(session, hk, schemas):
            raise ErasureError(
                f"customer_id {customer_id!r} is neither in {schemas['vault']}.HUB_CUSTOMER nor in a landing table "
                f"({', '.join(p.entity.name for p in erasure.places())}): nothing to erase"
            )
        log = f"{quote(schemas['audit'])}.ERASURE_LOG"
        repeat_of = int(
            session.sql(f"SELECT COUNT(*) FROM {log} WHERE request_id = ?", params=[request_id]).collect()[0][0]
        )
        holding, values_checked = _holding(session, hk, schemas, audit.run_id) if verify else (None, 0)
        try:
            summary = _erase(
                session, customer_id, request_id, hk, schemas, (holding, values_checked), requested_by, audit.run_id
            )
        finally:
            if holding is not None:
                session.sql(f"DROP TABLE IF EXISTS {holding}").collect()
        summary |= {
            "values_checked": values_checked,
            "run_id": audit.run_id,
            "repeat_of": repeat_of,
            "seconds": round(time.perf_counter() - started, 3),
        }
        audit.rows_written = summary["rows_erased"]
        audit.result = summary
    return summary


def _erase(
    session: Any,
    customer_id: str,
    request_id: str,
    hk: str,
    schemas: dict[str, str],
    verification: tuple[str | None, int],
    requested_by: str,
    run_id: str,
) -> Summary:
    """The erasure's one transaction: every place overwritten, the register, the proof.
    ``verification``: the table of the former values (None: no verification) and how many."""
    holding, values = verification
    before = scan(session, holding, schemas)
    erased: dict[str, int] = {}
    # a mart dbt has not built yet (or a Native App, which runs no dbt) holds nothing
    unbuilt = {
        f"{schemas[layer]}.{model}"
        for layer, model, *_ in erasure.MARTS
        if model not in _existing(session, schemas[layer])
    }
    log = f"{quote(schemas['audit'])}.ERASURE_LOG"
    session.sql("BEGIN").collect()
    try:
        for place, sql in erasure.statements(hk, schemas):
            if place in unbuilt:
                continue
            changed = int(session.sql(sql).collect()[0][0])
            erased[place] = erased.get(place, 0) + changed
        register = f"{quote(schemas['audit'])}.{erasure.REGISTER_TABLE}"
        session.sql(
            f"INSERT INTO {register} (customer_hk, customer_id, request_id, erased_at) SELECT ?, ?, ?, SYSDATE() "
            f"WHERE NOT EXISTS (SELECT 1 FROM {register} WHERE customer_hk = ?)",
            params=[hk, customer_id.strip(), request_id, hk],
        ).collect()
        after = scan(session, holding, schemas)
        status = "ERASED" if not after else "FAILED"
        session.sql(
            f"INSERT INTO {log} (request_id, customer_id, customer_hk, requested_by, erased_at, erased, rows_erased, "
            "verification, status, run_id, repeat_of) "
            f"SELECT ?, ?, ?, ?, SYSDATE(), ?, ?, ?, ?, ?, (SELECT COUNT(*) FROM {log} WHERE request_id = ?)",
            params=[
                request_id,
                customer_id.strip(),
                hk,
                requested_by or None,
                json.dumps(erased, sort_keys=True),
                sum(erased.values()),
                json.dumps({"values_checked": values, "found_before": before, "found_after": after}),
                status,
                run_id,
                request_id,
            ],
        ).collect()
        if after:
            raise ErasureError(f"values of {customer_id!r} are still in {sorted(after)} after erasure")
        session.sql("COMMIT").collect()
    except Exception:
        session.sql("ROLLBACK").collect()
        raise
    return {
        "customer_id": customer_id.strip(),
        "request_id": request_id,
        "erased": {k: v for k, v in erased.items() if v},
        "rows_erased": sum(erased.values()),
        "verified": holding is not None,
        "values_checked": 0,
        "found_before": before,
        "found_after": after,
        "seconds": 0.0,
        "run_id": run_id,
        "repeat_of": 0,
    }


def main(session: Any, customer_id: str, request_id: str, verify: bool = True) -> Summary:
    """Stored procedure handler for ERASE_SUBJECT.

    Args:
        customer_id: the client whose contact people's personal data is erased.
        request_id: the erasure request's reference (kept in AUDIT.ERASURE_LOG).
        verify: scan every table for the former values before and after (slower).
    """
    return run(session, customer_id, request_id, verify)
