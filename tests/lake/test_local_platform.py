"""The local platform end to end: real moto and fakesnow servers on loopback, real boto3,
connector and Snowpark, the same handler Snowflake calls."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from snowflake.connector.errors import ProgrammingError
from typer.testing import CliRunner

from lake import pipeline
from lake.cli import app
from lake.config import LocalTarget, Settings
from lake.local.stack import Endpoints, LocalStack
from lake.session import connect
from procedures import landing
from procedures.handlers import generate_sample_data
from procedures.sample_data import Plan
from procedures.spec import ENTITIES

pytestmark = pytest.mark.integration


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def control_rows(endpoints: Endpoints, producer: str, entity: str, load_date: str) -> list[dict[str, str]]:
    from lake.local.serve import s3_client

    body = (
        s3_client(endpoints.s3_endpoint)
        .get_object(Bucket=endpoints.bucket, Key=f"landing/{producer}/{entity}/load_date={load_date}/_control.csv")[
            "Body"
        ]
        .read()
    )
    return list(csv.DictReader(io.StringIO(body.decode())))


def test_landed_files_are_listed_through_the_stage(generated: dict[str, Any], conn: Any) -> None:
    # the generated batches' files (other tests land other dates)
    dates = [f"/load_date={b[1:5]}-{b[5:7]}-{b[7:9]}/" for b in generated["batches"]]
    everything = [r[0] for r in rows(conn, "LIST @LANDING.LANDING_STAGE")]
    listed = [n for n in everything if any(d in n for d in dates)]
    data = [n for n in listed if "/part-" in n]
    controls = [n for n in listed if n.endswith("/_control.csv")]
    assert len(data) == generated["files"]
    assert len(controls) == len(ENTITIES) * len(generated["batches"])
    assert all(n.startswith("s3://lake-landing/landing/") for n in everything)
    sub = [r[0] for r in rows(conn, "LIST @LAKE.LANDING.LANDING_STAGE/crm/customers/")]
    assert sub and all("/crm/customers/load_date=" in n for n in sub)


def test_copy_reads_landed_files_from_the_s3_stage(generated: dict[str, Any], conn: Any, applied: Endpoints) -> None:
    """The local engine's COPY reads the moto bucket itself, with Snowflake's load history."""
    control = control_rows(applied, "operations", "orders", "2026-01-06")
    path = f"operations/orders/load_date=2026-01-06/{control[0]['file_name']}"
    rows(conn, "CREATE OR REPLACE TABLE LANDING.T_ORDERS (order_id VARCHAR, order_status VARCHAR, unit_price VARCHAR)")
    copy = (
        f"COPY INTO LANDING.T_ORDERS FROM @LANDING.LANDING_STAGE FILES = ('{path}') "
        "FILE_FORMAT = (TYPE = 'PARQUET') MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE"
    )
    first = rows(conn, copy)
    assert first[0][1] == "LOADED" and first[0][3] == int(control[0]["row_count"])
    again = rows(conn, copy)
    # nothing left to load: Snowflake answers one status row (lake/local/strict.py, copy_status)
    assert again == [("Copy executed with 0 files processed.",)]
    assert rows(conn, "SELECT count(*) FROM LANDING.T_ORDERS")[0][0] == int(control[0]["row_count"])

    crm = control_rows(applied, "crm", "customers", "2026-01-05")
    rows(conn, "CREATE OR REPLACE TABLE LANDING.T_CUSTOMERS (" + ", ".join(f"c{i} VARCHAR" for i in range(18)) + ")")
    loaded = rows(
        conn,
        "COPY INTO LANDING.T_CUSTOMERS FROM @LANDING.LANDING_STAGE "
        f"FILES = ('crm/customers/load_date=2026-01-05/{crm[0]['file_name']}') "
        "FILE_FORMAT = (TYPE = 'CSV' SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"')",
    )
    assert loaded[0][3] == int(crm[0]["row_count"])
    # scratch copies of client rows would be personal data the erasure tests find left over
    rows(conn, "DROP TABLE LANDING.T_CUSTOMERS")
    rows(conn, "DROP TABLE LANDING.T_ORDERS")


def test_sql_transactions_commit_and_roll_back(conn: Any) -> None:
    rows(conn, "CREATE OR REPLACE TABLE AUDIT.T_TX (id INT)")
    rows(conn, "BEGIN")
    rows(conn, "INSERT INTO AUDIT.T_TX VALUES (1)")
    rows(conn, "ROLLBACK")
    rows(conn, "BEGIN TRANSACTION")
    rows(conn, "INSERT INTO AUDIT.T_TX VALUES (2)")
    rows(conn, "COMMIT")
    assert rows(conn, "SELECT id FROM AUDIT.T_TX") == [(2,)]


def test_a_syntax_error_is_answered_not_retried(conn: Any) -> None:
    with pytest.raises(ProgrammingError, match="Invalid expression"):
        rows(conn, "selec 1 from nowhere")
    assert rows(conn, "SELECT 1") == [(1,)]


def test_generation_is_audited(generated: dict[str, Any], conn: Any) -> None:
    audit = rows(
        conn,
        "SELECT status, rows_written, error FROM AUDIT.PROCEDURE_RUNS "
        "WHERE procedure_name = 'GENERATE_SAMPLE_DATA' AND rows_written = "
        f"{generated['total_rows']}",
    )
    assert audit and audit[0][0] == "SUCCEEDED" and audit[0][2] is None


def test_the_worksheet_call_resolves_the_stage(session: Any, applied: Endpoints) -> None:
    """`CALL GENERATE_SAMPLE_DATA(40, 1, 7)` in Snowflake runs `main` with positional arguments."""
    summary = generate_sample_data.main(session, 40, 1, 7, "2027-03-01")
    assert summary["landing_url"] == "s3://lake-landing/landing/"
    assert summary["rows"]["customers"] == 40
    assert control_rows(applied, "crm", "customers", "2027-03-01")[0]["row_count"] == "40"


def test_unwritable_bucket_is_named(session: Any) -> None:
    with pytest.raises(landing.LandingError, match=r"landing bucket s3://no-such-bucket/ is not writable"):
        generate_sample_data.run(session, Plan.build(scale=10), landing_url="s3://no-such-bucket/landing/")


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """After `make run` the servers stop; `lake sql` starts them again on what was left."""
    settings = Settings(local=LocalTarget(state_dir=tmp_path / "state"))
    stack = LocalStack(settings.local)
    with pipeline.target(settings) as endpoints:
        pipeline.setup(settings, endpoints)
        pipeline.generate(settings, endpoints, Plan.build(scale=30, days=1, seed=2))
        assert endpoints is not None
        first_port = endpoints.snowflake_port
    assert stack.running() is None
    with pipeline.target(settings) as endpoints:
        # the same port again, so dbt's profile (which includes it) and its partial parse hold
        assert endpoints is not None and endpoints.snowflake_port == first_port
        conn = connect(settings, endpoints)
        try:
            listed = [r for r in rows(conn, "LIST @LANDING.LANDING_STAGE") if "/_generator/" not in r[0]]
            runs = rows(conn, "SELECT count(*) FROM AUDIT.PROCEDURE_RUNS")
        finally:
            conn.close()
    assert len(listed) == 2 * len(ENTITIES) and runs == [(1,)]


# --------------------------------------------------------------------------- the CLI


@pytest.fixture()
def cli_env(settings: Settings, applied: Endpoints) -> dict[str, str]:
    return {"LAKE_STATE_DIR": str(settings.local.state_dir), "COLUMNS": "200"}


def test_lake_sql_formats(generated: dict[str, Any], cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    query = "SELECT procedure_name, status FROM AUDIT.PROCEDURE_RUNS WHERE status = 'SUCCEEDED' LIMIT 1"
    as_csv = runner.invoke(app, ["sql", query, "--format", "csv"], env=cli_env)
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output.splitlines() == ["PROCEDURE_NAME,STATUS", "GENERATE_SAMPLE_DATA,SUCCEEDED"]
    as_json = runner.invoke(app, ["sql", query, "-f", "json"], env=cli_env)
    assert '"STATUS": "SUCCEEDED"' in as_json.output
    table = runner.invoke(app, ["sql", "LIST @LANDING.LANDING_STAGE/finance/"], env=cli_env)
    assert table.exit_code == 0 and "finance/accounts/load_date=2026-01-05" in table.output


def test_lake_sql_error_is_one_line_and_non_zero(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["sql", "SELECT * FROM VAULT.NO_SUCH_TABLE"], env=cli_env)
    assert result.exit_code == 1
    assert "error:" in result.output and "NO_SUCH_TABLE" in result.output.upper()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["generate", "--scale", "-5"],
            "Invalid value for '--scale': Input should be greater than or equal to 1",
            id="negative_scale",
        ),
        pytest.param(["generate", "--formats", "xml"], "unknown file format 'xml'", id="unknown_format"),
        pytest.param(["run", "--days", "0"], "Invalid value for '--days'", id="zero_days"),
    ],
)
def test_bad_arguments_exit_non_zero_with_one_message(args: list[str], message: str, cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, args, env=cli_env)
    assert result.exit_code != 0
    text = re.sub(r"[│╭╮╰╯─]", " ", result.output)  # typer draws usage errors in a box
    assert message in " ".join(text.split())


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    result = CliRunner().invoke(app, ["generate", "--scale", "10", "--out", str(blocked / "x")])
    assert result.exit_code == 1 and "is not writable" in result.output


@pytest.mark.parametrize(
    "command", ["up", "down", "status", "run", "generate", "upload", "sql", "config", "quality", "tasks"]
)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "Usage" in result.output


def test_generate_out_then_upload(tmp_path: Path, cli_env: dict[str, str], conn: Any) -> None:
    """`make generate-data` then `make upload-data`: a folder in the landing layout reaches the bucket."""
    out = tmp_path / "sample"
    runner = CliRunner()
    made = runner.invoke(
        app, ["generate", "--scale", "20", "--start-date", "2028-02-01", "--out", str(out)], env=cli_env
    )
    assert made.exit_code == 0, made.output
    sent = runner.invoke(app, ["upload", str(out)], env=cli_env)
    assert sent.exit_code == 0, sent.output
    listed = [r[0] for r in rows(conn, "LIST @LANDING.LANDING_STAGE/crm/customers/load_date=2028-02-01/")]
    assert sorted(Path(n).name for n in listed) == ["_control.csv", "part-0000.parquet"]


def test_an_unsupported_statement_fails_as_a_query(conn: Any) -> None:
    """The local engine's own failures come back as failed queries, not as errors the
    connector would retry."""
    with pytest.raises(ProgrammingError):
        rows(conn, "EXECUTE IMMEDIATE 'SELECT 1'")
    assert rows(conn, "SELECT 2") == [(2,)]


def test_closing_a_connection_completes(settings: Settings, applied: Endpoints) -> None:
    """A connection that cannot close would be closed again at interpreter exit, against
    servers that are gone by then."""
    c = connect(settings, applied)
    c.close()
    assert c.is_closed()


def test_reconciliation_finds_missing_extra_and_altered_files(
    session: Any, conn: Any, applied: Endpoints, cli_env: dict[str, str]
) -> None:
    from lake.local.serve import s3_client
    from lake.reconcile import reconcile

    generate_sample_data.run(session, Plan.build(scale=20, start_date="2029-06-01", formats="csv"))
    s3 = s3_client(applied.s3_endpoint)
    # the day's folders only: other tests' deliberate mistakes stand in the shared landing zone
    clean = reconcile(conn, s3, "s3://lake-landing/landing/", "LANDING.LANDING_STAGE", batch="B20290601")
    assert clean.ok and len(clean.partitions) >= len(ENTITIES)
    ok = CliRunner().invoke(app, ["quality", "--landing-only", "--batch", "B20290601"], env=cli_env)
    assert ok.exit_code == 0 and "partitions match their control files" in ok.output

    base = "landing/crm/customers/load_date=2029-06-01/"
    original = s3.get_object(Bucket="lake-landing", Key=base + "part-0000.csv")["Body"].read()
    accounts = "landing/finance/accounts/load_date=2029-06-01/part-0000.csv"
    removed = s3.get_object(Bucket="lake-landing", Key=accounts)["Body"].read()
    try:
        s3.put_object(Bucket="lake-landing", Key=base + "part-0000.csv", Body=original.replace(b"C0", b"X0", 1))
        s3.put_object(Bucket="lake-landing", Key=base + "part-0099.csv", Body=original)
        s3.delete_object(Bucket="lake-landing", Key=accounts)
        found = reconcile(conn, s3, "s3://lake-landing/landing/", "LANDING.LANDING_STAGE", batch="B20290601")
        kinds = {(p.partition.split("/")[1], p.file_name, p.kind) for p in found.problems}
        assert kinds == {
            ("customers", "part-0000.csv", "md5_mismatch"),
            ("customers", "part-0099.csv", "extra"),
            ("accounts", "part-0000.csv", "missing"),
        }
        failed = CliRunner().invoke(app, ["quality", "--landing-only", "--batch", "B20290601"], env=cli_env)
        assert failed.exit_code == 1 and "3 landing files do not match their control files" in failed.output
    finally:
        s3.put_object(Bucket="lake-landing", Key=base + "part-0000.csv", Body=original)
        s3.delete_object(Bucket="lake-landing", Key=base + "part-0099.csv")
        s3.put_object(Bucket="lake-landing", Key=accounts, Body=removed)


@pytest.mark.parametrize(
    ("producer", "entity"),
    [
        pytest.param("crm", "customers", id="csv"),
        pytest.param("finance", "accounts", id="json"),
        pytest.param("operations", "orders", id="parquet"),
    ],
)
def test_copy_transformation_keeps_file_name_and_row_number(
    generated: dict[str, Any], conn: Any, applied: Endpoints, producer: str, entity: str
) -> None:
    """Every landed row, as text, with the file it came from and its row in that file:
    what ingestion needs so a quarantined row can be traced to its source."""
    from lake.local.serve import s3_client
    from procedures.spec import entity as spec_entity

    ent = spec_entity(entity)
    control = control_rows(applied, producer, entity, "2026-01-06")[0]
    path = f"{producer}/{entity}/load_date=2026-01-06/{control['file_name']}"
    fmt = control["file_format"]
    table = f"LANDING.T_{entity.upper()}_{fmt.upper()}"
    columns = ", ".join(f"{c} VARCHAR" for c in ent.column_names)
    rows(conn, f"CREATE OR REPLACE TABLE {table} ({columns}, file_name VARCHAR, file_row_number NUMBER)")
    fields = [f"${i}" if fmt == "csv" else f"$1:{c}" for i, c in enumerate(ent.column_names, start=1)]
    file_format = {
        "csv": "TYPE = 'CSV' SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"'",
        "json": "TYPE = 'JSON'",
        "parquet": "TYPE = 'PARQUET'",
    }[fmt]
    rows(conn, "USE SCHEMA LANDING")
    loaded = rows(
        conn,
        f"COPY INTO {table} FROM (SELECT {', '.join(fields)}, METADATA$FILENAME, METADATA$FILE_ROW_NUMBER "
        f"FROM @LANDING.LANDING_STAGE) FILES = ('{path}') FILE_FORMAT = ({file_format})",
    )
    assert loaded[0][1] == "LOADED" and loaded[0][3] == int(control["row_count"])
    got = rows(conn, f"SELECT * FROM {table} ORDER BY file_row_number")
    body = s3_client(applied.s3_endpoint).get_object(Bucket=applied.bucket, Key=f"landing/{path}")["Body"].read()
    expected = [
        # METADATA$FILENAME is the file's path with the stage location's prefix (strict.py)
        (*row.values(), f"landing/{path}", number)
        for number, row in enumerate(landing.read_back(body, fmt).to_pylist(), start=1)  # type: ignore[arg-type]
    ]
    assert got == expected


@pytest.mark.integration
def test_the_pipeline_runs_on_files_producers_dropped(tmp_path: Path) -> None:
    """No generation: producer files uploaded with `lake upload` go through `lake ingest`,
    `lake load` and `lake validate`, each audited like the graph's tasks, on a state folder
    whose schema `lake up` created."""

    runner = CliRunner()
    env = {"LAKE_STATE_DIR": str(tmp_path / "state"), "COLUMNS": "200"}
    dropped = tmp_path / "dropped"
    made = runner.invoke(
        app, ["generate", "--out", str(dropped), "--scale", "60", "--start-date", "2035-06-01"], env=env
    )
    assert made.exit_code == 0, made.output
    up = runner.invoke(app, ["up", "--no-persist-s3"], env=env)
    try:
        assert up.exit_code == 0 and "applied sql/" in up.output, up.output
        assert runner.invoke(app, ["upload", str(dropped)], env=env).exit_code == 0
        ingested = runner.invoke(app, ["ingest"], env=env)
        assert ingested.exit_code == 0 and "B20350601" in ingested.output, ingested.output
        assert " 0 reconciliation issues" in ingested.output
        loaded = runner.invoke(app, ["load", "--batch", "B20350601"], env=env)
        assert loaded.exit_code == 0 and "LOAD_VAULT:" in loaded.output, loaded.output
        validated = runner.invoke(app, ["validate", "--layer", "landing,vault"], env=env)
        assert validated.exit_code == 0 and " 0 failed" in validated.output, validated.output
        audit = runner.invoke(
            app,
            ["sql", "SELECT procedure_name, status FROM AUDIT.PROCEDURE_RUNS ORDER BY started_at", "-f", "csv"],
            env=env,
        )
        assert audit.output.splitlines()[1:] == [
            "INGEST_LANDING,SUCCEEDED",
            "LOAD_VAULT,SUCCEEDED",
            "VALIDATE_DATA,SUCCEEDED",
        ], audit.output
        bad = runner.invoke(app, ["validate", "--layer", "platinum"], env=env)
        assert bad.exit_code == 1 and "layer must be one of" in bad.output
    finally:
        runner.invoke(app, ["down"], env=env)


@pytest.mark.integration
def test_landing_files_are_never_overwritten(session: Any, applied: Endpoints) -> None:
    """The same seed and date again writes the same bytes (accepted); another scale over a
    date already landed is refused, naming the file, and the landed file is untouched."""
    from lake.local.serve import s3_client

    generate_sample_data.run(session, Plan.build(scale=20, start_date="2027-07-05", formats="csv"))
    key = "landing/crm/customers/load_date=2027-07-05/part-0000.csv"
    s3 = s3_client(applied.s3_endpoint)
    before = s3.get_object(Bucket=applied.bucket, Key=key)["Body"].read()
    generate_sample_data.run(session, Plan.build(scale=20, start_date="2027-07-05", formats="csv"))  # identical: fine
    with pytest.raises(landing.LandingError, match=r"s3://lake-landing/landing/.*load_date=2027-07-05/.* immutable"):
        generate_sample_data.run(session, Plan.build(scale=25, start_date="2027-07-05", formats="csv"))
    assert s3.get_object(Bucket=applied.bucket, Key=key)["Body"].read() == before
