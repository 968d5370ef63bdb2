"""Statements fakesnow cannot run as they are: ``DROP DATABASE``, and a qualified
``CREATE TEMPORARY TABLE``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import fakesnow.cursor
import fakesnow.transforms
from sqlglot import errors, exp

from lake.local.compat import state

DROP_DATABASE = re.compile(r"^\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?(\w+)\s*;?\s*$", re.IGNORECASE)


def drop_database(sql: str) -> exp.Expr | None:
    """``DROP DATABASE [IF EXISTS] name``, which fakesnow cannot run: the database is
    detached and its file deleted (no Time Travel locally, so no UNDROP), and the answer is
    Snowflake's status row. What ``lake app uninstall --local`` sends."""
    match = DROP_DATABASE.match(sql)
    if not match or state.bound.instance is None:
        return None
    name = match.group(2).upper()
    found = state.bound.instance.duck_conn.execute(
        "SELECT path FROM duckdb_databases() WHERE UPPER(database_name) = ?", [name]
    ).fetchone()
    if found is None:
        if match.group(1):
            return exp.select(
                exp.Literal.string(f"Drop statement executed successfully ({name} already dropped).").as_("status")
            )
        raise errors.ParseError(f"Database '{name}' does not exist or not authorized.")
    state.bound.instance.duck_conn.execute(f"DETACH DATABASE {name}")
    if found[0]:
        Path(found[0]).unlink(missing_ok=True)
    return exp.select(exp.Literal.string(f"{name} successfully dropped.").as_("status"))


def local_temporary(expression: exp.Expr) -> exp.Expr:
    """A qualified CREATE TEMPORARY TABLE as a plain table in that schema."""
    if isinstance(expression, exp.Create) and expression.kind == "TABLE":
        table = expression.this.this if isinstance(expression.this, exp.Schema) else expression.this
        properties = expression.args.get("properties")
        if isinstance(table, exp.Table) and table.db and properties is not None:
            for prop in list(properties.find_all(exp.TemporaryProperty)):
                prop.pop()
    return expression


def patch_transaction_status() -> None:
    """A transaction statement (BEGIN, COMMIT, ROLLBACK) describes as a status row, where
    fakesnow 0.11.18 in server mode ran ``DESCRIBE BEGIN`` and failed."""
    cursor_cls = fakesnow.cursor.FakeSnowflakeCursor
    describe_last = cursor_cls._describe_last_sql

    def describe_last_sql(self: Any) -> list:
        if isinstance(self._last_transformed, exp.Transaction):
            self._last_sql = fakesnow.cursor.SQL_SUCCESS
            self._last_params = None
        return describe_last(self)

    cursor_cls._describe_last_sql = describe_last_sql  # type: ignore[method-assign]
