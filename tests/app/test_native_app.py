"""The Native App: `snow app bundle` (snowflake-cli, offline) builds the bundle, which
holds every file the manifest and setup script name; the setup script parses as
Snowflake SQL; its state tables match the DDL the lake ships in sql/."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from sqlglot import exp

from lake import app, snowsql, sqlfiles, task_graph
from lake.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
SNOW = ROOT / ".venv-snow" / "bin" / "snow"
SETUP = ROOT / "native_app" / "setup_script.sql"

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert SNOW.exists(), "snowflake-cli is not installed: `make snow-env` (make test does it)"
    project = tmp_path_factory.mktemp("app-project")
    for name in ("snowflake.yml", "native_app", "procedures", "sql"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, project / name)
    app.zip_procedures(project / "build" / "procedures.zip")
    result = subprocess.run(
        [str(SNOW), "app", "bundle"], cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    deploy = project / "output" / "deploy"
    assert deploy.is_dir(), result.stdout
    return deploy


def statements() -> list[exp.Expr]:
    return [snowsql.parse(s, str(SETUP)) for s in sqlfiles.split(SETUP.read_text())]


def test_the_bundle_holds_what_the_manifest_and_setup_script_reference(bundle: Path) -> None:
    manifest = yaml.safe_load((bundle / "manifest.yml").read_text())
    assert manifest["manifest_version"] == 2
    artifacts = manifest["artifacts"]
    for key in ("setup_script", "readme"):
        assert (bundle / artifacts[key]).is_file(), f"manifest {key} {artifacts[key]!r} is not in the bundle"
    # every '/path' the setup script reads (IMPORTS, Streamlit folder and main file)
    text = (bundle / "setup_script.sql").read_text()
    imports = re.findall(r"IMPORTS = \('([^']+)'\)", text)
    assert imports, "the procedures import nothing"
    for path in imports:
        assert (bundle / path.lstrip("/")).exists(), f"setup script imports {path}, not in the bundle"
    streamlit = re.search(r"FROM '(/[^']*)'\s+MAIN_FILE = '([^']+)'", text)
    assert streamlit, "the setup script creates no Streamlit"
    folder = bundle / streamlit.group(1).lstrip("/")
    assert (folder / streamlit.group(2).lstrip("/")).is_file()
    # the default Streamlit is the one the setup script creates
    created = [s.this.sql() for s in statements() if isinstance(s, snowsql.CreateStreamlit)]
    assert artifacts["default_streamlit"] in created
    # each procedure's handler module is in the imported archive, package path kept
    archived = set(zipfile.ZipFile(bundle / "procedures.zip").namelist())
    for handler in re.findall(r"HANDLER = '([\w.]+)\.\w+'", text):
        assert handler.replace(".", "/") + ".py" in archived, handler
    assert "procedures/rules/gold.yml" in archived
    assert not any("__pycache__" in name for name in archived)
    # the rules the quality procedure loads travel with it
    assert sorted(p.name for p in (bundle / "procedures" / "rules").glob("*.yml")) == [
        "bronze.yml",
        "gold.yml",
        "landing.yml",
        "silver.yml",
        "vault.yml",
    ]
    # every registered callback and reference is declared
    for reference in manifest["references"]:
        ((name, spec),) = reference.items()
        callback = spec["register_callback"]
        assert callback in text, f"reference {name}: callback {callback} is not created by the setup script"


def test_the_setup_script_parses_with_no_unparsed_command() -> None:
    parsed = statements()
    kinds = {type(s).__name__ for s in parsed}
    assert {"CreateRole", "GrantRole", "Create", "CreateStreamlit"} <= kinds, kinds
    assert not any(isinstance(s, exp.Command) for s in parsed)


def test_the_task_graph_the_app_creates_parses_and_calls_the_apps_procedures() -> None:
    """START_PIPELINE runs the app's graph (strings in a Snowflake Scripting body): each
    statement parses, the tasks live in the plain schema PIPELINE and call the app's
    procedures on the consumer's warehouse, and the body holds exactly those statements."""
    schedule = "'USING CRON 0 2 * * * UTC'"
    statements = task_graph.app_sql(app.TASKS_SCHEMA, app.CODE_SCHEMA, "AUDIT", app.WAREHOUSE, schedule)
    parsed = [snowsql.parse(s, "START_PIPELINE") for s in statements]
    tasks = [p for p in parsed if isinstance(p, snowsql.CreateTask)]
    assert len(tasks) == len(task_graph.APP_NODES) + 2  # root and finalizer
    assert {t.this.sql().split(".")[0] for t in tasks} == {"PIPELINE"}
    called = {t.args["body"].this.name for t in tasks if isinstance(t.args["body"], snowsql.Call)}
    assert called == {
        "APP_CODE.INGEST_LANDING",
        "APP_CODE.LOAD_VAULT",
        "APP_CODE.VALIDATE_DATA",
        "APP_CODE.FINISH_PIPELINE_RUN",
    }
    for task in tasks:
        warehouse = next(p for p in task.args["properties"] if p.name.upper() == "WAREHOUSE")
        assert warehouse.args["value"].sql().lower() == "reference('consumer_warehouse')"
    body = SETUP.read_text()
    body = body[body.index("PROCEDURE APP_CODE.START_PIPELINE") : body.index("PROCEDURE APP_CODE.STOP_PIPELINE")]
    for statement in statements:
        if schedule not in statement and task_graph.FINISH not in statement:  # both built from arguments
            assert f"EXECUTE IMMEDIATE '{statement.replace(chr(39), chr(39) * 2)}';" in body, statement[:80]
    assert "ALTER TASK IF EXISTS PIPELINE.LAKE_PIPELINE_ROOT SUSPEND" in SETUP.read_text(), "STOP_PIPELINE"
    # the finalizer tells a failed run through the integration the consumer names
    assert "FINISH_PIPELINE_RUN(''' || NOTIFICATION_INTEGRATION || " in body


def test_the_application_roles_form_a_hierarchy_and_every_procedure_is_granted() -> None:
    parsed = statements()
    roles = {s.this.name for s in parsed if isinstance(s, snowsql.CreateRole) and s.args["kind"] == "APPLICATION ROLE"}
    assert roles == {"APP_ADMIN", "APP_USER", "APP_VIEWER"}
    procedures = {s.this.this.sql() for s in parsed if isinstance(s, exp.Create) and s.args.get("kind") == "PROCEDURE"}
    text = SETUP.read_text()
    for name in procedures:
        assert re.search(rf"GRANT USAGE ON PROCEDURE {re.escape(name)}\(", text), f"{name} is granted to no role"


def _tables(sql: str) -> dict[str, list[tuple[str, str]]]:
    found = {}
    for statement in (snowsql.parse(s) for s in sqlfiles.split(sql)):
        target = statement.this if isinstance(statement, exp.Create) else None
        if isinstance(target, exp.Schema) and statement.args.get("kind") == "TABLE":
            found[target.this.sql().split(".")[-1].upper()] = [
                (c.name.upper(), c.args["kind"].sql("snowflake"))
                for c in target.expressions
                if isinstance(c, exp.ColumnDef)
            ]
    return found


def test_the_app_creates_every_table_of_the_shipped_ddl_with_the_same_columns() -> None:
    """One source for both deployments: each table sql/ creates for the procedures is in
    the setup script with the same columns, and each column is also added by ALTER TABLE
    ... ADD COLUMN IF NOT EXISTS (an upgrade adds a new version's columns)."""
    values = {"database": "LAKE", **{f"{k}_schema": v for k, v in Settings().names.schemas.items()}}
    values |= {"landing_stage": "LANDING_STAGE", "landing_url": "s3://b/landing/", "storage_integration": "I"}
    values |= {"aws_role_arn": "arn", "role_prefix": "LAKE"}
    shipped: dict[str, list[tuple[str, str]]] = {}
    for name in app.STATE_FILES:
        shipped |= _tables(sqlfiles.render((ROOT / "sql" / name).read_text(), values, name))
    text = SETUP.read_text()
    assert _tables(text) == shipped
    assert {"LOAD_LOCK", "LOADED_BATCHES", "INGESTED_FILES", "SETTINGS", "PROCEDURE_RUNS", "RULE_RESULTS"} <= set(
        shipped
    )
    for table, columns in shipped.items():
        for column, _ in columns:
            assert re.search(rf"ALTER TABLE \w+\.{table} ADD COLUMN IF NOT EXISTS {column} ", text, re.I), (
                table,
                column,
            )
