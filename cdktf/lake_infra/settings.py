"""Typed settings for one environment of the infrastructure (dev, prod, ...).

Read from ``cdktf/environments.toml`` (or the file named by ``LAKE_INFRA_CONFIG``) and
validated once: a bad value fails with one sentence that names the environment, the key
and what is allowed. Nothing here is a secret: the AWS provider takes its credentials
from the default chain and the Snowflake provider from ``SNOWFLAKE_*`` variables, so the
file is committed and the synthesized JSON holds no credential.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lake.config import GLUE_DATABASE, Names, checked_bucket, checked_identifier

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "environments.toml"


class InfraConfigError(ValueError):
    """An infrastructure setting that cannot be used; the message names the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Warehouse(_Model):
    """A virtual warehouse. Auto-suspend keeps an idle warehouse from burning credits."""

    name: str
    size: Literal["XSMALL", "SMALL", "MEDIUM", "LARGE", "XLARGE", "XXLARGE"] = "XSMALL"
    auto_suspend_seconds: int = Field(default=60, ge=60, le=3600)
    # who uses it: loads and procedures, dbt, or people and the dashboard
    purpose: Literal["load", "transform", "analytics"]

    _name = field_validator("name")(checked_identifier)


class Snowflake(_Model):
    database: str
    # time travel on the permanent layers; the transient dbt layers keep their own default
    data_retention_days: int = Field(default=1, ge=0, le=90)
    warehouses: tuple[Warehouse, ...]
    monthly_credit_quota: int = Field(gt=0)
    storage_integration: str = "LAKE_LANDING_INTEGRATION"
    # the external id the IAM role's trust policy requires: set on the integration, so the
    # role and the integration are created in one apply
    storage_external_id: str = Field(min_length=8, max_length=1224, pattern=r"^[A-Za-z0-9_+=,.@:/-]+$")
    role_prefix: str = "LAKE"
    # the e-mail integration failed runs and alerts are told through, and who may receive
    # them (ALLOWED_RECIPIENTS; the finalizer names them: lake.toml snowflake.alert_recipients)
    notification_integration: str = "LAKE_NOTIFICATIONS"
    alert_recipients: tuple[str, ...] = ()

    _names = field_validator("database", "storage_integration", "role_prefix", "notification_integration")(
        checked_identifier
    )

    @field_validator("warehouses")
    @classmethod
    def _distinct(cls, value: tuple[Warehouse, ...]) -> tuple[Warehouse, ...]:
        names = [w.name for w in value]
        if not value:
            raise ValueError("at least one warehouse is needed")
        if len(set(names)) != len(names):
            raise ValueError(f"warehouse names repeat: {names}")
        return value


class Aws(_Model):
    region: str = Field(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    landing_bucket: str
    access_log_bucket: str
    landing_prefix: str = "landing/"
    kms_deletion_window_days: int = Field(default=30, ge=7, le=30)
    noncurrent_version_days: int = Field(default=30, ge=1)
    abort_incomplete_upload_days: int = Field(default=7, ge=1)
    access_log_days: int = Field(default=365, ge=1)
    glue_database: str = Field(default=GLUE_DATABASE, pattern=r"^[a-z0-9_]{1,255}$")
    # AWS Glue cron syntax: https://docs.aws.amazon.com/glue/latest/dg/monitor-data-warehouse-schedule.html
    crawler_schedule: str = Field(default="cron(30 2 * * ? *)", pattern=r"^cron\(\S+( \S+){5}\)$")

    @field_validator("landing_bucket", "access_log_bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        checked_bucket(value)  # S3's own rules, as the lake checks its landing URL
        if "." in value or "--" in value:
            # the stack's buckets are reached over virtual-hosted TLS, which a '.' breaks
            raise ValueError(f"bucket name {value!r}: this stack's S3 bucket names take no '.' and no '--'")
        return value

    @field_validator("landing_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"([a-z0-9_-]+/)+", value):
            raise ValueError("must be a key prefix like 'landing/' (lower case, ending in '/')")
        return value

    @model_validator(mode="after")
    def _two_buckets(self) -> Aws:
        if self.landing_bucket == self.access_log_bucket:
            raise ValueError("access_log_bucket must differ from landing_bucket (a bucket cannot log to itself)")
        return self

    @property
    def landing_url(self) -> str:
        return f"s3://{self.landing_bucket}/{self.landing_prefix}"


class Environment(_Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{1,15}$")
    aws: Aws
    snowflake: Snowflake
    names: Names = Names()

    @property
    def stack_name(self) -> str:
        return f"lake-{self.name}"

    def role(self, function: str) -> str:
        """An account role of the governance model, for example ``LAKE_DEV_ANALYST``."""
        return f"{self.snowflake.role_prefix}_{self.name.upper()}_{function.upper()}"


def _error(source: str, env: str, err: ValidationError) -> InfraConfigError:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    where = f"{env}.{key}" if key else env
    return InfraConfigError(f"{source}: [{where}] {first['msg']} (got {first.get('input')!r})")


def parse(tree: dict[str, Any], source: str = "environments") -> dict[str, Environment]:
    """Validate ``{env name: settings}``; the first bad value is reported by its key."""
    if not tree:
        raise InfraConfigError(f"{source}: no environment is defined")
    environments: dict[str, Environment] = {}
    for name, body in tree.items():
        if not isinstance(body, dict):
            raise InfraConfigError(f"{source}: [{name}] must be a table of settings")
        try:
            environments[name] = Environment.model_validate({"name": name, **body})
        except ValidationError as err:
            raise _error(source, name, err) from None
    databases = [(e.name, e.snowflake.database) for e in environments.values()]
    if len({db for _, db in databases}) != len(databases):
        raise InfraConfigError(f"{source}: environments share a Snowflake database: {databases}")
    return environments


def load(path: Path | None = None) -> dict[str, Environment]:
    path = path or DEFAULT_FILE
    if not path.is_file():
        raise InfraConfigError(f"{path}: no such file (the infrastructure settings, one table per environment)")
    try:
        tree = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise InfraConfigError(f"{path}: not valid TOML: {err}") from None
    return parse(tree, str(path))
