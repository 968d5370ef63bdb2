"""The Lake dialect parses the governance and orchestration statements the project ships,
and rejects malformed ones with a message instead of an opaque command."""

from __future__ import annotations

import pytest
from sqlglot import exp

from lake import snowsql

pytestmark = pytest.mark.unit

PARSED = [
    pytest.param(
        "CREATE MASKING POLICY IF NOT EXISTS G.MASK_EMAIL AS (val STRING) RETURNS STRING -> "
        "CASE WHEN IS_ROLE_IN_SESSION('LAKE_ADMIN') THEN val ELSE REGEXP_REPLACE(val, '.+@', '***@') END "
        "COMMENT = 'partial'",
        snowsql.CreatePolicy,
        id="masking_policy",
    ),
    pytest.param(
        "CREATE OR REPLACE ROW ACCESS POLICY G.CLIENT_ROWS AS (country STRING) RETURNS BOOLEAN -> "
        "IS_ROLE_IN_SESSION('LAKE_ADMIN') OR EXISTS (SELECT 1 FROM G.ENTITLEMENTS e "
        "WHERE e.country_code = country AND IS_ROLE_IN_SESSION(e.role_name))",
        snowsql.CreatePolicy,
        id="row_access_policy",
    ),
    pytest.param(
        "ALTER TAG G.PII SET MASKING POLICY G.M1, MASKING POLICY G.M2", snowsql.AlterObject, id="tag_policies"
    ),
    pytest.param(
        "ALTER TABLE L.C MODIFY COLUMN EMAIL SET TAG G.PII = 'email', G.OWNER = 'crm'",
        snowsql.AlterObject,
        id="set_tag",
    ),
    pytest.param("ALTER TABLE L.C ALTER COLUMN EMAIL UNSET TAG G.PII", snowsql.AlterObject, id="unset_tag"),
    pytest.param(
        "ALTER VIEW V.C ADD ROW ACCESS POLICY G.R ON (COUNTRY_CODE)", snowsql.AlterObject, id="add_row_policy"
    ),
    pytest.param(
        "ALTER TABLE V.H ADD DATA METRIC FUNCTION SNOWFLAKE.CORE.NULL_COUNT ON (ID) EXPECTATION no_nulls (VALUE = 0)",
        snowsql.AlterObject,
        id="attach_dmf",
    ),
    pytest.param(
        "ALTER TABLE V.H ADD DATA METRIC FUNCTION SNOWFLAKE.CORE.ROW_COUNT ON ()",
        snowsql.AlterObject,
        id="dmf_no_columns",
    ),
    pytest.param(
        "CREATE DATA METRIC FUNCTION IF NOT EXISTS Q.NEGATIVE_COUNT(t TABLE(amount NUMBER)) RETURNS NUMBER AS "
        "$$SELECT COUNT_IF(amount < 0) FROM t$$",
        snowsql.CreateDataMetricFunction,
        id="custom_dmf",
    ),
    pytest.param(
        "CREATE OR REPLACE ALERT Q.FAILED WAREHOUSE = W SCHEDULE = '15 MINUTE' IF (EXISTS ("
        "SELECT 1 FROM Q.RULE_RESULTS WHERE VERDICT = 'FAIL')) THEN CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION('x', 'y')",
        snowsql.CreateAlert,
        id="alert",
    ),
    pytest.param("ALTER ALERT Q.FAILED RESUME", snowsql.AlterObject, id="resume_alert"),
    pytest.param("ALTER SCHEMA D.LANDING SET DATA_RETENTION_TIME_IN_DAYS = 1", snowsql.AlterObject, id="retention"),
    pytest.param(
        "CREATE OR REPLACE TASK A.LOAD WAREHOUSE = W AFTER A.ROOT, A.OTHER WHEN TRUE AS CALL A.LOAD_VAULT(NULL)",
        snowsql.CreateTask,
        id="task",
    ),
    pytest.param("CREATE ROLE IF NOT EXISTS LAKE_ANALYST COMMENT = 'reads gold'", snowsql.CreateRole, id="role"),
    pytest.param("CREATE APPLICATION ROLE IF NOT EXISTS APP_VIEWER", snowsql.CreateRole, id="application_role"),
    pytest.param("GRANT ROLE LAKE_ANALYST TO ROLE LAKE_ENGINEER", snowsql.GrantRole, id="grant_role"),
    pytest.param(
        "GRANT SELECT ON FUTURE VIEWS IN SCHEMA D.GOLD TO ROLE LAKE_ANALYST", snowsql.GrantBulk, id="future_grant"
    ),
    pytest.param(
        "GRANT USAGE ON PROCEDURE C.P(VARCHAR, NUMBER) TO APPLICATION ROLE APP_USER", exp.Grant, id="grant_procedure"
    ),
    pytest.param("CALL CORE.VALIDATE_DATA('landing', NULL)", snowsql.Call, id="call"),
    pytest.param("EXECUTE DBT PROJECT D.G.LAKE_DBT ARGS = 'build --select gold'", snowsql.Execute, id="execute_dbt"),
    pytest.param("CREATE OR ALTER VERSIONED SCHEMA APP_CODE", snowsql.CreateRole, id="versioned_schema"),
    pytest.param(
        "CREATE OR REPLACE STREAMLIT APP_CODE.DASHBOARD FROM '/streamlit' MAIN_FILE = '/dashboard.py'",
        snowsql.CreateStreamlit,
        id="streamlit",
    ),
    pytest.param("GRANT USAGE ON SCHEMA D.GOLD TO ROLE LAKE_ANALYST", exp.Grant, id="sqlglot_grant"),
    pytest.param("SELECT 1 AS one", exp.Select, id="sqlglot_select"),
]


@pytest.mark.parametrize(("statement", "node"), PARSED)
def test_statement_parses_to_its_node(statement: str, node: type) -> None:
    assert isinstance(snowsql.parse(statement), node)


def test_bodies_and_conditions_are_parsed_expressions() -> None:
    policy = snowsql.parse(str(PARSED[1].values[0]))
    assert isinstance(policy.args["body"], exp.Or)
    assert policy.args["body"].find(exp.Select) is not None
    alert = snowsql.parse(str(PARSED[9].values[0]))
    assert alert.args["condition"].find(exp.Table).name == "RULE_RESULTS"
    assert isinstance(alert.args["action"], snowsql.Call)
    dmf = snowsql.parse(str(PARSED[8].values[0]))
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
