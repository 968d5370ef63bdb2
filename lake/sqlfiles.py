"""The ordered, idempotent DDL under ``sql/``: render, split, apply.

Files hold Snowflake SQL with ``<% name %>`` placeholders (snowflake-cli's template
syntax, so ``snow sql -f sql/030_landing.sql -D landing_url=...`` runs them too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lake.config import Settings
from procedures.errors import UserError
from procedures.sql import sql_literal

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
PLACEHOLDER = re.compile(r"<%\s*(\w+)\s*%>")
# the account bootstrap (roles, the database, account privileges): locally it creates the
# database (the rest is skipped); on Snowflake `lake deploy --bootstrap` runs it as ACCOUNTADMIN
BOOTSTRAP = "005_account.sql"


class SqlFileError(UserError, RuntimeError):
    """A shipped SQL file that could not be rendered or applied; names the file and statement."""


def variables(settings: Settings) -> dict[str, str]:
    names = settings.names
    values = {
        "database": names.database,
        **{f"{key}_schema": value for key, value in names.schemas.items()},
        "landing_stage": names.landing_stage,
        "landing_url": settings.landing_url,
        "storage_integration": "LAKE_LANDING_INTEGRATION",
        "aws_role_arn": "arn:aws:iam::000000000000:role/lake-local",
        "role_prefix": names.role_prefix,
        # alerts: an email notification integration an administrator creates once (docs/deploy.md)
        "notification_integration": "LAKE_NOTIFICATIONS",
        "alert_warehouse": "LAKE_WH",
        "alert_recipients": "'lake-alerts@example.com'",
    }
    if settings.snowflake is not None and settings.target == "snowflake":
        values["storage_integration"] = settings.snowflake.storage_integration
        # no dummy on a real account: `lake setup` and `lake deploy` refuse to run without
        # it (check_account_values); only a printed plan shows where it goes
        values["aws_role_arn"] = settings.snowflake.aws_role_arn or "<LAKE_AWS_ROLE_ARN is not set>"
        values["notification_integration"] = settings.snowflake.notification_integration
        values["alert_warehouse"] = settings.snowflake.warehouse
        recipients = settings.snowflake.recipients
        values["alert_recipients"] = (
            ", ".join(sql_literal(r) for r in recipients) if recipients else "'<LAKE_ALERT_RECIPIENTS is not set>'"
        )
    return values


def render(text: str, values: Mapping[str, str], source: str = "<sql>") -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise SqlFileError(f"{source}: unknown placeholder <% {name} %>; known: {', '.join(sorted(values))}")
        return values[name]

    return PLACEHOLDER.sub(replace, text)


def split(text: str) -> list[str]:
    """Statements of a script, split on top-level semicolons.

    Semicolons inside '...' strings, "..." identifiers, $$...$$ bodies and comments do
    not split (sqlglot's tokenizer splits a $$ body, so this scans by hand).
    """
    statements: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        two = text[i : i + 2]
        ch = text[i]
        if two == "--":
            i = _find(text, "\n", i + 2)
        elif two == "/*":
            i = _find(text, "*/", i + 2) + 1
        elif two == "$$":
            i = _find(text, "$$", i + 2) + 1
        elif ch in "'\"":
            i += 1
            while i < n and text[i] != ch:
                i += 2 if text[i] == "\\" or text[i : i + 2] == ch * 2 else 1
        elif ch == ";":
            statements.append(text[start:i])
            start = i + 1
        i += 1
    statements.append(text[start:])
    return [s for s in (_strip_leading_comments(s) for s in statements) if s]


def syntax_error(statement: str) -> str | None:
    """Where a statement's syntax is wrong, in one line ("syntax error at line 1, column 8:
    ..."), or None when Snowflake's grammar (as sqlglot reads it) accepts it. Used to say a
    failed statement's syntax error plainly instead of the local parser's internals."""
    import sqlglot
    from sqlglot.errors import ParseError

    try:
        sqlglot.parse(statement, read="snowflake")
    except ParseError as err:
        first = err.errors[0] if err.errors else {}
        where = f" at line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        said = str(first.get("description") or err).splitlines()[0]
        return f"syntax error{where}: {said}"
    return None


def _find(text: str, token: str, start: int) -> int:
    found = text.find(token, start)
    return len(text) if found < 0 else found


LEADING_COMMENT = re.compile(r"\A\s*(--[^\n]*(\n|\Z)|/\*.*?\*/)", re.DOTALL)


def _strip_leading_comments(statement: str) -> str:
    """Comments before a statement are documentation for the reader of the file; the
    statement is sent without them, so it starts with its keyword (which is what the
    local engine's list of unsupported statements matches)."""
    while match := LEADING_COMMENT.match(statement):
        statement = statement[match.end() :]
    return statement.strip()


def files(directory: Path = SQL_DIR) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9][0-9]_*.sql"))


@dataclass(frozen=True)
class Applied:
    file: str
    statements: int


def check_account_values(settings: Settings) -> None:
    """On a real account the storage integration needs the IAM role it assumes."""
    if settings.target == "snowflake" and settings.snowflake is not None and not settings.snowflake.aws_role_arn:
        raise SqlFileError(
            "LAKE_AWS_ROLE_ARN is not set: sql/020_landing.sql creates the storage integration with the IAM role "
            "Snowflake assumes to read the landing bucket (cdktf/ creates it; see docs/deploy.md)"
        )


def added_columns(statement: str) -> tuple[str, list[tuple[str, str]]]:
    """The table of a ``CREATE TABLE`` and its columns with their types, as Snowflake SQL."""
    from sqlglot import exp

    from lake import snowsql

    tree = snowsql.parse(statement, "sql/")
    schema = tree.this
    assert isinstance(schema, exp.Schema), statement[:80]
    columns = [
        (col.name.upper(), col.args["kind"].sql("snowflake"))
        for col in schema.expressions
        if isinstance(col, exp.ColumnDef)
    ]
    return schema.this.sql("snowflake"), columns


def add_column_sql(table: str, column: str, kind: str) -> str:
    """``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` (``ADD [ COLUMN ] [ IF NOT EXISTS ]``:
    https://docs.snowflake.com/en/sql-reference/sql/alter-table): a column a new version
    defines appears in a table an earlier version created, where CREATE TABLE IF NOT EXISTS
    leaves the table as it was. Constraints stay with the CREATE (a NOT NULL column cannot
    be added to a table that has rows), so an added column is nullable and its old rows NULL."""
    return f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"


def evolution(statement: str) -> list[str]:
    """After a ``CREATE TABLE IF NOT EXISTS``: one ADD COLUMN IF NOT EXISTS per column (what
    the deploy plan and the Native App's setup script run after it); none for other SQL."""
    if not CREATE_TABLE.match(statement):
        return []
    table, columns = added_columns(statement)
    return [add_column_sql(table, column, kind) for column, kind in columns]


CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\b", re.IGNORECASE)
SCHEMA_VERSIONS = "SCHEMA_VERSIONS"


def _existing_columns(cur: Any, database: str) -> dict[str, set[str]]:
    """``SCHEMA.TABLE`` -> its columns, for every table of the database (one query)."""
    try:
        cur.execute(
            "SELECT UPPER(TABLE_SCHEMA), UPPER(TABLE_NAME), UPPER(COLUMN_NAME) "
            f"FROM {database}.INFORMATION_SCHEMA.COLUMNS"
        )
    except Exception:  # the database does not exist yet: the bootstrap creates it
        return {}
    found: dict[str, set[str]] = {}
    for schema, table, column in cur.fetchall():
        found.setdefault(f"{schema}.{table}", set()).add(str(column))
    return found


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("institutional-client-lake")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def apply(conn: Any, settings: Settings, directory: Path = SQL_DIR) -> list[Applied]:
    """Run every file in order; stop at the first failure with the file and statement named.

    Upgrades: a table an earlier version created gets the columns this version defines
    (``evolution``; only those it lacks are sent), and the version applied, with a digest
    of the SQL, is recorded in ``AUDIT.SCHEMA_VERSIONS`` when either changed."""
    import hashlib

    check_account_values(settings)
    values = variables(settings)
    names = settings.names
    done: list[Applied] = []
    cur = conn.cursor()
    before = _existing_columns(cur, names.database)
    digest = hashlib.sha256()
    added: list[str] = []
    for path in files(directory):
        if path.name == BOOTSTRAP and settings.target == "snowflake":
            continue  # an account administrator runs it once: `lake deploy --bootstrap`
        statements = split(render(path.read_text(), values, path.name))
        for number, statement in enumerate(statements, start=1):
            digest.update(statement.encode())
            todo = [statement]
            if CREATE_TABLE.match(statement):
                table, columns = added_columns(statement)
                had = before.get(".".join(p.strip('"').upper() for p in table.split(".")[-2:]))
                if had is not None:  # the table was there: add what this version defines and it lacks
                    new = [(c, k) for c, k in columns if c not in had]
                    todo += [add_column_sql(table, c, k) for c, k in new]
                    added += [f"{table}.{c}" for c, _ in new]
            for sql in todo:
                try:
                    cur.execute(sql)
                except Exception as err:
                    first = sql.splitlines()[0][:80]
                    raise SqlFileError(f"{path.name}, statement {number} ({first}...): {err}") from err
        done.append(Applied(path.name, len(statements)))
    _record_version(cur, settings, digest.hexdigest(), added)
    return done


def _record_version(cur: Any, settings: Settings, digest: str, added: list[str]) -> None:
    """One SCHEMA_VERSIONS row when the version or the SQL differs from the last applied."""
    import json

    table = f"{settings.names.database}.{settings.names.audit}.{SCHEMA_VERSIONS}"
    cur.execute(f"SELECT version, sql_digest FROM {table} ORDER BY applied_at DESC LIMIT 1")
    last = cur.fetchone()
    if last is not None and (str(last[0]), str(last[1])) == (version(), digest) and not added:
        return
    cur.execute(
        f"INSERT INTO {table} (version, sql_digest, applied_at, columns_added) VALUES (%s, %s, SYSDATE(), %s)",
        (version(), digest, json.dumps(added)),
    )
