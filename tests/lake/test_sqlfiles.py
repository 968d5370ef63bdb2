"""The shipped DDL: it renders, splits, parses as Snowflake SQL, and skips only what is listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from lake import snowsql, sqlfiles
from lake.config import Settings
from lake.local.unsupported import skipped_locally
from tests.cases import cases

STATEMENTS = Path(__file__).with_name("statements.yml")  # the cases, as data

pytestmark = pytest.mark.unit

SHIPPED = [pytest.param(p, id=p.name) for p in sqlfiles.files()]


def test_there_is_ordered_ddl() -> None:
    names = [p.name for p in sqlfiles.files()]
    assert names == sorted(names) and names[0] == "005_account.sql"  # the account bootstrap first


@pytest.mark.parametrize("path", SHIPPED)
def test_every_statement_parses_as_snowflake_sql(path) -> None:  # type: ignore[no-untyped-def]
    text = sqlfiles.render(path.read_text(), sqlfiles.variables(Settings()), path.name)
    statements = sqlfiles.split(text)
    assert statements
    for statement in statements:
        snowsql.parse(statement, path.name)  # raises on a syntax error or an unparsed command


# ALTER actions that leave the same state when run twice
IDEMPOTENT_ACTIONS = {
    "SET",
    "SET BODY",
    "SET TAG",
    "SET MASKING POLICY FORCE",
    "RESUME",
    "SUSPEND",
    "DROP ALL ROW ACCESS POLICIES",
    "ENABLE MANAGED ACCESS",
}


@pytest.mark.parametrize("path", SHIPPED)
def test_ddl_is_idempotent(path) -> None:  # type: ignore[no-untyped-def]
    text = sqlfiles.render(path.read_text(), sqlfiles.variables(Settings()), path.name)
    previous = None
    for statement in sqlfiles.split(text):
        parsed = snowsql.parse(statement, path.name)
        head = " ".join(statement.split()[:4]).upper()
        seed_row = head.startswith("INSERT INTO") and "WHERE NOT EXISTS" in statement.upper()
        created = "IF NOT EXISTS" in statement.upper() or head.startswith("CREATE OR REPLACE") or seed_row
        # grants repeat harmlessly
        granted = isinstance(parsed, (exp.Grant, snowsql.GrantRole, snowsql.GrantBulk, snowsql.GrantOwnership))
        altered = False
        if isinstance(parsed, snowsql.AlterObject):
            action = parsed.args["action"].args["kind"]
            # a table holds one row access policy: adding is safe right after dropping them all
            re_added = (
                action == "ADD ROW ACCESS POLICY"
                and isinstance(previous, snowsql.AlterObject)
                and previous.args["action"].args["kind"] == "DROP ALL ROW ACCESS POLICIES"
                and previous.this == parsed.this
            )
            altered = action in IDEMPOTENT_ACTIONS or re_added
        elif isinstance(parsed, exp.Alter):
            altered = all(isinstance(a, exp.AlterSet) for a in parsed.args["actions"])
        assert created or granted or altered, f"{path.name}: not safe to run twice: {statement[:100]}"
        previous = parsed


def test_split_respects_strings_comments_and_bodies() -> None:
    script = """-- header; with a semicolon
    /* block; comment */ SELECT 1;
    SELECT ';' AS a, 'it''s;' AS b, "odd;name" AS c;
    CREATE PROCEDURE p() RETURNS INT LANGUAGE PYTHON HANDLER = 'm' AS $$
def m(session): return 1; # python
$$;
    -- trailing comment only
    """
    assert sqlfiles.split(script) == [
        "SELECT 1",
        "SELECT ';' AS a, 'it''s;' AS b, \"odd;name\" AS c",
        "CREATE PROCEDURE p() RETURNS INT LANGUAGE PYTHON HANDLER = 'm' AS $$\ndef m(session): return 1; # python\n$$",
    ]


def test_unknown_placeholder_names_file_and_variable() -> None:
    with pytest.raises(sqlfiles.SqlFileError, match=r"020_x.sql: unknown placeholder <% landing_uri %>"):
        sqlfiles.render("CREATE STAGE s URL = '<% landing_uri %>'", {"landing_url": "s3://b/"}, "020_x.sql")


@pytest.mark.parametrize(("statement", "skipped"), cases(STATEMENTS, "skipped_locally"))
def test_only_listed_statements_are_skipped_locally(statement: str, skipped: bool) -> None:
    assert (skipped_locally(statement) is not None) == skipped
