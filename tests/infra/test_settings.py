"""Typed infrastructure settings refuse bad input with a message naming the key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from lake_infra import settings

from lake import infra

pytestmark = pytest.mark.unit

SHIPPED = tomllib.loads(settings.DEFAULT_FILE.read_text())


def test_shipped_environments_load() -> None:
    envs = settings.load()
    assert sorted(envs) == ["dev", "prod"]
    assert envs["prod"].snowflake.database == "LAKE" and envs["dev"].snowflake.database == "LAKE_DEV"
    assert envs["dev"].aws.landing_url == "s3://lake-dev-landing/landing/"
    assert envs["prod"].role("analyst") == "LAKE_PROD_ANALYST"


def _with(path: str, value: Any) -> dict[str, Any]:
    tree = copy.deepcopy(SHIPPED)
    *parents, leaf = path.split(".")
    node = tree
    for p in parents:
        node = node[p]
    node[leaf] = value
    return tree


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        pytest.param(
            "dev.aws.landing_bucket",
            "Lake_Landing",
            r"\[dev\.aws\.landing_bucket\].*bucket name 'Lake_Landing': S3 takes lower-case letters",
            id="bucket_name",
        ),
        pytest.param("dev.aws.region", "europe", r"\[dev\.aws\.region\]", id="region"),
        pytest.param("dev.aws.landing_prefix", "landing", r"\[dev\.aws\.landing_prefix\].*ending in '/'", id="prefix"),
        pytest.param(
            "dev.aws.access_log_bucket", "lake-dev-landing", r"access_log_bucket must differ", id="log_to_itself"
        ),
        pytest.param(
            "prod.aws.kms_deletion_window_days",
            3,
            r"\[prod\.aws\.kms_deletion_window_days\].*greater than or equal to 7",
            id="kms_window",
        ),
        pytest.param("dev.aws.crawler_schedule", "daily", r"\[dev\.aws\.crawler_schedule\]", id="crawler_schedule"),
        pytest.param("dev.snowflake.database", "lake dev", r"\[dev\.snowflake\.database\].*identifier", id="database"),
        pytest.param(
            "dev.snowflake.storage_external_id", "short", r"\[dev\.snowflake\.storage_external_id\]", id="external_id"
        ),
        pytest.param("dev.snowflake.monthly_credit_quota", 0, r"\[dev\.snowflake\.monthly_credit_quota\]", id="quota"),
        pytest.param(
            "dev.snowflake.warehouses",
            [{"name": "WH", "auto_suspend_seconds": 30, "purpose": "load"}],
            r"\[dev\.snowflake\.warehouses\.0\.auto_suspend_seconds\].*greater than or equal to 60",
            id="auto_suspend",
        ),
        pytest.param(
            "dev.snowflake.warehouses",
            [{"name": "WH", "purpose": "reporting"}],
            r"\[dev\.snowflake\.warehouses\.0\.purpose\].*'load', 'transform' or 'analytics'",
            id="warehouse_purpose",
        ),
        pytest.param("dev.snowflake.warehouses", [], r"at least one warehouse", id="no_warehouse"),
        pytest.param("dev.aws.bucket", "x", r"\[dev\.aws\.bucket\] Extra inputs are not permitted", id="unknown_key"),
        pytest.param(
            "prod.snowflake.database", "LAKE_DEV", r"environments share a Snowflake database", id="shared_database"
        ),
    ],
)
def test_bad_settings_name_the_key(path: str, value: Any, message: str) -> None:
    with pytest.raises(settings.InfraConfigError, match=message):
        settings.parse(_with(path, value), "environments.toml")


def test_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(settings.InfraConfigError, match="no such file"):
        settings.load(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[dev\n")
    with pytest.raises(settings.InfraConfigError, match=r"broken\.toml: not valid TOML"):
        settings.load(broken)


def test_synth_reports_a_bad_setting_by_key(tmp_path: Path) -> None:
    bad = tmp_path / "environments.toml"
    bad.write_text(settings.DEFAULT_FILE.read_text().replace('region = "eu-west-2"', 'region = "moon"', 1))
    with pytest.raises(infra.InfraError, match=r"\[dev\.aws\.region\]"):
        infra.synth(tmp_path / "out", config=bad)
