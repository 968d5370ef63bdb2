"""The server's shared fakesnow instance, its cross-database catalog (stages, file
formats) kept in a file, and name lookups in that catalog that resolve a short name in
the session's database and schema, as Snowflake does.
"""

from __future__ import annotations

import contextvars
import importlib
import logging
from pathlib import Path
from typing import Any

import fakesnow.cursor
import fakesnow.transforms
from fakesnow.instance import FakeSnow

# the package's `server` function shadows its `server` module as an attribute
fakesnow_server: Any = importlib.import_module("fakesnow.server")


log = logging.getLogger("lake.local.compat")


class _Bound:
    """The server's shared fakesnow instance, once ``compat.apply`` has run."""

    instance: FakeSnow | None = None


bound = _Bound()


# the database and schema of the session whose statement is being parsed (set by the
# cursor's execute, below): a name of one or two parts resolves in them, as on Snowflake
session_context: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "lake_session_context", default=(None, None)
)


def catalog_row(table: str, dotted: str, columns: str) -> tuple[Any, ...] | None:
    """A stage or file format from fakesnow's catalog, by a name of one to three parts;
    shorter names resolve in the session's current database and schema."""
    assert bound.instance is not None, "compat.apply() was not called"
    parts = [p.strip('"').upper() for p in dotted.split(".")]
    database, schema = session_context.get()
    if len(parts) < 3 and database:
        parts = [database.upper(), *parts] if len(parts) == 2 else [database.upper(), (schema or "").upper(), *parts]
    where = " and ".join(f"upper({col}) = ?" for col in ("database_name", "schema_name", "name")[3 - len(parts) :])
    with bound.instance.duck_conn.cursor() as cur:
        return cur.execute(
            f"select {columns} from _fs_global._fs_information_schema.{table} where {where}", parts
        ).fetchone()


def persist_global(instance: FakeSnow, path: Path) -> None:
    """Move fakesnow's cross-database catalog (stages, file formats) into ``path``."""
    from fakesnow import info_schema
    from fakesnow.instance import GLOBAL_DATABASE_NAME
    from fakesnow.transforms import show

    conn = instance.duck_conn
    conn.execute(f"DETACH {GLOBAL_DATABASE_NAME}")
    conn.execute(f"ATTACH '{path}' AS {GLOBAL_DATABASE_NAME}")
    conn.execute(info_schema.fs_global_creation_sql())
    conn.execute(show.fs_global_creation_sql())


def patch_cursor_context() -> None:
    """Each statement runs with its session's database and schema in ``session_context``,
    for the catalog lookups above."""
    cursor_cls = fakesnow.cursor.FakeSnowflakeCursor
    execute = cursor_cls.execute

    def execute_in_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = session_context.set((self._conn.database, self._conn.schema))
        try:
            return execute(self, *args, **kwargs)
        finally:
            session_context.reset(token)

    cursor_cls.execute = execute_in_context  # type: ignore[method-assign]
