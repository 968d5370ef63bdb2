"""Bridges between the pinned fakesnow (0.11.18) and what the platform needs locally.

Pinned because it is the last release that runs on DuckDB 1.5.5, the last DuckDB whose
httpfs extension is on PyPI, which lets the local COPY read the moto S3 bucket for real.
Two gaps of that release are bridged here, in one tested place, never in the
procedures' SQL:

* SQL ``BEGIN`` in server mode: the statement runs, but the server then describes its
  result with ``DESCRIBE BEGIN`` and fails ("Table with name BEGIN does not exist").
  Fixed upstream in 0.12; here a transaction statement describes as a status row.
* ``LIST @stage`` parses only for an unqualified stage name (sqlglot 30.17), and on an
  external S3 stage answers with an error. Here ``LIST @db.schema.stage/sub/path/``
  lists the stage's prefix through DuckDB's httpfs, with Snowflake's columns
  (name, size, md5, last_modified).
* Stages, file formats and table comments live in fakesnow's ``_fs_global`` catalog,
  which is in memory even when the databases are files: a restarted server forgot the
  landing stage. ``persist_global`` keeps that catalog in a file beside the databases.
* A statement the server cannot parse came back as HTTP 500, which the connector
  retries; here it reaches the cursor, which answers with Snowflake's syntax error.
"""

from __future__ import annotations

import importlib
import re
import threading
from pathlib import Path
from typing import Any

import fakesnow.cursor
import fakesnow.transforms.stage as stage
from fakesnow.instance import FakeSnow
from sqlglot import errors, exp

# the package's `server` function shadows its `server` module as an attribute
fakesnow_server: Any = importlib.import_module("fakesnow.server")

LIST_STATEMENT = re.compile(r"^\s*(?:LIST|LS)\s+@([A-Za-z0-9_$.\"]+?)(/[^\s;]*)?\s*;?\s*$", re.IGNORECASE)
_list_path = threading.local()


def parse_list(sql: str) -> exp.Expr | None:
    """``LIST @a.b.c/path/`` as fakesnow's transform expects it (LIST aliased to a Var),
    remembering the sub-path for this thread. None for any other statement."""
    match = LIST_STATEMENT.match(sql)
    if not match:
        return None
    _list_path.value = (match.group(2) or "/").lstrip("/")
    return exp.Alias(
        this=exp.Column(this=exp.Identifier(this="LIST", quoted=False)),
        alias=exp.Parameter(this=exp.Var(this=match.group(1))),
    )


_applied = False


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


def apply(instance: FakeSnow) -> None:
    """Patch fakesnow for this process; ``instance`` is the server's shared database."""
    global _applied
    if _applied:
        return
    _applied = True

    cursor_cls = fakesnow.cursor.FakeSnowflakeCursor
    describe_last = cursor_cls._describe_last_sql

    def describe_last_sql(self: Any) -> list:
        if isinstance(self._last_transformed, exp.Transaction):
            self._last_sql = fakesnow.cursor.SQL_SUCCESS
            self._last_params = None
        return describe_last(self)

    cursor_cls._describe_last_sql = describe_last_sql  # type: ignore[method-assign]

    cursor_parse = fakesnow.cursor.parse_one

    def parse_in_cursor(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        return parse_list(sql) or cursor_parse(sql, *args, **kwargs)

    fakesnow.cursor.parse_one = parse_in_cursor  # type: ignore[assignment]

    server_parse = fakesnow_server.parse_one

    def parse_in_server(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        # the server parses only to learn the statement type; on a syntax error let the
        # cursor parse again and answer with a proper error instead of HTTP 500
        try:
            return parse_list(sql) or server_parse(sql, *args, **kwargs)
        except errors.ParseError:
            return exp.select("1")

    fakesnow_server.parse_one = parse_in_server

    internal_list_sql = stage.list_stage_files_sql

    def list_stage_files_sql(stage_name: str) -> str:
        database, schema, name = stage_name.split(".")
        with instance.duck_conn.cursor() as cur:
            row = cur.execute(
                "select url from _fs_global._fs_information_schema._fs_stages "
                "where database_name = ? and schema_name = ? and name = ?",
                (database, schema, name),
            ).fetchone()
        url = row[0] if row else None
        if not url or not url.startswith("s3://"):
            return internal_list_sql(stage_name)
        prefix = (url if url.endswith("/") else url + "/") + getattr(_list_path, "value", "")
        quoted = (prefix + "**").replace("'", "''")
        return f"""
            select filename as name, size, md5(content) as md5,
                   strftime(last_modified, '%a, %d %b %Y %H:%M:%S GMT') as last_modified
            from read_blob('{quoted}')
            order by name
        """

    stage.list_stage_files_sql = list_stage_files_sql
