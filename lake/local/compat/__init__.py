"""Bridges between the pinned fakesnow (0.11.18) and what the platform needs locally: one
module per kind of gap, and ``apply`` below as the table of patches, in order.

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
* ``ALTER SCHEMA a SWAP WITH b`` (how PUBLISH_GOLD publishes validated gold) is not in
  DuckDB; ``swap_schema`` moves the tables of both schemas in one DuckDB transaction.
* ``CREATE TABLE IF NOT EXISTS`` on a table that exists cleared its COPY load history in
  fakesnow (it treats every CREATE TABLE as a new table), so after `lake setup` a COPY of
  a file loaded before loaded it again; ``existing_table`` answers such a statement as
  Snowflake does, without running it.
* ``CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` (how a failed pipeline run is told) has no
  e-mail to send here; ``notifications.send`` writes it to ``notifications.jsonl`` in the
  state folder.

One change is for speed alone: fakesnow rewrites every statement through 76 sqlglot
transforms, and each one first deep-copies the whole tree. For a long statement (a
quality scan, a dbt model) the copies cost more than DuckDB's work on small tables:
0.48 s of a 2.7 s exception INSERT on 4.3M rows. ``transform_once`` copies the
statement once and lets the 76 transforms rewrite that copy in place; the DuckDB SQL
that comes out is the same (``tests/lake/test_compat.py``).
"""

from __future__ import annotations

from typing import Any

import fakesnow.cursor
from fakesnow.instance import FakeSnow
from sqlglot import errors, exp

from lake.local.compat import copying, notifications, speed, stages, state, statements, timestamps
from lake.local.compat.copying import csv_options
from lake.local.compat.sessions import abort_idle_transactions, server_fixes
from lake.local.compat.speed import transform_once
from lake.local.compat.state import persist_global

__all__ = ["abort_idle_transactions", "apply", "csv_options", "persist_global", "server_fixes", "transform_once"]


def _patch_parsers() -> None:
    """Statements fakesnow cannot parse are answered by the modules above before its own
    parser sees them: in the cursor (which runs them) and in the server (which parses only
    to learn a statement's type, and on a syntax error lets the cursor answer)."""
    cursor_parse = fakesnow.cursor.parse_one

    def parse_in_cursor(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        if stages.DIRECTORY.search(sql):
            sql = stages.directory_sql(sql)
        return (
            stages.parse_list(sql)
            or stages.parse_infer_schema(sql)
            or stages.refresh_directory(sql)
            or statements.drop_database(sql)
            or statements.swap_schema(sql)
            or notifications.send(sql)
            or statements.existing_table(statements.local_temporary(cursor_parse(sql, *args, **kwargs)))
        )

    fakesnow.cursor.parse_one = parse_in_cursor  # type: ignore[assignment]
    server_parse = state.fakesnow_server.parse_one

    def parse_in_server(sql: str, *args: Any, **kwargs: Any) -> exp.Expr:
        try:
            if (
                stages.INFER_SCHEMA.search(sql)
                or stages.DIRECTORY.search(sql)
                or stages.ALTER_STAGE_REFRESH.match(sql)
                or statements.DROP_DATABASE.match(sql)
                or statements.SWAP_SCHEMA.match(sql)
                or notifications.SEND.match(sql)
            ):
                return exp.select("1")
            return stages.parse_list(sql) or server_parse(sql, *args, **kwargs)
        except errors.ParseError:
            return exp.select("1")

    state.fakesnow_server.parse_one = parse_in_server


# (what it bridges, the patch), applied in this order once per process
PATCHES: tuple[tuple[str, Any], ...] = (
    ("transaction statements describe as a status row", statements.patch_transaction_status),
    ("each statement knows its session's database and schema", state.patch_cursor_context),
    ("one copy per statement through fakesnow's transforms", speed.patch_transform_once),
    (
        "LIST, INFER_SCHEMA, directory tables, DROP DATABASE, schema swaps, notifications, temporary tables",
        _patch_parsers,
    ),
    ("COPY reads files as Snowflake does", copying.patch_copy),
    ("TRY_CAST to a timestamp; UTC results", timestamps.patch_timestamps),
    ("LIST on an S3 stage", stages.patch_list),
)

_applied = False


def apply(instance: FakeSnow) -> None:
    """Patch fakesnow for this process; ``instance`` is the server's shared database."""
    global _applied
    state.bound.instance = instance
    if _applied:
        return
    _applied = True
    for _, patch in PATCHES:
        patch()
