"""Bridges between the pinned fakesnow (0.11.18) and what the platform needs locally.

Pinned because it is the last release that runs on DuckDB 1.5.5, the last DuckDB whose
httpfs extension is on PyPI, which lets the local COPY read the moto S3 bucket for real.
The gaps of that release are bridged here, in one tested place, never in the
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
* DuckDB reads a path like ``.../load_date=2026-01-05/part-0000.csv`` as a Hive
  partition and adds a ``load_date`` column, so a positional CSV COPY gets one value too
  many. Snowflake adds no such column; here COPY reads with Hive partitioning off.
* COPY with a transformation (``COPY INTO t FROM (SELECT $1:col, $2,
  METADATA$FILENAME, METADATA$FILE_ROW_NUMBER FROM @stage) ...``) worked only for
  ``$1:name`` on Parquet, and JSON files not at all. ``copy_transformation`` supports
  ``$1:name`` (Parquet, JSON), ``$N`` (CSV, read as text like Snowflake does),
  METADATA$FILENAME (the file's path in the bucket, prefix included, as Snowflake
  gives it) and METADATA$FILE_ROW_NUMBER (exact for
  Parquet; read order for CSV and JSON, one file per statement), and ``TYPE = JSON``.
* ``TRY_CAST(x AS TIMESTAMP_NTZ)`` became the unsafe ``_fs_to_timestamp(x)`` (TryCast
  is a Cast to that transform), so one bad value failed the whole query instead of
  giving NULL. Here a TRY_CAST to a timestamp stays DuckDB's own TRY_CAST.
* A statement the server cannot parse came back as HTTP 500, which the connector
  retries; here it reaches the cursor, which answers with Snowflake's syntax error.
  Any other server-side failure is answered as a failed query (HTTP 200,
  ``success: false``) by ``server_fixes``, so the client reports it at once instead of
  retrying it until a timeout.
* ``INFER_SCHEMA`` (the columns of a staged file, before it is copied) is not in
  fakesnow. ``SELECT ... FROM TABLE(INFER_SCHEMA(LOCATION => '@stage/path', FILE_FORMAT
  => 'fmt')) ...`` is answered with Snowflake's COLUMN_NAME, TYPE and ORDER_ID for that
  file, read through DuckDB with the named file format's type (Parquet, CSV with a
  header line, newline-delimited JSON); a file DuckDB cannot read fails the query.
* A client that dies inside a transaction leaves it open on the server for good, with
  whatever it locked (a killed ``lake run``: the next load waits on its vault lock for
  ever). Snowflake aborts such a detached transaction once it has been idle for five
  minutes while blocking another. ``abort_idle_transactions`` does the local
  equivalent: a session with no request in flight for longer than the limit has its
  open transaction rolled back (the server calls it every second), and a session whose
  client process has exited (its pid, given at login as ``LAKE_CLIENT_PID``, is gone from
  this machine) at once, so a re-run after ``kill -9`` does not wait five minutes.
* DuckDB keeps temporary tables in its own ``temp`` catalog, so ``CREATE TEMPORARY
  TABLE db.schema.t`` (what dbt's unit tests and incremental models issue) fails.
  ``local_temporary`` makes such a *qualified* temporary table a plain table in that
  schema (whoever creates it drops it after use, as dbt does); an unqualified one
  stays temporary.
* The login answer has no master token, so the connector's ``close()`` never completes;
  ``server_fixes`` adds one.
* Directory tables (``SELECT ... FROM DIRECTORY(@stage)``, what INGEST_LANDING reads
  instead of LIST) are not in fakesnow. ``refresh_directory`` answers ``ALTER STAGE s
  REFRESH`` by snapshotting the stage's files into a table of the persisted catalog, and
  ``directory_sql`` reads that snapshot, with Snowflake's columns (MD5 is NULL locally).
* The server's session time zone is Snowflake's default (lake/local/strict.py), and
  fakesnow could only send UTC-zoned timestamps to the connector; ``utc_timestamps``
  relabels the same instants as UTC.
* fakesnow's CSV reader left the default comma unsaid, so DuckDB sniffed the delimiter
  (a ``;`` file loaded as columns), and read a header-only file as one column;
  ``csv_options`` passes the delimiter and reads a skipped header as the header.
* The stage lookups above resolved a one- or two-part name in any database, so a Native
  App installed locally read the lake's ``LANDING.LANDING_STAGE`` as its own; a shorter
  name now resolves in the session's current database and schema, as on Snowflake.
* ``DROP DATABASE`` is not in fakesnow; ``drop_database`` detaches the database and
  deletes its file (what ``lake app uninstall --local`` sends).

One change is for speed alone: fakesnow rewrites every statement through 76 sqlglot
transforms, and each one first deep-copies the whole tree. For a long statement (a
quality scan, a dbt model) the copies cost more than DuckDB's work on small tables:
0.48 s of a 2.7 s exception INSERT on 4.3M rows. ``transform_once`` copies the
statement once and lets the 76 transforms rewrite that copy in place; the DuckDB SQL
that comes out is the same (``tests/lake/test_compat.py``).
"""

from __future__ import annotations

import contextvars
import functools
import gzip
import importlib
import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import fakesnow.arrow as fakesnow_arrow
import fakesnow.copy_into as copy_into
import fakesnow.cursor
import fakesnow.transforms
import fakesnow.transforms.stage as stage
from fakesnow.instance import FakeSnow
from snowflake.connector.errors import ProgrammingError
from sqlglot import errors, exp

from lake.local.stack import pid_alive

# the package's `server` function shadows its `server` module as an attribute
fakesnow_server: Any = importlib.import_module("fakesnow.server")
log = logging.getLogger("lake.local.compat")

LIST_STATEMENT = re.compile(r"^\s*(?:LIST|LS)\s+@([A-Za-z0-9_$.\"]+?)(/[^\s;]*)?\s*;?\s*$", re.IGNORECASE)
_list_path = threading.local()
INFER_SCHEMA = re.compile(
    r"\bINFER_SCHEMA\s*\(\s*LOCATION\s*=>\s*'@([A-Za-z0-9_$.\"]+)/([^']*)'\s*,"
    r"\s*FILE_FORMAT\s*=>\s*'([A-Za-z0-9_$.\"]+)'\s*\)",
    re.IGNORECASE,
)
_instance: FakeSnow | None = None
_chain = threading.local()
_expr_transform = exp.Expression.transform


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


# the database and schema of the session whose statement is being parsed (set by the
# cursor's execute, below): a name of one or two parts resolves in them, as on Snowflake
_session_context: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "lake_session_context", default=(None, None)
)


def _catalog_row(table: str, dotted: str, columns: str) -> tuple[Any, ...] | None:
    """A stage or file format from fakesnow's catalog, by a name of one to three parts;
    shorter names resolve in the session's current database and schema."""
    assert _instance is not None, "compat.apply() was not called"
    parts = [p.strip('"').upper() for p in dotted.split(".")]
    database, schema = _session_context.get()
    if len(parts) < 3 and database:
        parts = [database.upper(), *parts] if len(parts) == 2 else [database.upper(), (schema or "").upper(), *parts]
    where = " and ".join(f"upper({col}) = ?" for col in ("database_name", "schema_name", "name")[3 - len(parts) :])
    with _instance.duck_conn.cursor() as cur:
        return cur.execute(
            f"select {columns} from _fs_global._fs_information_schema.{table} where {where}", parts
        ).fetchone()


def parse_infer_schema(sql: str) -> exp.Expr | None:
    """INFER_SCHEMA over one staged S3 file, answered from the file itself."""
    match = INFER_SCHEMA.search(sql)
    if not match:
        return None
    stage_name, path, format_name = match.groups()
    stage_row = _catalog_row("_fs_stages", stage_name, "url")
    if stage_row is None:
        raise errors.ParseError(f"Stage '{stage_name}' does not exist or not authorized.")
    format_row = _catalog_row("_fs_file_formats", format_name, "type")
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
    assert _instance is not None
    try:
        with _instance.duck_conn.cursor() as cur:
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
    row = _catalog_row("_fs_stages", stage_name, "url")
    if row is None:
        raise errors.ParseError(f"Stage '{stage_name}' does not exist or not authorized.")
    url = str(row[0] or "")
    return url if url.endswith("/") else url + "/"


def _ensure_directory_table() -> None:
    assert _instance is not None
    _instance.duck_conn.execute(
        f"CREATE TABLE IF NOT EXISTS {DIRECTORY_TABLE} (stage_url VARCHAR, relative_path VARCHAR, "
        "size BIGINT, last_modified TIMESTAMPTZ, md5 VARCHAR)"
    )


DROP_DATABASE = re.compile(r"^\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?(\w+)\s*;?\s*$", re.IGNORECASE)


def drop_database(sql: str) -> exp.Expr | None:
    """``DROP DATABASE [IF EXISTS] name``, which fakesnow cannot run: the database is
    detached and its file deleted (no Time Travel locally, so no UNDROP), and the answer is
    Snowflake's status row. What ``lake app uninstall --local`` sends."""
    match = DROP_DATABASE.match(sql)
    if not match or _instance is None:
        return None
    name = match.group(2).upper()
    found = _instance.duck_conn.execute(
        "SELECT path FROM duckdb_databases() WHERE UPPER(database_name) = ?", [name]
    ).fetchone()
    if found is None:
        if match.group(1):
            return exp.select(
                exp.Literal.string(f"Drop statement executed successfully ({name} already dropped).").as_("status")
            )
        raise errors.ParseError(f"Database '{name}' does not exist or not authorized.")
    _instance.duck_conn.execute(f"DETACH DATABASE {name}")
    if found[0]:
        Path(found[0]).unlink(missing_ok=True)
    return exp.select(exp.Literal.string(f"{name} successfully dropped.").as_("status"))


def refresh_directory(sql: str) -> exp.Expr | None:
    """``ALTER STAGE s REFRESH``: snapshot the stage's files as its directory table, as
    Snowflake does (the directory lists what the last refresh found). None for any other
    statement."""
    match = ALTER_STAGE_REFRESH.match(sql)
    if not match:
        return None
    url = _stage_url(match.group(1))
    _ensure_directory_table()
    assert _instance is not None
    quoted = (url + "**").replace("'", "''")
    for attempt in range(20):  # Snowflake serves concurrent refreshes; DuckDB conflicts, so retry
        with _instance.duck_conn.cursor() as cur:
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


def local_temporary(expression: exp.Expr) -> exp.Expr:
    """A qualified CREATE TEMPORARY TABLE as a plain table in that schema."""
    if isinstance(expression, exp.Create) and expression.kind == "TABLE":
        table = expression.this.this if isinstance(expression.this, exp.Schema) else expression.this
        properties = expression.args.get("properties")
        if isinstance(table, exp.Table) and table.db and properties is not None:
            for prop in list(properties.find_all(exp.TemporaryProperty)):
                prop.pop()
    return expression


_applied = False


class _Activity:
    """Requests in flight and the time of the last one, per session token."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()


_activity: dict[str, _Activity] = {}
_activity_lock = threading.Lock()
# session token -> the process id its client gave at login (session parameter
# LAKE_CLIENT_PID, set by lake.session for the local target): the server and its clients
# share this machine, so a session whose client process is gone is known at once
CLIENT_PID_PARAMETER = "LAKE_CLIENT_PID"
_client_pids: dict[str, int] = {}


def client_pid(login_body: bytes) -> int | None:
    """The client's process id from a login request's body, if it gave one."""
    try:
        if login_body[:2] == b"\x1f\x8b":
            login_body = gzip.decompress(login_body)
        value = json.loads(login_body)["data"]["SESSION_PARAMETERS"].get(CLIENT_PID_PARAMETER)
        return int(value) if value is not None else None
    except (ValueError, KeyError, TypeError, OSError):
        return None


TOKEN_HEADER = re.compile(r'^Snowflake Token="(?P<token>[^"]+)"$')


def _session_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization" and (match := TOKEN_HEADER.match(value.decode("latin-1"))):
            return match["token"]
    return None


def abort_idle_transactions(idle_seconds: float) -> int:
    """Roll back the open transaction of every session idle for over ``idle_seconds``, and
    at once that of a session whose client process has exited (a killed ``lake run``);
    returns how many were rolled back."""
    aborted = 0
    now = time.monotonic()
    with _activity_lock:  # a request for a session being checked waits for the check
        for token, activity in list(_activity.items()):
            conn = fakesnow_server.sessions.get(token)
            if conn is None:
                del _activity[token]
                _client_pids.pop(token, None)
                continue
            pid = _client_pids.get(token)
            orphaned = pid is not None and not pid_alive(pid)
            if activity.in_flight or (now - activity.last < idle_seconds and not orphaned):
                continue
            activity.last = now
            try:
                conn._duck_conn.execute("ROLLBACK")
            except duckdb.TransactionException:
                continue  # no transaction open
            conn._in_transaction = False
            aborted += 1
            if orphaned:
                _client_pids.pop(token, None)
                log.warning("rolled back the transaction of a session whose client (pid %s) has exited", pid)
            else:
                log.warning("rolled back the transaction of a session idle for over %.0f s", idle_seconds)
    return aborted


def server_fixes(app: Any) -> Any:
    """ASGI middleware around fakesnow's server app.

    * HTTP 500 (an unsupported statement, a bug) becomes the failed-query answer the
      connector reports as a ProgrammingError, instead of a transient error it retries.
    * The login answer gains a ``masterToken``: without one the connector's ``close()``
      fails before it marks itself closed, so Snowpark's exit hook later tries to cancel
      queries on a server that is gone, and retries for ever.
    """

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        login = scope["path"] == "/session/v1/login-request"
        held: dict[str, Any] = {}
        body = bytearray()

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message.get("type") == "http.request":
                body.extend(message.get("body", b""))
            return message

        token = _session_token(scope)
        activity = None
        if token is not None:
            with _activity_lock:
                activity = _activity.setdefault(token, _Activity())
                activity.in_flight += 1

        async def patched_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if message["status"] >= 500:
                    message = {**message, "status": 200}
                if login:
                    held["start"] = message
                    return
            elif login and message["type"] == "http.response.body":
                answer = json.loads(message.get("body", b"{}") or b"{}")
                if isinstance(answer.get("data"), dict) and "token" in answer["data"]:
                    answer["data"].setdefault("masterToken", answer["data"]["token"])
                    if (pid := client_pid(bytes(body))) is not None:
                        _client_pids[answer["data"]["token"]] = pid
                payload = json.dumps(answer).encode()
                start = held["start"]
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(payload)).encode()))
                await send({**start, "headers": headers})
                message = {**message, "body": payload, "more_body": False}
            await send(message)

        try:
            await app(scope, recording_receive if login else receive, patched_send)
        finally:
            if activity is not None:
                with _activity_lock:
                    activity.in_flight -= 1
                    activity.last = time.monotonic()

    return wrapped


def csv_options(call: exp.Expr, delimiter: str) -> exp.Expr:
    """A fakesnow ``read_csv(...)`` call read as Snowflake reads a CSV file: fields as the
    text they are ("007" stays "007"); split on the file format's delimiter, never a
    sniffed one (fakesnow leaves the default comma unsaid, and DuckDB then guesses: a
    ``;`` file loaded as columns locally and as one column on Snowflake); and a skipped
    header read as the header, so a file holding only its header line still has its
    columns (0 rows) instead of one column and a failed positional reference."""
    make_eq = copy_into.FileTypeHandler.make_eq
    args = call.expressions
    names = {a.this.name.lower() for a in args if isinstance(a, exp.EQ)}
    if "skip" in names:
        kept = [a for a in args if not (isinstance(a, exp.EQ) and a.this.name.lower() in ("skip", "header"))]
        call.set("expressions", [*kept, make_eq("header", True)])
    if "sep" not in names:
        call.append("expressions", make_eq("sep", delimiter))
    call.append("expressions", make_eq("all_varchar", True))
    return call


def _without_hive_partitions(read_expression: Any) -> Any:
    def wrapped(self: Any, url: str) -> exp.Expr:
        call = read_expression(self, url)
        call.append("expressions", copy_into.FileTypeHandler.make_eq("hive_partitioning", False))
        if isinstance(self, copy_into.ReadCSV):
            call = csv_options(call, self.delimiter or ",")
        return call

    return wrapped


def _safe_try_cast(to_timestamp: Any) -> Any:
    def wrapped(expression: exp.Expr) -> exp.Expr:
        if isinstance(expression, exp.TryCast) and expression.to.this in (
            exp.DataType.Type.TIMESTAMP,
            exp.DataType.Type.TIMESTAMPNTZ,
        ):
            return exp.TryCast(this=expression.this, to=exp.DataType.build("TIMESTAMP"))
        return to_timestamp(expression)

    return wrapped


class ReadJSON(copy_into.FileTypeHandler):
    """Newline-delimited JSON, for COPY with a transformation."""

    def read_expression(self, url: str) -> exp.Expr:
        return exp.func(
            "read_json",
            exp.Literal(this=url, is_string=True),
            self.make_eq("format", "newline_delimited"),
            self.make_eq("hive_partitioning", False),
        )


def _params_with_json(params_fn: Any) -> Any:
    def wrapped(expr: exp.Copy, params: Any = None) -> Any:
        json_format = None
        for param in expr.args.get("params", []):
            if isinstance(param.this, exp.Var) and param.this.name.upper() == "FILE_FORMAT":
                for prop in param.expressions:
                    value = prop.args.get("value")
                    if prop.name.upper() == "TYPE" and value is not None and value.name.upper() == "JSON":
                        json_format = param
        if json_format is None:
            return params_fn(expr, params)
        rest = [p for p in expr.args["params"] if p is not json_format]
        stripped = expr.copy()
        stripped.set("params", [p.copy() for p in rest])
        result = params_fn(stripped, params)
        result.file_format = ReadJSON()
        return result

    return wrapped


def _is_file_row_number(node: exp.Expr) -> bool:
    return isinstance(node, exp.Column) and node.name.upper() == "METADATA$FILE_ROW_NUMBER"


def _inserts_with_transformation(inserts_fn: Any) -> Any:
    """COPY ... FROM (SELECT ...): one INSERT per file, with the columns translated."""

    def wrapped(expr: exp.Copy, params: Any, urls: list[str], parquet_info: Any = None) -> Any:
        from_ = expr.args["files"][0]
        if not isinstance(from_, exp.Subquery):
            return inserts_fn(expr, params, urls, parquet_info)
        select = from_.this
        parquet = isinstance(params.file_format, copy_into.ReadParquet)
        inserts = []
        for url in urls:
            name = metadata_filename(url)
            columns = []
            for projection in select.expressions:
                node = projection.copy()
                node = node.transform(lambda e, name=name, parquet=parquet: _translate(e, name, parquet))
                columns.append(node)
            source = params.file_format.read_expression(url)
            if parquet and any(_is_file_row_number(e) for p in select.expressions for e in p.walk()):
                source.append("expressions", copy_into.FileTypeHandler.make_eq("file_row_number", True))
            inserts.append(
                exp.Insert(
                    this=expr.this,
                    expression=exp.Select(expressions=columns).from_(exp.Table(this=source)),
                    by_name=False,
                )
            )
        return inserts

    return wrapped


def metadata_filename(url: str) -> str:
    """``METADATA$FILENAME`` as Snowflake gives it for an external stage: the file's path
    in the bucket, the stage URL's prefix included (lake/local/strict.py, metadata_filename)."""
    if url.startswith("s3://"):
        return url.split("/", 3)[3] if url.count("/") >= 3 else ""
    return url


def _translate(node: exp.Expr, file_name: str, parquet: bool) -> exp.Expr:
    """One projection of a COPY transformation, in terms of DuckDB's file readers."""
    if isinstance(node, exp.JSONExtract) and isinstance(node.this, exp.Parameter):
        key = node.expression.find(exp.JSONPathKey)
        if key is not None:
            return exp.Column(this=exp.Identifier(this=key.this, quoted=True))
    if isinstance(node, exp.Parameter) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return exp.Var(this=f"#{node.this.this}")  # $N: the Nth column of a CSV file
    if isinstance(node, exp.Column) and node.name.upper() == "METADATA$FILENAME":
        return exp.Literal(this=file_name, is_string=True)
    if _is_file_row_number(node):
        if parquet:
            return exp.Add(
                this=exp.Column(this=exp.Identifier(this="file_row_number")), expression=exp.Literal.number(1)
            )
        return exp.Window(this=exp.RowNumber())
    return node


def utc_timestamps(to_struct: Any) -> Any:
    """fakesnow sends zoned timestamps to the connector only from UTC arrays; with the
    server in Snowflake's default zone (lake/local/strict.py, timezone) DuckDB answers in
    America/Los_Angeles. The same instants, relabelled UTC, are what the wire carries."""
    import pyarrow as pa

    def wrapped(ts: Any) -> Any:
        if isinstance(ts.type, pa.TimestampType) and ts.type.tz and ts.type.tz != "UTC":
            ts = ts.cast(pa.timestamp(ts.type.unit, tz="UTC"))
        return to_struct(ts)

    return wrapped


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


def _transform_in_place(self: exp.Expression, fun: Any, *args: Any, copy: bool = True, **kwargs: Any) -> Any:
    """``Expression.transform``; a link of fakesnow's chain (``transform_once``) skips its copy,
    while a transform function's own ``transform`` calls still copy as they expect."""
    if not getattr(_chain, "active", False):
        return _expr_transform(self, fun, *args, copy=copy, **kwargs)
    _chain.active = False
    try:
        return _expr_transform(self, fun, *args, copy=False, **kwargs)
    finally:
        _chain.active = True


def transform_once(chain: Any) -> Any:
    """fakesnow's ``_transform`` over one copy of the statement, rewritten in place."""

    @functools.wraps(chain)
    def wrapped(self: Any, expression: exp.Expr, params: Any) -> exp.Expr:
        copied = expression.copy()
        _chain.active = True
        try:
            return chain(self, copied, params)
        finally:
            _chain.active = False

    return wrapped


def apply(instance: FakeSnow) -> None:
    """Patch fakesnow for this process; ``instance`` is the server's shared database."""
    global _applied, _instance
    _instance = instance
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
    execute = cursor_cls.execute

    def execute_in_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _session_context.set((self._conn.database, self._conn.schema))
        try:
            return execute(self, *args, **kwargs)
        finally:
            _session_context.reset(token)

    cursor_cls.execute = execute_in_context  # type: ignore[method-assign]
    exp.Expression.transform = _transform_in_place  # type: ignore[method-assign]
    cursor_cls._transform = transform_once(cursor_cls._transform)  # type: ignore[method-assign]

    cursor_parse = fakesnow.cursor.parse_one

    def parse_in_cursor(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        if DIRECTORY.search(sql):
            sql = directory_sql(sql)
        return (
            parse_list(sql)
            or parse_infer_schema(sql)
            or refresh_directory(sql)
            or drop_database(sql)
            or local_temporary(cursor_parse(sql, *args, **kwargs))
        )

    fakesnow.cursor.parse_one = parse_in_cursor  # type: ignore[assignment]

    server_parse = fakesnow_server.parse_one

    def parse_in_server(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        # the server parses only to learn the statement type; on a syntax error let the
        # cursor parse again and answer with a proper error instead of HTTP 500
        try:
            if (
                INFER_SCHEMA.search(sql)
                or DIRECTORY.search(sql)
                or ALTER_STAGE_REFRESH.match(sql)
                or DROP_DATABASE.match(sql)
            ):
                return exp.select("1")
            return parse_list(sql) or server_parse(sql, *args, **kwargs)
        except errors.ParseError:
            return exp.select("1")

    fakesnow_server.parse_one = parse_in_server

    for reader in (copy_into.ReadCSV, copy_into.ReadParquet):
        reader.read_expression = _without_hive_partitions(reader.read_expression)  # type: ignore[method-assign]
    fakesnow.transforms.to_timestamp = _safe_try_cast(fakesnow.transforms.to_timestamp)
    copy_into._params = _params_with_json(copy_into._params)
    fakesnow_arrow.timestamp_to_sf_struct = utc_timestamps(fakesnow_arrow.timestamp_to_sf_struct)
    copy_into._inserts = _inserts_with_transformation(copy_into._inserts)

    internal_list_sql = stage.list_stage_files_sql

    def list_stage_files_sql(stage_name: str) -> str:
        row = _catalog_row("_fs_stages", stage_name, "url")
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
