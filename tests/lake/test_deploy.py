"""``lake deploy --plan``: the whole in-warehouse deployment, in order, offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from lake import deploy, snowsql, task_graph
from lake.config import ConfigError, Settings, SnowflakeTarget

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> deploy.Plan:
    return deploy.plan(Settings(), tmp_path_factory.mktemp("deploy"))


def _sections(plan: deploy.Plan) -> list[str]:
    return [s.split(".")[0] for s in plan.sections()]


def test_the_plan_runs_in_the_documented_order(plan: deploy.Plan) -> None:
    order = list(dict.fromkeys(_sections(plan)))
    # 0: the account bootstrap, run once by ACCOUNTADMIN; 6: the weekly sample-data task (dev)
    assert order == ["0", "1", "2", "3", "4", "5", "6"]
    assert {s.role for s in plan.steps if s.bootstrap} == {"ACCOUNTADMIN"}
    assert not [s for s in plan.steps if not s.bootstrap and s.role]  # the rest as the deployer
    statements = [s.statement for s in plan.steps]
    first_procedure = next(i for i, s in enumerate(statements) if s.startswith("CREATE OR REPLACE PROCEDURE"))
    upload = next(i for i, s in enumerate(statements) if s.startswith("PUT") and "procedures.zip" in s)
    assert upload < first_procedure  # the artifact is on the stage before a procedure imports it


def test_every_statement_of_the_plan_parses_as_snowflake_sql(plan: deploy.Plan) -> None:
    for step in plan.steps:
        snowsql.parse(step.statement, step.section)  # raises on a syntax error or an opaque command


def test_every_procedure_is_created_with_snowpark_and_its_imports(plan: deploy.Plan) -> None:
    created = [s.statement for s in plan.steps if s.statement.startswith("CREATE OR REPLACE PROCEDURE")]
    names = [re.match(r"CREATE OR REPLACE PROCEDURE (\S+)\(", s)[1] for s in created]  # type: ignore[index]
    assert names == [
        "LAKE.LANDING.GENERATE_SAMPLE_DATA",
        "LAKE.LANDING.INGEST_LANDING",
        "LAKE.LANDING.BIND_LANDING_STAGE",
        "LAKE.VAULT.LOAD_VAULT",
        "LAKE.QUALITY.VALIDATE_DATA",
        "LAKE.QUALITY.PUBLISH_GOLD",
        "LAKE.AUDIT.FINISH_PIPELINE_RUN",
        "LAKE.AUDIT.REPLAY",
        "LAKE.VAULT.ERASE_SUBJECT",
    ]
    for statement in created:
        assert "PACKAGES = ('snowflake-snowpark-python'" in statement
        assert "EXECUTE AS OWNER" in statement
    generator = created[0]
    assert "EXTERNAL_ACCESS_INTEGRATIONS = (LAKE_LANDING_ACCESS)" in generator
    assert "SECRETS = ('landing_s3' = LAKE.LANDING.LANDING_S3)" in generator
    assert "'faker'" in generator and "'pyyaml'" in created[4]


def test_the_generators_egress_objects_are_created_before_it(plan: deploy.Plan) -> None:
    egress = [s.statement for s in plan.steps if s.section.startswith("2.")]
    assert [s.split("\n")[0] for s in egress] == [
        "CREATE OR REPLACE NETWORK RULE LAKE.LANDING.LANDING_S3_EGRESS",
        "CREATE OR REPLACE SECRET LAKE.LANDING.LANDING_S3",
        "CREATE OR REPLACE EXTERNAL ACCESS INTEGRATION LAKE_LANDING_ACCESS",
    ]
    assert "'lake-landing.s3.amazonaws.com'" in egress[0]
    statements = [s.statement for s in plan.steps]
    generator = next(i for i, s in enumerate(statements) if "PROCEDURE LAKE.LANDING.GENERATE_SAMPLE_DATA" in s)
    assert statements.index(egress[-1]) < generator


def test_the_secret_is_masked_in_the_plan_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shown = deploy.plan(Settings(), tmp_path)
    secret = next(s for s in shown.steps if "SECRET" in s.statement.split("\n")[0])
    assert "<from LAKE_GENERATOR_AWS_SECRET_KEY>" in secret.printable
    monkeypatch.delenv(deploy.GENERATOR_KEY_ID, raising=False)
    with pytest.raises(ConfigError, match="LAKE_GENERATOR_AWS_KEY_ID"):
        deploy.plan(Settings(), tmp_path, reveal=True)
    monkeypatch.setenv(deploy.GENERATOR_KEY_ID, "AKIA-TEST")
    monkeypatch.setenv(deploy.GENERATOR_SECRET_KEY, "not-a-real-secret")  # pragma: allowlist secret
    revealed = deploy.plan(Settings(), tmp_path, reveal=True)
    secret = next(s for s in revealed.steps if "SECRET" in s.statement.split("\n")[0])
    assert "not-a-real-secret" in secret.statement and "not-a-real-secret" not in secret.printable
    assert "not-a-real-secret" not in revealed.render()


def test_the_dbt_project_is_pinned_to_the_managed_runtime(plan: deploy.Plan) -> None:
    project = next(s.statement for s in plan.steps if "DBT PROJECT" in s.statement)
    assert f"DBT_VERSION = '{deploy.DBT_VERSION}'" in project and "DEFAULT_TARGET = 'snowflake'" in project
    profile = yaml.safe_load((plan.out / "dbt" / "profiles.yml").read_text())
    assert profile["lake"]["target"] == "snowflake"  # a literal, not a Jinja expression
    assert (plan.out / "dbt" / "dbt_project.yml").is_file() and (plan.out / "dbt" / "models" / "gold").is_dir()
    # the dbt that runs locally is the one Snowflake runs
    assert metadata.version("dbt-core") == deploy.DBT_VERSION
    dbt_tasks = [node.call("LAKE", Settings().names.schemas) for node in task_graph.NODES if node.select]
    assert dbt_tasks and all(f"--target {deploy.DBT_TARGET}" in statement for statement in dbt_tasks)
    # beside the tasks: the publishing swap moves everything gold holds
    assert all(statement.startswith("EXECUTE DBT PROJECT LAKE.AUDIT.") for statement in dbt_tasks)


def test_every_task_and_the_finalizer_are_created_and_the_root_resumed_last(plan: deploy.Plan) -> None:
    tasks = [s.statement for s in plan.steps if s.section.startswith("5.")]
    created = [re.search(r"TASK \S+\.(\w+) ", s)[1] for s in tasks if s.startswith("CREATE")]  # type: ignore[index]
    assert created == [task_graph.ROOT, *[n.task for n in task_graph.order()], task_graph.FINALIZER]
    assert tasks[0].startswith("ALTER TASK IF EXISTS") and tasks[0].endswith("SUSPEND")
    assert "SYSTEM$TASK_DEPENDENTS_ENABLE" in tasks[-2] and tasks[-1].endswith(f"{task_graph.ROOT} RESUME")
    load = next(s for s in tasks if "LAKE_LOAD_VAULT WAREHOUSE" in s)
    assert "LOCK_TIMEOUT = 60" in load  # a lock wait ends inside the task's own timeout


def test_the_finalizer_calls_the_recording_procedure_with_the_integration_and_the_graph(
    plan: deploy.Plan,
) -> None:
    finalizer = next(s.statement for s in plan.steps if f"TASK LAKE.AUDIT.{task_graph.FINALIZER} " in s.statement)
    expected = json.dumps(task_graph.expected())
    assert finalizer.endswith(f"AS CALL LAKE.AUDIT.{task_graph.FINISH}('LAKE_NOTIFICATIONS', '{expected}', '', '', '')")


def test_the_procedures_import_graph_decides_their_packages(tmp_path: Path) -> None:
    assert deploy.packages(deploy.procedure("VALIDATE_DATA")) == ("snowflake-snowpark-python", "pyyaml")
    package = tmp_path / "procedures"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("def f():\n    import requests_oauthlib\n")
    (package / "handler.py").write_text("from procedures import helper\n")
    proc = deploy.Procedure("X", "landing", "procedures.handler.main", (), "VARIANT")
    with pytest.raises(deploy.DeployError, match=r"procedures\.handler\.main imports 'requests_oauthlib'"):
        deploy.packages(proc, package)


def test_the_pipeline_role_must_read_clear_values() -> None:
    target = SnowflakeTarget(account="a", user="u", landing_url="s3://bucket-x/landing/", role="LAKE_ANALYST")
    with pytest.raises(ConfigError, match=r"LAKE_ANALYST.*cannot run the pipeline"):
        deploy.check_pipeline_role(Settings(target="snowflake", snowflake=target))
    deploy.check_pipeline_role(
        Settings(target="snowflake", snowflake=target.model_copy(update={"role": "LAKE_ENGINEER"}))
    )


def test_deploy_without_a_snowflake_target_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="LAKE_TARGET=snowflake"):
        deploy.execute(Settings())


def test_lake_deploy_plan_prints_the_plan_offline(tmp_path: Path) -> None:
    done = subprocess.run(
        [Path(sys.executable).with_name("lake"), "deploy", "--plan", "--out", tmp_path],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "CREATE DBT PROJECT IF NOT EXISTS" in done.stdout and "-- 5. the task graph" in done.stdout
    assert "steps; artifacts in" in done.stderr


def test_the_native_apps_procedures_declare_what_their_handlers_import() -> None:
    script = (ROOT / "native_app" / "setup_script.sql").read_text()
    created = re.findall(r"CREATE OR REPLACE PROCEDURE APP_CODE\.(\w+)\(.*?PACKAGES = \(([^)]*)\)", script, re.DOTALL)
    assert created
    for name, listed in created:
        declared = {p.strip().strip("'") for p in listed.split(",")}
        assert set(deploy.packages(deploy.procedure(name))) <= declared, name


def test_requirements_txt_lists_every_package_a_procedure_declares() -> None:
    listed = {line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line and line[0] != "#"}
    declared = {p for proc in deploy.procedures() for p in deploy.packages(proc)}
    assert declared == listed


def test_a_real_account_needs_the_iam_role_arn_not_a_dummy() -> None:
    from lake import sqlfiles

    target = SnowflakeTarget(account="a", user="u", landing_url="s3://bucket-x/landing/", role="LAKE_ADMIN")
    settings = Settings(target="snowflake", snowflake=target)
    with pytest.raises(sqlfiles.SqlFileError, match="LAKE_AWS_ROLE_ARN is not set"):
        sqlfiles.apply(None, settings)  # refused before any statement is sent
    with pytest.raises(ConfigError, match="LAKE_AWS_ROLE_ARN"):
        deploy.execute(settings)
    assert "000000000000" not in sqlfiles.variables(settings)["aws_role_arn"]


def test_the_dbt_project_keeps_its_history_and_loses_deleted_models(plan: deploy.Plan) -> None:
    """A deploy adds a version to the dbt project object (replacing it would discard its
    run history: https://docs.snowflake.com/en/sql-reference/sql/create-dbt-project), from
    a stage folder emptied first (PUT never deletes: a deleted model would deploy again)."""
    dbt_steps = [s.statement for s in plan.steps if s.section.startswith("4.")]
    assert not [s for s in dbt_steps if "CREATE OR REPLACE DBT PROJECT" in s]
    assert dbt_steps[0] == "REMOVE @LAKE.LANDING.LAKE_CODE/dbt/"
    assert all(s.startswith("PUT ") for s in dbt_steps[1:-2])
    assert dbt_steps[-2].startswith("CREATE DBT PROJECT IF NOT EXISTS LAKE.AUDIT.LAKE_DBT")
    assert dbt_steps[-1] == "ALTER DBT PROJECT LAKE.AUDIT.LAKE_DBT ADD VERSION FROM '@LAKE.LANDING.LAKE_CODE/dbt'"


def test_retries_and_suspension_of_the_graph_come_from_configuration(tmp_path: Path) -> None:
    """A failed graph run is retried from its failed task, and the graph suspended after
    repeated failures (TASK_AUTO_RETRY_ATTEMPTS, SUSPEND_TASK_AFTER_NUM_FAILURES on the root:
    https://docs.snowflake.com/en/sql-reference/parameters), as configured."""
    from lake.config import ConfigError, load_settings

    settings = load_settings(env={"LAKE_TASK_RETRIES": "2", "LAKE_SUSPEND_AFTER_FAILURES": "5"})
    built = deploy.plan(settings, tmp_path)
    (root,) = [s.statement for s in built.steps if f".{task_graph.ROOT} WAREHOUSE" in s.statement]
    assert "TASK_AUTO_RETRY_ATTEMPTS = 2 SUSPEND_TASK_AFTER_NUM_FAILURES = 5" in root
    snowsql.parse(root, "root task")
    with pytest.raises(ConfigError, match=r"task_retries.*LAKE_TASK_RETRIES.*less than or equal to 30"):
        load_settings(env={"LAKE_TASK_RETRIES": "31"})


def test_a_dev_deployment_has_a_weekly_sample_data_task_created_suspended(plan: deploy.Plan) -> None:
    """The brief's weekly data generation, inside Snowflake: a standalone task calling
    GENERATE_SAMPLE_DATA for a week from the day it runs. CREATE TASK creates it suspended
    and nothing resumes it; production deploys none."""
    weekly = [s.statement for s in plan.steps if s.section.startswith("6.")]
    assert len(weekly) == 1 and f"TASK LAKE.AUDIT.{task_graph.SAMPLE_DATA_TASK} " in weekly[0]
    assert "SCHEDULE = 'USING CRON 0 5 * * 1 UTC'" in weekly[0]
    assert "CALL LAKE.LANDING.GENERATE_SAMPLE_DATA(1000, 7, DAYOFYEAR(CURRENT_DATE()), TO_VARCHAR(" in weekly[0]
    assert not [s for s in plan.steps if task_graph.SAMPLE_DATA_TASK in s.statement and "RESUME" in s.statement]
    production = Settings(sample_data_schedule="off")
    assert task_graph.sample_data_sql(production, "LAKE_WH") == []
    from lake.config import load_settings

    assert load_settings(env={"LAKE_ENVIRONMENT": "prod"}).sample_data_schedule == "off"
    assert load_settings(env={"LAKE_ENVIRONMENT": "dev"}).sample_data_schedule.startswith("USING CRON")
