"""``CALL ERASE_SUBJECT(customer_id, request_id)``: forget a client's contact people.

In one transaction: every personal value of the subject (``procedures/erasure.py``) is
overwritten with NULL wherever the lake's tables hold it, by key, in all history; the
subject is added to the erasure register, so later loads keep it erased; and a row goes to
``AUDIT.ERASURE_LOG``. The subject's keys, links, non-personal history and counts stay.

Then, with ``verify``, every text column of every table in the lake's schemas is scanned
for the subject's former identifying values, which were read before the erasure and are
held only in this call's memory; the log row records the matches left (zero, or the
erasure failed and was rolled back). A value other clients hold too is not the person's
alone and is not searched for (``former_values``).

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
    files: NotRequired[dict[str, Any]]


class ErasureError(ArgumentError):
    """An erasure that cannot run, or whose verification found values left."""


def former_values(session: Any, hk: str, schemas: dict[str, str]) -> set[str]:
    """The subject's identifying values, from the landing rows (everything loaded came
    from them): held in memory for the verification, never written. A value another
    client's rows hold too (an office's street address, a shared switchboard number) does
    not identify the person and stays where the other client has it, so it is not
    searched for: only the subject's own values are."""
    values: set[str] = set()
    for place in erasure.places():
        columns = [c for c in place.entity.columns if c.name in place.columns and c.pii in IDENTIFYING]
        if not columns:
            continue
        table = f"{quote(schemas['landing'])}.{quote(landing_table(place.entity))}"
        is_subject = erasure.is_subject(place.subject_column, hk)
        for column in columns:
            name = f"UPPER(TRIM({quote(column.name)}))"
            own = session.sql(
                f"SELECT DISTINCT {name} FROM {table} WHERE {is_subject} AND {name} IS NOT NULL "
                f"AND {name} NOT IN (SELECT {name} FROM {table} WHERE NOT ({is_subject}) AND {name} IS NOT NULL)"
            ).collect()
            values |= {str(r[0]) for r in own if len(str(r[0])) >= 4}
    return values


def scan(session: Any, values: set[str], schemas: dict[str, str]) -> dict[str, int]:
    """Per table of the lake's schemas, the rows where a text column holds one of ``values``
    (trimmed, case-insensitive); only tables with a match are listed."""
    if not values:
        return {}
    found: dict[str, int] = {}
    wanted = ", ".join(sql_literal(v.upper()) for v in sorted(values))
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
            by_table.setdefault(str(table), []).append(str(column))
        for table, names in by_table.items():
            hit = " OR ".join(f"UPPER(TRIM({quote(c)})) IN ({wanted})" for c in names)
            rows = int(session.sql(f"SELECT COUNT(*) FROM {quote(schema)}.{quote(table)} WHERE {hit}").collect()[0][0])
            if rows:
                found[f"{schema}.{table}"] = rows
    return found


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
        hub = f"{quote(schemas['vault'])}.HUB_CUSTOMER"
        if not session.sql(f"SELECT 1 FROM {hub} WHERE CUSTOMER_HK = {sql_literal(hk)}").collect():
            raise ErasureError(
                f"customer_id {customer_id!r} is not in {schemas['vault']}.HUB_CUSTOMER: nothing to erase"
            )
        values = former_values(session, hk, schemas) if verify else set()
        before = scan(session, values, schemas) if verify else {}
        erased: dict[str, int] = {}
        # a mart dbt has not built yet (or a Native App, which runs no dbt) holds nothing
        unbuilt = {
            f"{schemas[layer]}.{model}"
            for layer, model, *_ in erasure.MARTS
            if model not in _existing(session, schemas[layer])
        }
        session.sql("BEGIN").collect()
        try:
            for place, sql in erasure.statements(hk, schemas):
                if place in unbuilt:
                    continue
                changed = int(session.sql(sql).collect()[0][0])
                erased[place] = erased.get(place, 0) + changed
            register = f"{quote(schemas['audit'])}.{erasure.REGISTER_TABLE}"
            session.sql(
                f"INSERT INTO {register} (customer_hk, customer_id, request_id, erased_at) SELECT ?, ?, ?, SYSDATE()",
                params=[hk, customer_id.strip(), request_id],
            ).collect()
            after = scan(session, values, schemas) if verify else {}
            status = "ERASED" if not after else "FAILED"
            session.sql(
                f"INSERT INTO {quote(schemas['audit'])}.ERASURE_LOG (request_id, customer_id, customer_hk, "
                "requested_by, erased_at, erased, rows_erased, verification, status) "
                "SELECT ?, ?, ?, ?, SYSDATE(), ?, ?, ?, ?",
                params=[
                    request_id,
                    customer_id.strip(),
                    hk,
                    requested_by or None,
                    json.dumps(erased, sort_keys=True),
                    sum(erased.values()),
                    json.dumps({"values_checked": len(values), "found_before": before, "found_after": after}),
                    status,
                ],
            ).collect()
            if after:
                raise ErasureError(f"values of {customer_id!r} are still in {sorted(after)} after erasure")
            session.sql("COMMIT").collect()
        except Exception:
            session.sql("ROLLBACK").collect()
            raise
        audit.rows_written = sum(erased.values())
        summary: Summary = {
            "customer_id": customer_id.strip(),
            "request_id": request_id,
            "erased": {k: v for k, v in erased.items() if v},
            "rows_erased": sum(erased.values()),
            "verified": verify,
            "values_checked": len(values),
            "found_before": before,
            "found_after": after,
            "seconds": round(time.perf_counter() - started, 3),
        }
        audit.result = summary
    return summary


def main(session: Any, customer_id: str, request_id: str, verify: bool = True) -> Summary:
    """Stored procedure handler for ERASE_SUBJECT.

    Args:
        customer_id: the client whose contact people's personal data is erased.
        request_id: the erasure request's reference (kept in AUDIT.ERASURE_LOG).
        verify: scan every table for the former values before and after (slower).
    """
    return run(session, customer_id, request_id, verify)
