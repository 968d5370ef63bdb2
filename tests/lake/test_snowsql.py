"""The Lake dialect parses the governance and orchestration statements the project ships,
and rejects malformed ones with a message instead of an opaque command."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlglot import exp

from lake import snowsql
from tests.cases import cases

STATEMENTS = Path(__file__).with_name("statements.yml")  # the cases, as data

pytestmark = pytest.mark.unit

# every statement with the node it parses to: "snowsql.X" is this project's, "exp.X" sqlglot's
PARSED = cases(STATEMENTS, "parses_to")
NODES = {"snowsql": snowsql, "exp": exp}


def _parsed(case: str) -> str:
    """The statement of one case of PARSED."""
    return str(next(p.values[0] for p in PARSED if p.id == case))


@pytest.mark.parametrize(("statement", "node"), PARSED)
def test_statement_parses_to_its_node(statement: str, node: str) -> None:
    module, name = node.split(".")
    assert isinstance(snowsql.parse(statement), getattr(NODES[module], name))


def test_bodies_and_conditions_are_parsed_expressions() -> None:
    policy = snowsql.parse(_parsed("row_access_policy"))
    assert isinstance(policy.args["body"], exp.Or)
    assert policy.args["body"].find(exp.Select) is not None
    alert = snowsql.parse(_parsed("alert"))
    assert alert.args["condition"].find(exp.Table).name == "RULE_RESULTS"
    assert isinstance(alert.args["action"], snowsql.Call)
    dmf = snowsql.parse(_parsed("custom_dmf"))
    assert isinstance(dmf.args["body"], exp.Select)


REJECTED = [
    pytest.param("CREATE MASKING POLICY P AS (v STRING) RETURNS STRING -> CASE WHEN THEN v END", id="bad_body"),
    pytest.param("CREATE MASKING POLICY P AS (v STRING) RETURNS STRING CASE WHEN TRUE THEN v END", id="no_arrow"),
    pytest.param(
        "CREATE ALERT A WAREHOUSE = W SCHEDULE = '1 MINUTE' IF (SELECT 1) THEN CALL X()", id="alert_not_exists"
    ),
    pytest.param(
        "CREATE DATA METRIC FUNCTION F(t TABLE(c NUMBER)) RETURNS NUMBER AS 'SELEC COUNT(*) FROM t'", id="bad_dmf_body"
    ),
    pytest.param("GRANT ROLE A TO ROLEX B", id="bad_principal"),
    pytest.param("ALTER TABLE X MODIFY COLUMN A SET TAG T1 'a'", id="tag_without_value"),
    pytest.param("GRANT SELECT ON ALL TABLES IN WAREHOUSE W TO ROLE R", id="bad_container"),
    pytest.param("CREATE TASK T WAREHOUSE = W AFTER A", id="task_without_body"),
    pytest.param("CALL", id="empty_call"),
    pytest.param("CREATE STREAMLIT S FROM '/streamlit'", id="streamlit_without_main_file"),
    pytest.param("CREATE OR ALTER VERSIONED SCHEMA", id="versioned_schema_without_name"),
    pytest.param("CREATE OR REPLACE SOMETHING ODD", id="unknown_statement"),
]


@pytest.mark.parametrize("statement", REJECTED)
def test_malformed_statement_is_rejected_naming_the_source(statement: str) -> None:
    with pytest.raises(snowsql.SqlSyntaxError, match=r"^070_governance.sql: "):
        snowsql.parse(statement, "070_governance.sql")
