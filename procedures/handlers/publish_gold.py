"""``CALL PUBLISH_GOLD()``: put the validated gold build in front of readers, in one step.

Write-audit-publish. The task graph's dbt build writes gold into ``GOLD_PENDING``, where
readers have no USAGE; ``VALIDATE_DATA('gold', '', 'GOLD_PENDING')`` checks it there; and
only then this procedure swaps the two schemas:

    ALTER SCHEMA GOLD_PENDING SWAP WITH GOLD

"Swaps all objects (tables, views, etc.) and metadata, including identifiers, between the
two specified schemas" in a single statement
(https://docs.snowflake.com/en/sql-reference/sql/alter-schema), so a reader's query sees
the whole previous gold or the whole new one, never a mix. A failed gate stops the graph
before this task, and the gold readers see stays what the last published run left.

The swap carries each schema's grants with it. Readers' future grants are on both schemas
(sql/070), so the tables dbt built in GOLD_PENDING are readable; their USAGE is on GOLD only.
So: the USAGE grants GOLD holds are given to GOLD_PENDING, the schemas are swapped, and
the same grants are revoked from the schema now called GOLD_PENDING (the old gold). Locally
there are no grants (lake/local/unsupported.py) and the swap is lake/local/compat's.

Refuses (naming why) when the pending build lacks a gold table the rules check, or when
the last validation of the pending build did not pass: a CALL typed in a worksheet cannot
publish what was not validated.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypedDict

from procedures import quality
from procedures.audit import audited, checked_name, checked_schemas
from procedures.errors import UserError
from procedures.sql import quote, sql_literal

PROCEDURE = "PUBLISH_GOLD"
VALIDATOR = "VALIDATE_DATA"


class NotPublishable(UserError, RuntimeError):
    """The pending gold build cannot be published; the message says why and what to run."""


class Summary(TypedDict):
    """What PUBLISH_GOLD returns: the schema published, the tables it now holds with their
    rows, and the reader grants moved across the swap."""

    published: str
    tables: dict[str, int]
    grants_moved: list[str]


def gold_tables() -> list[str]:
    """The gold tables the quality rules check: a build without one of them is incomplete."""
    return sorted({r.table.upper() for r in quality.load_rules().rules if r.layer == "gold"})


def _tables(session: Any, schema: str) -> dict[str, int]:
    rows = session.sql(
        "SELECT UPPER(TABLE_NAME), ROW_COUNT FROM INFORMATION_SCHEMA.TABLES "
        f"WHERE UPPER(TABLE_SCHEMA) = {sql_literal(schema.upper())} AND TABLE_TYPE = 'BASE TABLE'"
    ).collect()
    return {str(r[0]): int(r[1] or 0) for r in rows}


def _last_validation(session: Any, audit_schema: str, pending: str) -> tuple[str, str] | None:
    """(status, error) of the last VALIDATE_DATA run on the pending build, if any."""
    marker = json.dumps({"gold_schema": pending.upper()})[1:-1]  # "gold_schema": "GOLD_PENDING"
    rows = session.sql(
        f"SELECT status, error FROM {quote(audit_schema)}.PROCEDURE_RUNS "
        f"WHERE procedure_name = '{VALIDATOR}' AND CONTAINS(arguments, {sql_literal(marker)}) "
        "ORDER BY started_at DESC LIMIT 1"
    ).collect()
    return (str(rows[0][0]), str(rows[0][1] or "")) if rows else None


def _usage_grants(session: Any, schema: str) -> set[tuple[str, str]]:
    """(grantee type, grantee) holding USAGE on ``schema`` (SHOW GRANTS, which an owner's-rights
    procedure may run: https://docs.snowflake.com/en/release-notes/2026/10_3). Locally there
    are none."""
    found = set()
    for row in session.sql(f"SHOW GRANTS ON SCHEMA {schema}").collect():
        fields = {k.lower(): v for k, v in row.as_dict().items()}
        if str(fields.get("privilege", "")).upper() == "USAGE" and fields.get("grantee_name"):
            found.add((str(fields.get("granted_to", "ROLE")).upper(), str(fields["grantee_name"])))
    return found


def run(
    session: Any,
    schemas: Mapping[str, str] | None = None,
    audit_schema: str = "AUDIT",
    database: str = "",
) -> Summary:
    names = checked_schemas(schemas, "gold", "gold_pending")
    checked_name(audit_schema, "audit_schema")
    if database:
        checked_name(database, "database")
    prefix = f"{database}." if database else ""
    gold, pending = f"{prefix}{quote(names['gold'])}", f"{prefix}{quote(names['gold_pending'])}"
    with audited(
        session, PROCEDURE, {"gold": names["gold"], "pending": names["gold_pending"]}, f"{audit_schema}.PROCEDURE_RUNS"
    ) as audit:
        built = _tables(session, names["gold_pending"])
        missing = [t for t in gold_tables() if t not in built]
        if missing:
            raise NotPublishable(
                f"{pending} lacks {', '.join(missing)}: the gold build is incomplete; readers keep the gold "
                f"in {gold}. Build it (the task graph's LAKE_DBT_GOLD) and validate it first"
            )
        last = _last_validation(session, audit_schema, names["gold_pending"])
        if last is None or last[0] != "SUCCEEDED":
            said = "was never validated" if last is None else f"failed its validation ({last[1][:300]})"
            raise NotPublishable(
                f"the gold build in {pending} {said}; readers keep the gold in {gold}. Run "
                f"CALL VALIDATE_DATA('gold', '', '{names['gold_pending']}') and publish when it passes"
            )
        readers = _usage_grants(session, gold) - _usage_grants(session, pending)
        for kind, grantee in sorted(readers):
            session.sql(f"GRANT USAGE ON SCHEMA {pending} TO {kind} {grantee}").collect()
        session.sql(f"ALTER SCHEMA {pending} SWAP WITH {gold}").collect()
        for kind, grantee in sorted(readers):
            session.sql(f"REVOKE USAGE ON SCHEMA {pending} FROM {kind} {grantee}").collect()
        summary: Summary = {
            "published": names["gold"].upper(),
            "tables": built,
            "grants_moved": [f"USAGE to {kind} {grantee}" for kind, grantee in sorted(readers)],
        }
        audit.rows_written = sum(built.values())
        audit.result = summary
    return summary


def main(session: Any) -> Summary:
    """Stored procedure handler for PUBLISH_GOLD: swaps the validated GOLD_PENDING with GOLD."""
    return run(session)
