"""Typed settings: defaults, the environment, and one clear sentence for a bad value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lake.config import ConfigError, load_settings
from lake.session import connection_kwargs

pytestmark = pytest.mark.unit


def test_defaults_are_the_local_target() -> None:
    s = load_settings(env={})
    assert s.target == "local"
    assert s.names.database == "LAKE"
    assert list(s.names.schemas.values()) == [
        "LANDING",
        "VAULT",
        "QUALITY",
        "AUDIT",
        "BRONZE",
        "SILVER",
        "GOLD",
        "GOLD_PENDING",  # where gold is built and validated before it is published
        "GOVERNANCE",
    ]
    assert s.landing_url == "s3://lake-landing/landing/"


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "lake.toml"
    path.write_text('[names]\ndatabase = "client_lake"\nvault = "rv"\n[local]\nbucket = "my-landing"\n')
    s = load_settings(path, env={"LAKE_BUCKET": "other-landing"})
    assert s.names.database == "CLIENT_LAKE" and s.names.vault == "RV"
    assert s.local.bucket == "other-landing"


def test_snowflake_target_from_environment(tmp_path: Path) -> None:
    key = tmp_path / "lake.p8"
    key.write_text("not a real key")  # pragma: allowlist secret
    env = {
        "LAKE_TARGET": "snowflake",
        "SNOWFLAKE_ACCOUNT": "acme-prod",
        "SNOWFLAKE_USER": "LAKE_SVC",
        "SNOWFLAKE_PRIVATE_KEY_FILE": str(key),
        "LAKE_LANDING_URL": "s3://acme-landing/landing/",
    }
    s = load_settings(env=env)
    kwargs = connection_kwargs(s)
    assert kwargs["account"] == "acme-prod" and kwargs["private_key_file"] == str(key)
    assert kwargs["authenticator"] == "snowflake_jwt" and "password" not in kwargs
    assert s.landing_url == "s3://acme-landing/landing/"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"LAKE_TARGET": "prod"},
            "config key 'target' (LAKE_TARGET): Input should be 'local' or 'snowflake'",
            id="target",
        ),
        pytest.param({"LAKE_BUCKET": "Bad_Bucket"}, "config key 'local.bucket'", id="bucket"),
        pytest.param(
            {"LAKE_TARGET": "snowflake", "SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u", "LAKE_LANDING_URL": "bucket"},
            "config key 'snowflake.landing_url' (LAKE_LANDING_URL): must be an S3 prefix like s3://bucket/landing/",
            id="landing_url",
        ),
        pytest.param({"LAKE_DATABASE": "lake; drop"}, "config key 'names.database'", id="identifier"),
        pytest.param(
            {"LAKE_TARGET": "snowflake", "SNOWFLAKE_ACCOUNT": "a"}, "config key 'snowflake.user'", id="missing_user"
        ),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(env=env)


def test_secrets_are_refused_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "lake.toml"
    path.write_text('[snowflake]\naccount = "a"\npassword = "hunter2"\n')  # pragma: allowlist secret
    with pytest.raises(ConfigError, match=r"snowflake.password' holds a secret; set it in the environment"):
        load_settings(path, env={})


def test_password_auth_needs_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNOWFLAKE_PASSWORD", raising=False)
    s = load_settings(
        env={
            "LAKE_TARGET": "snowflake",
            "SNOWFLAKE_ACCOUNT": "a",
            "SNOWFLAKE_USER": "u",
            "SNOWFLAKE_AUTHENTICATOR": "snowflake",
            "LAKE_LANDING_URL": "s3://acme-landing/landing/",
        }
    )
    with pytest.raises(ConfigError, match="SNOWFLAKE_PASSWORD"):
        connection_kwargs(s)


def test_an_infrastructure_environment_gives_the_names_its_stack_creates() -> None:
    """LAKE_ENVIRONMENT=dev: the database and roles cdktf's dev stack creates (LAKE_DEV,
    LAKE_DEV_ADMIN ...), its bucket, region and load warehouse; variables still win."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "cdktf"))
    from lake_infra import settings as infra

    dev = infra.load()["dev"]
    env = {"LAKE_ENVIRONMENT": "dev", "LAKE_TARGET": "snowflake", "SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_USER": "u"}
    s = load_settings(env=env)
    assert s.names.database == dev.snowflake.database
    assert f"{s.names.role_prefix}_ADMIN" == dev.role("ADMIN")
    assert s.snowflake is not None and s.snowflake.role == dev.role("ADMIN")
    assert s.landing_url == dev.aws.landing_url and s.snowflake.aws_region == dev.aws.region
    assert s.glue_database == dev.aws.glue_database
    assert load_settings(env={**env, "LAKE_DATABASE": "OTHER"}).names.database == "OTHER"
    with pytest.raises(ConfigError, match=r"LAKE_ENVIRONMENT=qa: no \[qa\] in .*known: dev, prod"):
        load_settings(env={"LAKE_ENVIRONMENT": "qa"})


@pytest.mark.parametrize("key", ["passwd", "private_key_file_pwd", "private_key", "api_secret"])
def test_an_unknown_key_is_named_without_its_value(tmp_path: Path, key: str) -> None:
    config = tmp_path / "lake.toml"
    config.write_text(
        f'[snowflake]\naccount = "a"\nuser = "u"\nlanding_url = "s3://bucket-x/l/"\n{key} = "hunter2-s3cr3t"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path=config, env={})
    assert f"snowflake.{key}" in str(caught.value) and "hunter2" not in str(caught.value)


@pytest.mark.unit
def test_a_command_run_below_the_project_finds_it_or_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd dbt && lake sql ...` used to create an empty lake in dbt/ and answer `schema
    "VAULT" does not exist`. Below a project (its pyproject.toml, or a lake.toml) the
    state folder and the config file are the project's; elsewhere the command says
    where it looked."""
    from lake.config import ConfigError, config_path, load_settings

    project = tmp_path / "checkout"
    deeper = project / "dbt" / "models"
    deeper.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "institutional-client-lake"\n')
    monkeypatch.chdir(deeper)
    assert load_settings(env={}).local.state_dir == project / ".lake"

    own = tmp_path / "own"
    (own / "reports").mkdir(parents=True)
    (own / "lake.toml").write_text('[local]\nstate_dir = "var/lake"\nbucket = "own-landing"\n')
    monkeypatch.chdir(own / "reports")
    assert config_path({}) == own / "lake.toml"
    found = load_settings(env={})
    assert found.local.state_dir == own / "var" / "lake" and found.local.bucket == "own-landing"
    assert load_settings(env={"LAKE_STATE_DIR": "mine"}).local.state_dir == own / "reports" / "mine"

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(ConfigError, match=r"no lake project here: looked for lake.toml, .* in .*elsewhere"):
        load_settings(env={})
    assert load_settings(env={"LAKE_STATE_DIR": str(tmp_path / "s")}).local.state_dir == tmp_path / "s"
