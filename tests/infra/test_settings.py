"""Typed infrastructure settings refuse bad input with a message naming the key."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from lake_infra import settings

from lake import infra
from tests.cases import cases

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
    ("path", "value", "message"), cases(Path(__file__).with_name("bad_settings.yml"), "bad_settings")
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
