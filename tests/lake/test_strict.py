"""The local engine is at least as strict as Snowflake: one conformance test per rule of
``lake/local/strict.py``, each against the running local server, each citing its page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from snowflake.snowpark.exceptions import SnowparkSQLException

from lake.config import Settings
from lake.local import strict
from lake.local.serve import s3_client
from lake.local.stack import Endpoints
from lake.session import procedure_session
from procedures.ingest import copy_outcome
from tests.cases import cases

STATEMENTS = Path(__file__).with_name("statements.yml")  # the cases, as data

STAGE = "LANDING.STRICT_STAGE"
PREFIX = "strict-test/"


@pytest.mark.unit
def test_every_rule_names_its_documentation_page() -> None:
    assert {r.name for r in strict.RULES} == {
        "owners_rights",
        "timezone",
        "copy_status",
        "metadata_filename",
        "directory_refresh",
        "division_by_zero",
        "decimal_aggregates",
        "app_references",
        "app_setup_script",
        "object_kinds",
    }
    assert all(r.page.startswith("https://docs.snowflake.com/") for r in strict.RULES)


@pytest.mark.unit
@pytest.mark.parametrize(("statement", "refused"), cases(STATEMENTS, "refused_in_procedures"))
def test_owners_rights_refuses_what_snowflake_refuses(statement: str, refused: str | None) -> None:
    # https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights
    assert strict.owners_rights_refusal(statement) == refused


@pytest.mark.unit
def test_copy_with_every_file_skipped_answers_one_status_row() -> None:
    # https://docs.snowflake.com/en/sql-reference/sql/copy-into-table (Output)
    skipped = (
        "SELECT * FROM (VALUES\n  ('s3://b/x.csv', 'LOAD_SKIPPED', 0, 0, NULL, 1, 'File was loaded before.', NULL, "
        "NULL, NULL)\n) AS t(file, status, rows_parsed, rows_loaded, error_limit, errors_seen, first_error, "
        "first_error_line, first_error_character, first_error_column_name)"
    )
    assert strict.copy_status_sql(skipped) == strict.COPY_NOTHING
    loaded = skipped.replace("'LOAD_SKIPPED', 0, 0", "'LOADED', 3, 3")
    assert strict.copy_status_sql(loaded) == loaded


class _Row:
    def __init__(self, **fields: Any) -> None:
        self.fields = fields

    def as_dict(self) -> dict[str, Any]:
        return self.fields


@pytest.mark.unit
def test_ingestion_reads_both_copy_result_shapes() -> None:
    per_file = [_Row(file="s3://b/l/x.csv", status="LOADED", rows_parsed=3, rows_loaded=3)]
    assert copy_outcome(per_file) == ("LOADED", 3)
    nothing = [_Row(status="Copy executed with 0 files processed.")]
    assert copy_outcome(nothing) == ("LOAD_SKIPPED", 0)


# --------------------------------------------------------------------------- against the server


@pytest.fixture(scope="module")
def strict_stage(settings: Settings, applied: Endpoints, conn: Any) -> Iterator[str]:
    """An external stage of its own over the local bucket, with one small CSV file."""
    s3 = s3_client(applied.s3_endpoint)
    s3.put_object(Bucket=settings.local.bucket, Key=f"{PREFIX}a/one.csv", Body=b"id,name\n1,x\n2,y\n")
    conn.cursor().execute(f"CREATE OR REPLACE STAGE {STAGE} URL = 's3://{settings.local.bucket}/{PREFIX}'")
    yield STAGE  # left in place: the local engine cannot DROP STAGE, and the state folder is the test's


@pytest.fixture(scope="module")
def conn(settings: Settings, applied: Endpoints) -> Iterator[Any]:  # module-scoped: the stage outlives one test
    from lake.session import connect

    c = connect(settings, applied)
    c.cursor().execute(f"USE SCHEMA {settings.names.landing}")  # fakesnow's COPY with a query wants one
    try:
        yield c
    finally:
        c.close()


@pytest.mark.integration
def test_an_owners_rights_session_refuses_use_with_snowflakes_error(settings: Settings, applied: Endpoints) -> None:
    with procedure_session(settings, applied, "LOAD_VAULT") as session:
        # resolves unqualified names in the schema the procedure was created in
        assert session.sql("SELECT CURRENT_SCHEMA()").collect()[0][0] == settings.names.vault
        for statement in ("USE SCHEMA LANDING", "ALTER SESSION SET TIMEZONE = 'UTC'", "LIST @LANDING.LANDING_STAGE"):
            with pytest.raises(SnowparkSQLException, match=r"090236 .*Unsupported statement type"):
                session.sql(statement)
        with pytest.raises(SnowparkSQLException, match=r"Unsupported statement type 'USE'"):
            session.use_schema("LANDING")


@pytest.mark.integration
def test_the_session_time_zone_is_snowflakes_default(conn: Any) -> None:
    # https://docs.snowflake.com/en/sql-reference/parameters#timezone: America/Los_Angeles
    cur = conn.cursor()
    cur.execute("SELECT DATEDIFF(MINUTE, CURRENT_TIMESTAMP()::TIMESTAMP_NTZ, SYSDATE())")
    behind = cur.fetchone()[0]
    offset = datetime.now(ZoneInfo(strict.SNOWFLAKE_DEFAULT_TIMEZONE)).utcoffset()
    assert offset is not None
    assert abs(behind + offset.total_seconds() / 60) <= 1  # Los Angeles is 7 or 8 hours behind UTC


@pytest.mark.integration
def test_a_copy_with_nothing_to_load_answers_one_status_column(conn: Any, strict_stage: str) -> None:
    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE LANDING.STRICT_COPY (id VARCHAR, name VARCHAR)")
    copy = (
        f"COPY INTO LANDING.STRICT_COPY FROM @{strict_stage} FILES = ('a/one.csv') "
        "FILE_FORMAT = (TYPE = 'CSV' SKIP_HEADER = 1)"
    )
    cur.execute(copy)
    first = cur.fetchall()
    assert [d.name.lower() for d in cur.description][:2] == ["file", "status"] and first[0][1] == "LOADED"
    cur.execute(copy)
    assert [d.name.lower() for d in cur.description] == ["status"]
    assert cur.fetchall() == [("Copy executed with 0 files processed.",)]


@pytest.mark.integration
def test_metadata_filename_includes_the_stage_locations_prefix(conn: Any, strict_stage: str) -> None:
    # https://docs.snowflake.com/en/user-guide/querying-metadata
    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE LANDING.STRICT_NAMES (file_name VARCHAR, id VARCHAR)")
    cur.execute(
        f"COPY INTO LANDING.STRICT_NAMES FROM (SELECT METADATA$FILENAME, $1 FROM @{strict_stage}) "
        "FILES = ('a/one.csv') FILE_FORMAT = (TYPE = 'CSV' SKIP_HEADER = 1)"
    )
    cur.execute("SELECT DISTINCT file_name FROM LANDING.STRICT_NAMES")
    assert cur.fetchall() == [(f"{PREFIX}a/one.csv",)]  # not the stage-relative 'a/one.csv'


@pytest.mark.integration
def test_ingested_rows_name_their_file_stage_relative(ingested: dict[str, Any], conn: Any) -> None:
    # ingestion names a file from what it asked COPY to load, never from METADATA$FILENAME
    cur = conn.cursor()
    cur.execute("SELECT DISTINCT file_name FROM LANDING.CUSTOMERS")
    names = [r[0] for r in cur.fetchall()]
    assert names and all(n.startswith("crm/customers/load_date=") for n in names)


@pytest.mark.integration
def test_a_directory_lists_what_the_last_refresh_found(
    settings: Settings, applied: Endpoints, conn: Any, strict_stage: str
) -> None:
    # https://docs.snowflake.com/en/user-guide/data-load-dirtables-manage
    cur = conn.cursor()
    cur.execute(f"ALTER STAGE {strict_stage} REFRESH")
    query = f"SELECT RELATIVE_PATH FROM DIRECTORY(@{strict_stage}) ORDER BY 1"
    assert [r[0] for r in cur.execute(query).fetchall()] == ["a/one.csv"]
    s3_client(applied.s3_endpoint).put_object(Bucket=settings.local.bucket, Key=f"{PREFIX}b/two.csv", Body=b"id\n3\n")
    assert [r[0] for r in cur.execute(query).fetchall()] == ["a/one.csv"]  # not refreshed yet
    cur.execute(f"ALTER STAGE {strict_stage} REFRESH")
    assert [r[0] for r in cur.execute(query).fetchall()] == ["a/one.csv", "b/two.csv"]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("snowflake", "duckdb"),
    [
        pytest.param(
            "SELECT a / b FROM t",
            "SELECT a / CASE WHEN b = 0 THEN ERROR('Division by zero') ELSE b END FROM t",
            id="divisor_checked",
        ),
        pytest.param("SELECT SUM(amount) FROM t", 'SELECT SUM(amount) AS "SUM(AMOUNT)" FROM t', id="sum_keeps_type"),
        pytest.param("SELECT SUM(amount) AS s FROM t", "SELECT SUM(amount) AS s FROM t", id="sum_aliased"),
        pytest.param("SELECT SUM('1.5') AS s", "SELECT SUM(TRY_CAST('1.5' AS DOUBLE)) AS s", id="text_literal_cast"),
    ],
)
def test_arithmetic_keeps_numbers_and_checks_divisors(snowflake: str, duckdb: str) -> None:
    import sqlglot

    tree = sqlglot.parse_one(snowflake, read="snowflake").transform(strict.arithmetic)
    assert tree.sql(dialect="duckdb") == duckdb


@pytest.mark.integration
def test_division_by_zero_is_an_error_and_div0_answers_zero(conn: Any) -> None:
    # https://docs.snowflake.com/en/sql-reference/functions/div0: "Performs division like the
    # division operator (/), but returns 0 when the divisor is 0 (rather than reporting an error)"
    cur = conn.cursor()
    with pytest.raises(Exception, match=strict.DIVISION_BY_ZERO):
        cur.execute("SELECT 1 / 0")
    with pytest.raises(Exception, match=strict.DIVISION_BY_ZERO):
        cur.execute("SELECT SUM(x) / COUNT_IF(x > 5) FROM (SELECT 1 AS x)")
    cur.execute("SELECT DIV0(1, 0), NULLIF(0, 0), 7 / 2")
    assert cur.fetchone() == (0, None, 3.5)


@pytest.mark.integration
def test_a_sum_of_numbers_stays_a_number(conn: Any) -> None:
    # https://docs.snowflake.com/en/sql-reference/operators-arithmetic: scale and precision
    # are preserved; fakesnow made every SUM a DOUBLE, so cents drifted
    from decimal import Decimal

    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE STRICT_MONEY (amount NUMBER(18, 2))")
    cur.execute("INSERT INTO STRICT_MONEY VALUES (0.1), (0.2), (10582741919.39)")
    cur.execute("CREATE OR REPLACE TABLE STRICT_MONEY_SUM AS SELECT SUM(amount) AS total FROM STRICT_MONEY")
    cur.execute("SELECT total FROM STRICT_MONEY_SUM")
    assert cur.fetchone()[0] == Decimal("10582741919.69")
    cur.execute(
        "SELECT data_type, numeric_scale FROM information_schema.columns "
        "WHERE table_name = 'STRICT_MONEY_SUM' AND column_name = 'TOTAL'"
    )
    assert cur.fetchone() == ("NUMBER", 2)
    # a count of rows (DuckDB: HUGEINT) is NUMBER(38,0), as Snowflake types it
    cur.execute("CREATE OR REPLACE TABLE STRICT_COUNTS AS SELECT COUNT_IF(amount > 1) AS n FROM STRICT_MONEY")
    cur.execute(
        "SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns "
        "WHERE table_name = 'STRICT_COUNTS' AND column_name = 'N'"
    )
    assert cur.fetchone() == ("NUMBER", 38, 0)


@pytest.mark.integration
def test_count_if_over_no_rows_is_zero(conn: Any) -> None:
    # a count, as COUNT: a data metric function RETURNS NUMBER NOT NULL counts with it
    cur = conn.cursor()
    cur.execute("SELECT COUNT_IF(x > 1) AS c, COUNT(x) AS n FROM (SELECT 1 AS x) WHERE 1 = 0")
    assert cur.fetchone() == (0, 0)
    cur.execute("SELECT COUNT_IF(x > 1) FROM (SELECT 2 AS x)")
    assert [d[0] for d in cur.description] == ["COUNT_IF(X > 1)"] and cur.fetchone() == (1,)


@pytest.mark.integration
def test_alter_table_on_a_view_is_refused_as_snowflake_refuses_it(settings: Settings, conn: Any) -> None:
    """ALTER TABLE names a table, ALTER VIEW a view; a data metric function, a tag or a row
    access policy is set on a view with ALTER VIEW
    (https://docs.snowflake.com/en/sql-reference/sql/alter-view). The statements the local
    engine otherwise skips (unsupported.py) are checked against the catalog first."""
    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE TABLE STRICT_KIND_T (x INT)")
    cur.execute("CREATE OR REPLACE VIEW STRICT_KIND_V AS SELECT x FROM STRICT_KIND_T")
    schedule = "SET DATA_METRIC_SCHEDULE = 'USING CRON 30 3 * * * UTC'"
    with pytest.raises(Exception, match=r"Object found is of type 'VIEW', not specified type 'TABLE'"):
        cur.execute(f"ALTER TABLE STRICT_KIND_V {schedule}")
    with pytest.raises(Exception, match=r"Object found is of type 'TABLE', not specified type 'VIEW'"):
        cur.execute(f"ALTER VIEW {settings.names.database}.{settings.names.landing}.STRICT_KIND_T {schedule}")
    cur.execute(f"ALTER VIEW STRICT_KIND_V {schedule}")  # the right kind: skipped locally, as before
    cur.execute(f"ALTER TABLE STRICT_KIND_T {schedule}")
    # the vault's current-state view of a link, which sql/075 and dbt's on-run-end measure
    vault_view = f"{settings.names.database}.{settings.names.vault}.EFF_SAT_CUSTOMER_ACCOUNT_CURRENT"
    with pytest.raises(Exception, match=r"not specified type 'TABLE'"):
        cur.execute(f"ALTER TABLE {vault_view} {schedule}")
