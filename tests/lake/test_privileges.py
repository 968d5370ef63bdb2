"""The deploy plan against the privilege model (lake/privileges.py): every statement's role
holds what Snowflake's documentation says it needs, every grant of the account bootstrap
is needed, and a missing grant names the statement it breaks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lake import deploy, privileges
from lake.config import Settings, load_settings
from procedures import governance

pytestmark = pytest.mark.unit

PROD = {
    "LAKE_ENVIRONMENT": "prod",
    "LAKE_TARGET": "snowflake",
    "SNOWFLAKE_ACCOUNT": "acme-prod",
    "SNOWFLAKE_USER": "deployer",
}


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Settings, deploy.Plan]]:
    found = {}
    for name, settings in (("default", Settings()), ("prod", load_settings(env=PROD))):
        found[name] = (settings, deploy.plan(settings, tmp_path_factory.mktemp(name)))
    return found


@pytest.mark.parametrize("name", ["default", "prod"])
def test_every_section_runs_as_a_role_that_holds_what_it_needs(
    plans: dict[str, tuple[Settings, deploy.Plan]], name: str
) -> None:
    settings, plan = plans[name]
    checked = deploy.check_privileges(settings, plan)
    roles = {c.section.split(" ")[0]: c.role for c in checked}
    prefix = settings.names.role_prefix
    assert roles["0."] == "ACCOUNTADMIN"
    assert {r for s, r in roles.items() if s != "0."} == {f"{prefix}_ADMIN"}
    # the runtime section covers what dbt's hooks do as the graph's owner
    assert any(c.section.startswith("6.") and c.statements > 50 for c in checked)


def _bootstrap_grants(plan: deploy.Plan) -> list[str]:
    """The bootstrap's grants to the deployer (the role hierarchy serves the lake's users)."""
    return [
        s.statement
        for s in plan.steps
        if s.bootstrap and s.statement.startswith("GRANT") and "GRANT ROLE" not in s.statement
    ]


@pytest.mark.parametrize("index", range(10))
def test_every_grant_of_the_bootstrap_is_needed_and_its_absence_names_the_statement(
    plans: dict[str, tuple[Settings, deploy.Plan]], index: int
) -> None:
    """Least privilege, both ways: each grant the bootstrap gives the deployer is needed by
    some statement, and without it the check fails naming that statement and what it lacks."""
    settings, plan = plans["default"]
    grants = _bootstrap_grants(plan)
    assert len(grants) == 10  # ownership, warehouse, notification integration, 5 account privileges, 2 roles
    taken = grants[index]
    with pytest.raises(privileges.PrivilegeError) as caught:
        privileges.check([s for s in deploy.privilege_steps(settings, plan) if s[2] != taken])
    said = str(caught.value)
    assert f"{plan.deployer} lacks " in said and "https://docs.snowflake.com/" in said
    wanted = taken.split(" TO ROLE")[0].removeprefix("GRANT ").removeprefix("DATABASE ROLE SNOWFLAKE.")
    what = wanted.split(" ON ")[0]
    assert what in said or "CREATE SCHEMA on DATABASE" in said, (taken, said)


def test_the_account_privileges_are_the_specs() -> None:
    text = (Path(deploy.ROOT) / "sql" / "005_account.sql").read_text()
    for privilege in governance.ACCOUNT_PRIVILEGES:
        assert f"GRANT {privilege} ON ACCOUNT" in text


def test_a_statement_no_rule_covers_is_an_error() -> None:
    with pytest.raises(privileges.PrivilegeError, match="no privilege rule covers this statement"):
        privileges.check([("1. test", "LAKE_ADMIN", "CREATE PIPE LAKE.LANDING.P AS COPY INTO T FROM @S")])


def test_every_rule_cites_its_documentation_page() -> None:
    assert len(privileges.RULES) >= 40
    for rule in privileges.RULES:
        assert rule.page.startswith("https://docs.snowflake.com/en/"), rule.kind
        assert rule.needs, rule.kind


def test_lake_deploy_plan_fails_naming_the_statement_a_role_cannot_run(tmp_path: Path) -> None:
    """Deploying as the engineer, who owns nothing: the first statement it could not run,
    and the privilege, are named, and the command exits 1."""
    env = {**os.environ, **PROD, "SNOWFLAKE_ROLE": "LAKE_PROD_ENGINEER"}
    lake = Path(sys.executable).with_name("lake")
    done = subprocess.run(
        [lake, "deploy", "--plan", "--out", tmp_path], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "LAKE_PROD_ENGINEER lacks CREATE SCHEMA on DATABASE LAKE" in done.stderr
    assert "CREATE SCHEMA IF NOT EXISTS LAKE.LANDING" in done.stderr
    ok = subprocess.run(
        [lake, "deploy", "--plan", "--out", tmp_path],
        capture_output=True,
        text=True,
        env={**os.environ, **PROD},
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "(runs as ACCOUNTADMIN once per account" in ok.stdout and "(runs as LAKE_PROD_ADMIN)" in ok.stdout
    # metrics on views go through ALTER VIEW
    assert not [line for line in ok.stdout.splitlines() if line.startswith("ALTER TABLE") and "_CURRENT " in line]
