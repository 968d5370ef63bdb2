"""The local engine at least as strict as Snowflake, wherever the project relies on a rule.

A local run that passes where Snowflake would fail is a test gap, so each Snowflake
behaviour the platform depends on is enforced here, next to the bridges of
``lake/local/compat/``, with the documentation page it comes from. ``RULES`` is the
list; ``tests/lake/test_strict.py`` has one conformance test per rule, each failing when
its rule is switched off.

Rules (enforced locally, as Snowflake does):

* ``owners_rights``: a stored procedure runs with owner's rights unless created ``EXECUTE
  AS CALLER``; such a procedure may run SELECT, DML, DDL, GRANT/REVOKE, variable
  assignment, DESCRIBE and SHOW, and "all other SQL statements cannot be called from inside
  an owner's rights stored procedure": ``USE`` and ``ALTER SESSION`` fail with
  ``Unsupported statement type 'USE'``. It resolves unqualified names in the database and
  schema it was created in.
  https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights
  Locally every handler gets a session opened in its procedure's schema and wrapped by
  ``owners_rights``, which refuses the same statements with Snowflake's error text. LIST,
  PUT, GET and REMOVE are refused too: they are not in the documented list (ingestion reads
  the stage's directory table with a SELECT instead).
* ``timezone``: the TIMEZONE parameter defaults to America/Los_Angeles, and
  ``CURRENT_TIMESTAMP()`` is in it, so ``CURRENT_TIMESTAMP()::TIMESTAMP_NTZ`` is Los Angeles
  wall-clock time. https://docs.snowflake.com/en/sql-reference/parameters#timezone
  The local server's DuckDB runs in that zone too, so a zone mistake shows locally; the
  platform stores UTC everywhere: ``SYSDATE()`` "returns the current timestamp for the
  system in the UTC time zone" (https://docs.snowflake.com/en/sql-reference/functions/sysdate),
  and Python's UTC clock.
* ``copy_status``: COPY INTO that processes no file (every file loaded before) answers one
  row with one column, ``status`` = "Copy executed with 0 files processed.", not one
  ``LOAD_SKIPPED`` row per file. https://docs.snowflake.com/en/sql-reference/sql/copy-into-table
  (Output). ``copy_status_sql`` rewrites fakesnow's answer that way.
* ``metadata_filename``: ``METADATA$FILENAME`` is "the name of the staged data file ...
  including the path to the data file in the stage"; for an external stage that path
  starts with the stage URL's own prefix. https://docs.snowflake.com/en/user-guide/querying-metadata
  fakesnow gave the stage-relative name, which code could come to rely on; locally it is
  the bucket-relative path (prefix included), so ingestion must (and does) name a file
  from what it asked COPY to load, never from ``METADATA$FILENAME``.
* ``directory_refresh``: a stage's directory table holds what the last ``ALTER STAGE ...
  REFRESH`` found, not what the bucket holds now.
  https://docs.snowflake.com/en/user-guide/data-load-dirtables-manage
  Locally ``DIRECTORY(@stage)`` reads a snapshot that ``ALTER STAGE ... REFRESH`` takes
  (``lake/local/compat/stages.py``), so a missing refresh lists nothing, as on Snowflake.
* ``app_references``, ``app_setup_script``: a Native App's manifest reference holds only
  the object types and privileges Snowflake lists (no stage), and its setup script does not
  USE a database, schema or role, create an EXECUTE AS CALLER procedure, or put a task, tag,
  masking policy or bulk grant in a versioned schema.
  https://docs.snowflake.com/en/developer-guide/native-apps/requesting-refs,
  https://docs.snowflake.com/en/developer-guide/native-apps/creating-setup-script,
  https://docs.snowflake.com/en/developer-guide/native-apps/versioned-schema
  ``lake app install --local`` refuses such a bundle before installing anything
  (``lake.app.check``; tests/app/test_app_local.py, one case per rule).

* ``division_by_zero``: ``a / b`` with ``b`` zero is an error ("Division by zero"); DIV0
  "performs division like the division operator (/), but returns 0 when the divisor is 0
  (rather than reporting an error)". https://docs.snowflake.com/en/sql-reference/operators-arithmetic,
  https://docs.snowflake.com/en/sql-reference/functions/div0
  DuckDB answered ``inf`` (or NaN), which a model could have published as a number; locally
  every divisor is checked (``arithmetic``), so a model divides with DIV0 or NULLIF where a
  zero denominator is legitimate.
* ``decimal_aggregates``: SUM of a NUMBER(p,s) is a NUMBER(38,s): "Snowflake uses
  calculations to preserve scale and precision in the numeric output"
  (https://docs.snowflake.com/en/sql-reference/operators-arithmetic, scale and precision).
  fakesnow cast every SUM, AVG, ... argument to DOUBLE (so that a VARCHAR sums as on
  Snowflake), which made every money total of the marts FLOAT locally and its cents
  inexact. Locally the argument keeps its type (``arithmetic``): money sums stay NUMBER, and
  a SUM of a text column fails where Snowflake would cast it (stricter, never more lenient).
  COUNT_IF is a count, 0 over no rows as COUNT is (DuckDB answered NULL, which made a data
  metric function declared ``RETURNS NUMBER NOT NULL`` return NULL on an empty table).
  A SUM or COUNT_IF of integers is DuckDB's 128-bit HUGEINT, which INFORMATION_SCHEMA now
  reports as Snowflake does, NUMBER(38,0) (``typed_columns_view``; a client reflecting the
  column, such as GX's Snowflake dialect, could not type it).

* ``object_kinds``: ``ALTER TABLE`` names a table and ``ALTER VIEW`` a view; each has its own
  actions (a data metric function, a tag, a row access policy are set on a view with
  ``ALTER VIEW``: https://docs.snowflake.com/en/sql-reference/sql/alter-view, "After creating
  a DMF, apply it to a table column using an ALTER TABLE ... command or a view column using
  the ALTER VIEW command": https://docs.snowflake.com/en/sql-reference/sql/create-data-metric-function).
  Snowflake refuses ``ALTER TABLE`` on a view ("Object found is of type 'VIEW', not specified
  type 'TABLE'"). Locally the statement is checked against the catalog before anything else,
  so the governance statements the local engine otherwise skips (``unsupported.py``) are
  refused here when they name the wrong kind (``checked_kind``).

Bridges that make the local engine MORE lenient than Snowflake (gaps, each justified):

* Statements only Snowflake runs (GRANT, tasks, policies, integrations, ...) succeed
  without effect (``lake/local/unsupported.py``); they are parsed with the Snowflake
  grammar by the tests, and the deploy plan is parsed as a whole.
* A transaction waiting on a lock fails at once locally (DuckDB: "Conflict on update")
  where Snowflake waits up to ``LOCK_TIMEOUT`` (https://docs.snowflake.com/en/sql-reference/parameters#lock-timeout);
  ``LOAD_VAULT`` retries either way, and its task sets ``LOCK_TIMEOUT`` below the task's
  own timeout (``lake/task_graph.py``).
* Masking and row access policies are not applied locally: every role sees every value.
  The pipeline's roles are exempt from both on Snowflake by design
  (``procedures/governance.PIPELINE_FUNCTIONS``), so the local run reads what they read.
* Privileges are not checked locally (no roles). The deploy plan, and what the task graph
  runs as its owner, are checked offline instead against the privilege model
  (``lake/privileges.py``), each rule citing its access-control page.
* The locally installed Native App: application roles and their grants are skipped, its
  versioned schema is a plain one (nothing lives in it locally), its SQL procedures
  (REGISTER_REFERENCE, START_PIPELINE, STOP_PIPELINE) and tasks do not run (the statements
  they EXECUTE are parsed by the tests, and ``lake app install --local`` calls the graph's
  procedures in order instead), and the app reads the lake's landing stage without the
  consumer's USAGE grant.
* Division and AVG of NUMBERs give DOUBLE locally (DuckDB) where Snowflake derives a NUMBER
  scale (https://docs.snowflake.com/en/sql-reference/operators-arithmetic). The marts
  never publish such a value as money: every monetary column is cast to NUMBER with a
  stated scale (``dbt/macros/reporting.sql``), and tests/marts/test_money.py fails on a
  FLOAT money column of any mart.
* ``ALTER SCHEMA a SWAP WITH b`` (PUBLISH_GOLD) swaps the schemas' tables by copying them
  inside one DuckDB transaction (lake/local/compat/statements.py): readers see the same
  all-or-nothing switch, but it takes time in proportion to the data where Snowflake's is
  a rename, a view in either schema is refused (Snowflake swaps views too; gold holds
  none), and the column lengths and comments fakesnow keeps in its own catalog follow in
  a second transaction. There are no grants locally, so none move with the swap.
* ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` is recorded in ``notifications.jsonl`` for any
  integration name (lake/local/compat/notifications.py): Snowflake refuses an integration
  that does not exist, is not of the right type or lacks the caller's USAGE. The
  privilege model (lake/privileges.py, ``lake deploy --plan``) checks the deployer's
  USAGE on the integration the bootstrap creates.
* COPY's load history: fakesnow keys it by the file's name only and reads any ``FORCE``
  option as TRUE; Snowflake also tracks the file's checksum. Ingestion does not rely on
  either difference: a corrected file under a name loaded before (``lake landing
  supersede``) is copied with ``FORCE = TRUE``, which "loads all files, regardless of
  whether they've been loaded previously" on both
  (https://docs.snowflake.com/en/sql-reference/sql/copy-into-table, Copy options), and
  only that option value is written.
* ``CREATE TRANSIENT TABLE ... DATA_RETENTION_TIME_IN_DAYS = 0`` (ERASE_SUBJECT's table of
  former values) is accepted and both clauses have no effect locally: DuckDB keeps neither
  Time Travel nor Fail-safe for any table, so the local side is never less forgetful than
  Snowflake; what it keeps in freed file blocks is compacted away at stop (``lake.local.serve``).
* The local S3 (moto) sets no modification time on request: the restored snapshot's
  objects get theirs back by writing moto's in-process model (``lake.local.serve``).
* fakesnow parses a statement once; Snowflake compiles it with the current role's view
  of the catalog. Object-not-found and not-authorized errors can therefore differ in
  wording, not in whether they happen.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakesnow.transforms import transforms as fakesnow_transforms
from sqlglot import exp

DOCS = "https://docs.snowflake.com/en"


@dataclass(frozen=True)
class Rule:
    name: str
    page: str
    summary: str


RULES: tuple[Rule, ...] = (
    Rule(
        "owners_rights",
        f"{DOCS}/developer-guide/stored-procedure/stored-procedures-rights",
        "an owner's-rights procedure refuses USE, ALTER SESSION and other non-listed statements",
    ),
    Rule("timezone", f"{DOCS}/sql-reference/parameters#timezone", "TIMEZONE defaults to America/Los_Angeles"),
    Rule(
        "copy_status",
        f"{DOCS}/sql-reference/sql/copy-into-table",
        "COPY with nothing to load answers one status row",
    ),
    Rule(
        "metadata_filename",
        f"{DOCS}/user-guide/querying-metadata",
        "METADATA$FILENAME includes the path of the file in the stage's location",
    ),
    Rule(
        "app_references",
        f"{DOCS}/developer-guide/native-apps/requesting-refs",
        "a manifest reference holds only the listed object types, with their privileges",
    ),
    Rule(
        "app_setup_script",
        f"{DOCS}/developer-guide/native-apps/versioned-schema",
        "no task, tag, policy or bulk grant in a versioned schema; no USE or EXECUTE AS CALLER in a setup script",
    ),
    Rule(
        "division_by_zero",
        f"{DOCS}/sql-reference/operators-arithmetic",
        "a / 0 is an error; DIV0 returns 0",
    ),
    Rule(
        "decimal_aggregates",
        f"{DOCS}/sql-reference/operators-arithmetic",
        "SUM of a NUMBER stays a NUMBER (never DOUBLE)",
    ),
    Rule(
        "object_kinds",
        f"{DOCS}/sql-reference/sql/alter-view",
        "ALTER TABLE on a view (or ALTER VIEW on a table) is refused",
    ),
    Rule(
        "directory_refresh",
        f"{DOCS}/user-guide/data-load-dirtables-manage",
        "a directory table lists what the last ALTER STAGE ... REFRESH found",
    ),
)

# --------------------------------------------------------------------------- arithmetic

DIVISION_BY_ZERO = "Division by zero"
_NUMERIC_AGGREGATES = fakesnow_transforms._NUMERIC_ONLY_AGGS


def _checked_divisor(divisor: exp.Expr) -> exp.Expr:
    """``CASE WHEN d = 0 THEN ERROR('Division by zero') ELSE d END``: DuckDB evaluates a
    CASE branch only for the rows that take it, so only a zero divisor raises."""
    raised = exp.Anonymous(this="ERROR", expressions=[exp.Literal.string(DIVISION_BY_ZERO)])
    return exp.Case(
        ifs=[exp.If(this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)), true=raised)],
        default=divisor,
    )


def arithmetic(expression: exp.Expr) -> exp.Expr:
    """fakesnow's ``numeric_agg_implicit_cast`` in the chain, replaced: a numeric aggregate
    keeps its argument's type (a NUMBER sum stays NUMBER; only a text literal is cast, as
    Snowflake casts it), with the Snowflake-style column name fakesnow gives it; and a
    division's divisor is checked, so ``x / 0`` raises as on Snowflake."""
    if isinstance(expression, _NUMERIC_AGGREGATES):
        argument = expression.this
        if isinstance(argument, exp.Literal) and argument.is_string:
            expression.set("this", exp.TryCast(this=argument, to=exp.DataType.build("DOUBLE")))
        if isinstance(expression.parent, exp.Select):
            name = fakesnow_transforms._numeric_agg_col_name(expression, argument)
            if name:
                return exp.alias_(expression, name, quoted=True)
        return expression
    if isinstance(expression, exp.Div) and not isinstance(expression.expression, exp.Case):
        expression.set("expression", _checked_divisor(expression.expression))
    if isinstance(expression, exp.CountIf) and not isinstance(expression.parent, (exp.Window, exp.Coalesce)):
        # a count: 0 over no rows, as Snowflake's COUNT_IF answers; DuckDB's count_if is NULL
        counted = exp.Coalesce(this=expression.copy(), expressions=[exp.Literal.number(0)])
        if isinstance(expression.parent, exp.Select):
            return exp.alias_(counted, expression.sql(dialect="snowflake").upper(), quoted=True)
        return counted
    return expression


# --------------------------------------------------------------------------- timezone

SNOWFLAKE_DEFAULT_TIMEZONE = "America/Los_Angeles"


def set_default_timezone(duck_conn: Any) -> None:
    """The local server's DuckDB in Snowflake's default session time zone."""
    duck_conn.execute(f"SET GLOBAL TimeZone = '{SNOWFLAKE_DEFAULT_TIMEZONE}'")


# --------------------------------------------------------------------------- owner's rights

# (statement type as Snowflake names it in its error, pattern of the statement's start)
REFUSED_IN_OWNERS_RIGHTS: tuple[tuple[str, str], ...] = (
    ("USE", r"USE\b"),
    ("ALTER_SESSION", r"ALTER\s+SESSION\b"),
    ("SET", r"SET\b"),
    ("UNSET", r"UNSET\b"),
    ("LIST_FILES", r"(LIST|LS)\s+@"),
    ("PUT_FILES", r"PUT\b"),
    ("GET_FILES", r"GET\b"),
    ("REMOVE_FILES", r"(REMOVE|RM)\s+@"),
)
_LEADING_COMMENTS = re.compile(r"\A(\s+|--[^\n]*\n?|/\*.*?\*/)*", re.DOTALL)


def owners_rights_refusal(statement: str) -> str | None:
    """The statement type Snowflake refuses inside an owner's-rights procedure, or None."""
    body = statement[_LEADING_COMMENTS.match(statement).end() :]  # type: ignore[union-attr]
    for kind, pattern in REFUSED_IN_OWNERS_RIGHTS:
        if re.match(pattern, body, re.IGNORECASE):
            return kind
    return None


def _error(kind: str, statement: str) -> Exception:
    from snowflake.snowpark.exceptions import SnowparkSQLException

    return SnowparkSQLException(
        f"090236 (42601): Stored procedure execution error: Unsupported statement type '{kind}'.",
        error_code="1304",
        sql_error_code=90236,
        query=statement,
    )


class OwnersRightsSession:
    """A Snowpark Session as an owner's-rights stored procedure's handler gets it.

    Statements go through ``sql()``, which refuses what Snowflake refuses there; the
    Session's own context changers (``use_schema`` ...) are refused the same way.
    Everything else is the wrapped Session's.
    """

    def __init__(self, session: Any, procedure: str = "") -> None:
        self._session = session
        self.procedure = procedure

    def sql(self, query: str, params: Any = None, **kwargs: Any) -> Any:
        if kind := owners_rights_refusal(query):
            raise _error(kind, query)
        return self._session.sql(query, params=params, **kwargs)

    def _refuse(self, name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise _error("USE", f"{name}({', '.join(map(repr, args))})")

        return refused

    def __getattr__(self, name: str) -> Any:
        if name in {"use_database", "use_schema", "use_role", "use_warehouse", "use_secondary_roles"}:
            return self._refuse(name)
        return getattr(self._session, name)


def owners_rights(session: Any, procedure: str = "") -> OwnersRightsSession:
    """``session`` as an owner's-rights procedure sees it (idempotent)."""
    if isinstance(session, OwnersRightsSession):
        return session
    return OwnersRightsSession(session, procedure)


# --------------------------------------------------------------------------- COPY result shape

COPY_NOTHING = "SELECT 'Copy executed with 0 files processed.' AS status"
_COPY_RESULT_ROWS = re.compile(r"\('[^']*', '(LOADED|LOAD_SKIPPED|LOAD_FAILED|PARTIALLY_LOADED)'")


def copy_status_sql(result_sql: str) -> str:
    """fakesnow's COPY result query as Snowflake shapes it: when no file was processed
    (every one skipped as loaded before), one ``status`` row instead of one row per file."""
    statuses = _COPY_RESULT_ROWS.findall(result_sql)
    if statuses and all(s == "LOAD_SKIPPED" for s in statuses):
        return COPY_NOTHING
    return result_sql


def _strict_copy(copy_into: Callable[..., str]) -> Callable[..., str]:
    def wrapped(duck_conn: Any, *args: Any, **kwargs: Any) -> str:
        sql = copy_into(duck_conn, *args, **kwargs)
        shaped = copy_status_sql(sql)
        if shaped != sql:
            duck_conn.execute(shaped)
        return shaped

    return wrapped


_applied = False


def typed_columns_view(duck_conn: Any) -> None:
    """fakesnow's INFORMATION_SCHEMA.COLUMNS, with HUGEINT typed NUMBER(38,0) like BIGINT
    (replaced, so a warehouse folder persisted by an earlier version gets it too)."""
    from fakesnow import info_schema

    sql = info_schema.SQL_CREATE_GLOBAL_INFORMATION_SCHEMA_COLUMNS_VIEW
    integers = "columns.data_type in ('BIGINT', 'HUGEINT')"
    replacements = (
        ("create view if not exists", "create or replace view"),
        ("or columns.data_type='BIGINT' then 'NUMBER'", f"or {integers} then 'NUMBER'"),
        ("case when columns.data_type='BIGINT' then 38", f"case when {integers} then 38"),
        ("case when columns.data_type='BIGINT' then 10", f"case when {integers} then 10"),
    )
    for old, new in replacements:
        assert old in sql, f"fakesnow's columns view changed: {old!r} is gone"
        sql = sql.replace(old, new)
    duck_conn.execute(sql)


def apply(duck_conn: Any) -> None:
    """Make this process's fakesnow server as strict as Snowflake (idempotent). The
    owner's-rights rule is applied per session, by ``owners_rights``."""
    global _applied
    set_default_timezone(duck_conn)
    typed_columns_view(duck_conn)
    if _applied:
        return
    _applied = True
    import fakesnow.cursor

    fakesnow.cursor.copy_into = _strict_copy(fakesnow.cursor.copy_into)
    # the chain calls fakesnow.transforms.numeric_agg_implicit_cast by attribute: one link
    fakesnow.transforms.numeric_agg_implicit_cast = arithmetic
    cursor_cls = fakesnow.cursor.FakeSnowflakeCursor
    cursor_cls._execute = _reported_errors(cursor_cls._execute)  # type: ignore[method-assign]
    cursor_cls.execute = _checked_kinds(cursor_cls.execute)  # type: ignore[method-assign]


# Snowflake's codes for the errors DuckDB raises while computing a value
# (https://docs.snowflake.com/en/sql-reference/operators-arithmetic: a / 0 fails)
_VALUE_ERRORS = ((DIVISION_BY_ZERO, 100051), ("Overflow", 100046))


def _reported_errors(execute: Callable[..., Any]) -> Callable[..., Any]:
    """A value error DuckDB raises while running a statement (a division by zero, a numeric
    overflow) reaches the client as Snowflake reports it, a failed query with the message,
    instead of fakesnow's "Unhandled exception" that hid the cause."""
    import duckdb
    import snowflake.connector.errors

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return execute(self, *args, **kwargs)
        except (duckdb.InvalidInputException, duckdb.OutOfRangeException) as err:
            message = str(err).split("\n")[0]
            errno = next((code for text, code in _VALUE_ERRORS if text in message), 100038)
            raise snowflake.connector.errors.ProgrammingError(msg=message, errno=errno, sqlstate="22012") from err

    return wrapped


# --------------------------------------------------------------------------- object kinds

_NAME_PART = r'(?:"[^"]+"|[A-Za-z_$][\w$]*)'
_ALTER_RELATION = re.compile(
    rf"ALTER\s+(TABLE|VIEW)\s+(?:IF\s+EXISTS\s+)?({_NAME_PART}(?:\.{_NAME_PART}){{0,2}})", re.IGNORECASE
)


def _unquoted(part: str) -> str:
    return part[1:-1] if part.startswith('"') else part.upper()


def relation_kind(duck_conn: Any, database: str | None, schema: str | None, name: str) -> str | None:
    """'TABLE' or 'VIEW' for a (partly qualified) name, resolved as Snowflake resolves it in
    the session's database and schema; None when no such relation exists."""
    parts = [_unquoted(p) for p in re.findall(_NAME_PART, name)]
    if len(parts) == 1:
        parts = [database or "", schema or "", *parts]
    elif len(parts) == 2:
        parts = [database or "", *parts]
    db, sch, rel = (p.upper() for p in parts)
    found = (
        duck_conn.cursor()
        .execute(
            "SELECT 'TABLE' FROM duckdb_tables() WHERE upper(database_name) = ? AND upper(schema_name) = ? "
            "AND upper(table_name) = ? UNION ALL SELECT 'VIEW' FROM duckdb_views() WHERE NOT internal "
            "AND upper(database_name) = ? AND upper(schema_name) = ? AND upper(view_name) = ?",
            [db, sch, rel, db, sch, rel],
        )
        .fetchone()
    )
    return found[0] if found else None


def checked_kind(statement: str, kind_of: Callable[[str], str | None]) -> None:
    """Refuse ``ALTER TABLE`` on a view and ``ALTER VIEW`` on a table, with Snowflake's
    message; ``kind_of`` resolves a name to 'TABLE', 'VIEW' or None (unknown: the statement
    goes on and fails, or is skipped, as it would have)."""
    body = statement[_LEADING_COMMENTS.match(statement).end() :]  # type: ignore[union-attr]
    match = _ALTER_RELATION.match(body)
    if not match:
        return
    said, name = match.group(1).upper(), match.group(2)
    found = kind_of(name)
    if found is not None and found != said:
        import snowflake.connector.errors

        raise snowflake.connector.errors.ProgrammingError(
            msg=f"SQL compilation error:\nObject found is of type '{found}', not specified type '{said}'.",
            errno=2203,
            sqlstate="02000",
        )


def _checked_kinds(execute: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(command, str) and re.match(r"\s*(--[^\n]*\n\s*)*ALTER\s+(TABLE|VIEW)\b", command, re.I):
            conn = self._conn
            checked_kind(command, lambda name: relation_kind(self._duck_conn, conn.database, conn.schema, name))
        return execute(self, command, *args, **kwargs)

    return wrapped
