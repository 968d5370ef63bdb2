"""Stages fakesnow 0.11.18 lacks: ``LIST @db.schema.stage/path/`` over S3, ``INFER_SCHEMA``
of a staged file, and directory tables (``ALTER STAGE ... REFRESH`` snapshots the stage's
files; ``DIRECTORY(@stage)`` reads the snapshot).
"""

from __future__ import annotations

import re
import threading
import time

import duckdb
import fakesnow.transforms.stage as stage
from snowflake.connector.errors import ProgrammingError
from sqlglot import errors, exp

from lake.local.compat import state

LIST_STATEMENT = re.compile(r"^\s*(?:LIST|LS)\s+@([A-Za-z0-9_$.\"]+?)(/[^\s;]*)?\s*;?\s*$", re.IGNORECASE)


_list_path = threading.local()


INFER_SCHEMA = re.compile(
    r"\bINFER_SCHEMA\s*\(\s*LOCATION\s*=>\s*'@([A-Za-z0-9_$.\"]+)/([^']*)'\s*,"
    r"\s*FILE_FORMAT\s*=>\s*'([A-Za-z0-9_$.\"]+)'\s*\)",
    re.IGNORECASE,
)


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


def parse_infer_schema(sql: str) -> exp.Expr | None:
    """INFER_SCHEMA over one staged S3 file, answered from the file itself."""
    match = INFER_SCHEMA.search(sql)
    if not match:
        return None
    stage_name, path, format_name = match.groups()
    stage_row = state.catalog_row("_fs_stages", stage_name, "url")
    if stage_row is None:
        raise errors.ParseError(f"Stage '{stage_name}' does not exist or not authorized.")
    format_row = state.catalog_row("_fs_file_formats", format_name, "type")
    if format_row is None:
        raise errors.ParseError(f"File format '{format_name}' does not exist or not authorized.")
    url = str(stage_row[0]).rstrip("/") + "/" + path
    quoted = url.replace("'", "''")
    reader = {
        "PARQUET": f"read_parquet('{quoted}', hive_partitioning = false)",
        # the named format's delimiter (a comma, Snowflake's default), never a sniffed one
        "CSV": f"read_csv('{quoted}', header = true, sep = ',', all_varchar = true, hive_partitioning = false)",
        "JSON": f"read_json('{quoted}', format = 'newline_delimited', hive_partitioning = false)",
    }[str(format_row[0]).upper()]
    assert state.bound.instance is not None
    try:
        with state.bound.instance.duck_conn.cursor() as cur:
            size = cur.execute(f"select size from read_blob('{quoted}')").fetchone()
            # an empty file has no columns: Snowflake's INFER_SCHEMA answers no rows for it
            described = cur.execute(f"describe select * from {reader}").fetchall() if size and size[0] else []
    except duckdb.Error as err:
        first_line = str(err).splitlines()[0]
        message = f"Cannot infer the schema of '@{stage_name}/{path}': {first_line}"
        raise ProgrammingError(msg=message, errno=100080) from None
    rows = [
        exp.Tuple(expressions=[exp.Literal.string(name), exp.Literal.string(kind), exp.Literal.number(order)])
        for order, (name, kind, *_) in enumerate(described)
    ]
    values = exp.Values(
        expressions=rows or [exp.Tuple(expressions=[exp.null(), exp.null(), exp.null()])],
        alias=exp.TableAlias(
            this=exp.to_identifier("t"),
            columns=[exp.to_identifier(c) for c in ("COLUMN_NAME", "TYPE", "ORDER_ID")],
        ),
    )
    select = exp.select("COLUMN_NAME", "TYPE", "ORDER_ID").from_(values).order_by("ORDER_ID")
    return select if rows else select.where("FALSE")


ALTER_STAGE_REFRESH = re.compile(r"^\s*ALTER\s+STAGE\s+([A-Za-z0-9_$.\"]+)\s+REFRESH\s*;?\s*$", re.IGNORECASE)


DIRECTORY = re.compile(r"\bDIRECTORY\s*\(\s*@([A-Za-z0-9_$.\"]+)\s*\)", re.IGNORECASE)


DIRECTORY_TABLE = "_fs_global._fs_information_schema._lake_stage_directory"


def _stage_url(stage_name: str) -> str:
    row = state.catalog_row("_fs_stages", stage_name, "url")
    if row is None:
        raise errors.ParseError(f"Stage '{stage_name}' does not exist or not authorized.")
    url = str(row[0] or "")
    return url if url.endswith("/") else url + "/"


def _ensure_directory_table() -> None:
    assert state.bound.instance is not None
    state.bound.instance.duck_conn.execute(
        f"CREATE TABLE IF NOT EXISTS {DIRECTORY_TABLE} (stage_url VARCHAR, relative_path VARCHAR, "
        "size BIGINT, last_modified TIMESTAMPTZ, md5 VARCHAR)"
    )


def refresh_directory(sql: str) -> exp.Expr | None:
    """``ALTER STAGE s REFRESH``: snapshot the stage's files as its directory table, as
    Snowflake does (the directory lists what the last refresh found). None for any other
    statement."""
    match = ALTER_STAGE_REFRESH.match(sql)
    if not match:
        return None
    url = _stage_url(match.group(1))
    _ensure_directory_table()
    assert state.bound.instance is not None
    quoted = (url + "**").replace("'", "''")
    for attempt in range(20):  # Snowflake serves concurrent refreshes; DuckDB conflicts, so retry
        with state.bound.instance.duck_conn.cursor() as cur:
            try:
                cur.execute("BEGIN")
                cur.execute(f"DELETE FROM {DIRECTORY_TABLE} WHERE stage_url = ?", [url])
                try:
                    cur.execute(
                        f"INSERT INTO {DIRECTORY_TABLE} SELECT ?, substr(filename, ?), size, last_modified, NULL "
                        f"FROM read_blob('{quoted}')",
                        [url, len(url) + 1],
                    )
                except duckdb.IOException as err:
                    if "No files found" not in str(err):
                        cur.execute("ROLLBACK")
                        raise ProgrammingError(msg=f"Cannot refresh '{match.group(1)}': {err}", errno=91016) from None
                cur.execute("COMMIT")
                break
            except duckdb.TransactionException:
                cur.execute("ROLLBACK")
                if attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))
    return exp.select(exp.Literal.string(f"refreshed {match.group(1)}").as_("status"))


def directory_sql(sql: str) -> str:
    """``DIRECTORY(@stage)`` in a query, as the stage's last refreshed snapshot with
    Snowflake's columns (RELATIVE_PATH, SIZE, LAST_MODIFIED, MD5)."""

    def table(match: re.Match[str]) -> str:
        url = _stage_url(match.group(1)).replace("'", "''")
        _ensure_directory_table()
        return (
            "(SELECT relative_path AS RELATIVE_PATH, size AS SIZE, last_modified AS LAST_MODIFIED, md5 AS MD5 "
            f"FROM {DIRECTORY_TABLE} WHERE stage_url = '{url}')"
        )

    return DIRECTORY.sub(table, sql)


def patch_list() -> None:
    """``LIST`` on an S3 stage lists its prefix (the sub-path ``parse_list`` remembered)
    through DuckDB's httpfs; an internal stage keeps fakesnow's listing."""
    internal_list_sql = stage.list_stage_files_sql

    def list_stage_files_sql(stage_name: str) -> str:
        row = state.catalog_row("_fs_stages", stage_name, "url")
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
