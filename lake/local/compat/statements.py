"""Statements fakesnow cannot run as they are: ``DROP DATABASE``, ``ALTER SCHEMA ... SWAP
WITH`` and a qualified ``CREATE TEMPORARY TABLE``.
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


def existing_table(expression: exp.Expr) -> exp.Expr:
    """``CREATE TABLE IF NOT EXISTS t`` when ``t`` exists: nothing happens, as on Snowflake
    ("t already exists, statement succeeded";
    https://docs.snowflake.com/en/sql-reference/sql/create-table, "IF NOT EXISTS").
    fakesnow runs the statement, then clears
    the table's COPY load history ("a newly created table object has no load history")
    even though nothing was created, so every `lake setup` made the next COPY of a loaded
    file load it again. Here such a statement never reaches fakesnow."""
    if not (
        isinstance(expression, exp.Create)
        and expression.kind == "TABLE"
        and expression.args.get("exists")
        and not expression.args.get("replace")
        and state.bound.instance is not None
    ):
        return expression
    table = expression.this.this if isinstance(expression.this, exp.Schema) else expression.this
    if not isinstance(table, exp.Table):
        return expression
    database, schema = state.session_context.get()
    catalog, db = (table.catalog or database or "").upper(), (table.db or schema or "").upper()
    with state.bound.instance.duck_conn.cursor() as cur:
        found = cur.execute(
            "SELECT 1 FROM information_schema.tables WHERE upper(table_catalog) = ? AND upper(table_schema) = ? "
            "AND upper(table_name) = ?",
            [catalog, db, table.name.upper()],
        ).fetchone()
    if not found:
        return expression
    status = f"{table.name.upper()} already exists, statement succeeded."
    return exp.select(exp.Literal.string(status).as_("status"))


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


SWAP_SCHEMA = re.compile(
    r"^\s*ALTER\s+SCHEMA\s+(IF\s+EXISTS\s+)?([\w$.\"]+)\s+SWAP\s+WITH\s+([\w$.\"]+)\s*;?\s*$", re.IGNORECASE
)


def _schema_name(dotted: str) -> tuple[str, str]:
    """``db.schema`` or ``schema`` (in the session's database) as (database, schema)."""
    parts = [p.strip('"').upper() for p in dotted.split(".")]
    if len(parts) == 2:
        return parts[0], parts[1]
    database, _ = state.session_context.get()
    if len(parts) != 1 or not database:
        raise errors.ParseError(f"ALTER SCHEMA ... SWAP WITH: cannot resolve schema {dotted!r}")
    return database.upper(), parts[0]


def swap_schema(sql: str) -> exp.Expr | None:
    """``ALTER SCHEMA a SWAP WITH b``, which DuckDB cannot run (it renames no schema and moves
    no table between schemas). Snowflake swaps the two schemas' contents in one step
    (https://docs.snowflake.com/en/sql-reference/sql/alter-schema): here every table and
    view changes schema by copy, inside one DuckDB transaction, so a reader sees either
    both schemas before the swap or both after, never a mix. Both schemas must exist and
    be in one database, as on Snowflake. fakesnow's column lengths and comments (its
    global catalog, a second database file DuckDB will not write in the same transaction)
    follow in a second transaction: lake/local/strict.py lists that difference."""
    match = SWAP_SCHEMA.match(sql)
    if not match or state.bound.instance is None:
        return None
    (db_a, a), (db_b, b) = _schema_name(match.group(2)), _schema_name(match.group(3))
    if db_a != db_b:
        raise errors.ParseError(f"ALTER SCHEMA {a} SWAP WITH {b}: both schemas must be in one database")
    conn = state.bound.instance.duck_conn
    with conn.cursor() as cur:
        found = {
            str(r[0]).upper()
            for r in cur.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE upper(catalog_name) = ? "
                "AND upper(schema_name) IN (?, ?)",
                [db_a, a, b],
            ).fetchall()
        }
        for name in (a, b):
            if name not in found:
                if match.group(1) and name == a:
                    return exp.select(exp.Literal.string("Statement executed successfully.").as_("status"))
                raise errors.ParseError(f"Schema '{db_a}.{name}' does not exist or not authorized.")

        def relations(schema: str) -> list[tuple[str, str]]:
            return [
                (str(name), str(kind))
                for name, kind in cur.execute(
                    "SELECT table_name, table_type FROM information_schema.tables "
                    "WHERE upper(table_catalog) = ? AND upper(table_schema) = ?",
                    [db_a, schema],
                ).fetchall()
            ]

        spare = f"_LAKE_SWAP_{a}"
        q = '"'
        cur.execute("BEGIN TRANSACTION")
        try:
            cur.execute(f"CREATE SCHEMA {db_a}.{q}{spare}{q}")
            moves = ((a, spare), (b, a), (spare, b))
            for source, target in moves:
                for name, kind in relations(source):
                    src, dst = f"{db_a}.{q}{source}{q}.{q}{name}{q}", f"{db_a}.{q}{target}{q}.{q}{name}{q}"
                    if kind == "VIEW":
                        raise errors.ParseError(
                            f"ALTER SCHEMA {a} SWAP WITH {b}: the local engine swaps tables only, and {source}.{name} "
                            "is a view"
                        )
                    cur.execute(f"CREATE TABLE {dst} AS FROM {src}")
                    cur.execute(f"DROP TABLE {src}")
            cur.execute(f"DROP SCHEMA {db_a}.{q}{spare}{q}")
            cur.execute("COMMIT")
        except BaseException as err:
            cur.execute("ROLLBACK")
            if isinstance(err, errors.ParseError | KeyboardInterrupt):
                raise
            # the cause reaches the client (the server would answer "Unhandled exception")
            raise errors.ParseError(f"ALTER SCHEMA {a} SWAP WITH {b} failed and changed nothing: {err}") from err
        # the catalog's rows follow their tables; three renames, as a single UPDATE that swaps
        # the two names would meet each row's primary key twice (both schemas hold a table
        # of the same name)
        cur.execute("BEGIN TRANSACTION")
        try:
            for table in ("_fs_tables_ext", "_fs_columns_ext"):
                for source, target in moves:
                    cur.execute(
                        f"UPDATE _fs_global._fs_information_schema.{table} SET ext_table_schema = ? "
                        "WHERE upper(ext_table_catalog) = ? AND upper(ext_table_schema) = ?",
                        [target, db_a, source],
                    )
            cur.execute("COMMIT")
        except Exception as err:
            cur.execute("ROLLBACK")
            raise errors.ParseError(
                f"ALTER SCHEMA {a} SWAP WITH {b}: the tables moved, their comments did not: {err}"
            ) from err
    return exp.select(exp.Literal.string("Statement executed successfully.").as_("status"))
