"""SQL text helpers every module that writes SQL shares: identifiers, literals, the
generated files' table DDL, the one-row seed of a lock table, and what a lock conflict
looks like."""

from __future__ import annotations

import re
from collections.abc import Sequence


def quote(identifier: str) -> str:
    """A spec identifier, validated, as an unquoted upper-case Snowflake name."""
    if not identifier.replace("_", "").isalnum() or identifier[0].isdigit():
        raise ValueError(f"not a plain identifier: {identifier!r}")
    return identifier.upper()


def sql_literal(value: str) -> str:
    """A Snowflake string literal (quotes doubled, backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def create_table_ddl(
    schema: str, name: str, columns: list[tuple[str, str]], comment: str, cluster: Sequence[str] = ()
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` in ``<% database %>.<% <schema>_schema %>``, as the
    generated sql/ files write it."""
    body = ",\n".join(f"    {quote(col)} {kind}" for col, kind in columns)
    clustered = f"\n    CLUSTER BY ({', '.join(quote(c) for c in cluster)})" if cluster else ""
    return (
        f"CREATE TABLE IF NOT EXISTS <% database %>.<% {schema}_schema %>.{quote(name)} (\n{body}\n)"
        f"{clustered}\n    COMMENT = {sql_literal(comment)};"
    )


def seed_row_sql(table: str, column: str, value: str) -> str:
    """The one row a lock table needs, inserted once (safe to run again)."""
    return (
        f"INSERT INTO {table} ({column})\n"
        f"    SELECT '{value}' WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {column} = '{value}');\n"
    )


# a lock row another writer holds: Snowflake makes the second writer wait (and reports a
# timeout as a lock error), the local engine refuses it at once ("Conflict on update")
LOCK_CONFLICT = re.compile(r"conflict|lock", re.IGNORECASE)
