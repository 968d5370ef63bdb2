"""Typed configuration: one file (optional) plus environment variables.

Where settings come from, later wins:

1. defaults (the local target: no cloud account needed);
2. ``lake.toml`` in the working directory, or the file named by ``LAKE_CONFIG``;
3. environment variables (``LAKE_TARGET``, ``SNOWFLAKE_ACCOUNT``, ... see ``ENV``).

Secrets (a password, a private key passphrase) are read from the environment only and
never from the file, so a config file can be committed without credentials.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from procedures import spec
from procedures.errors import UserError

TASK_SCHEDULE = re.compile(r"USING CRON (\S+ ){5}[\w/+-]+|\d+ (MINUTE|MINUTES|HOURS|SECONDS)")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")


def checked_identifier(value: str) -> str:
    """A plain Snowflake identifier, upper-cased, or an error. Unquoted identifiers "start
    with a letter (A-Z, a-z) or an underscore", "contain only letters, underscores, decimal
    digits (0-9), and dollar signs", "are stored and resolved as uppercase characters", and
    take at most 255 characters (https://docs.snowflake.com/en/sql-reference/identifiers-syntax)."""
    if not IDENTIFIER.match(value):
        raise ValueError("must be a plain Snowflake identifier (letters, digits, _ and $)")
    return value.upper()


class ConfigError(UserError, ValueError):
    """A configuration value that cannot be used; the message names the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(_Model):
    """The database and schema names the platform creates and uses."""

    database: str = "LAKE"
    landing: str = "LANDING"
    vault: str = "VAULT"
    quality: str = "QUALITY"
    audit: str = "AUDIT"
    bronze: str = "BRONZE"
    silver: str = "SILVER"
    gold: str = "GOLD"
    # where gold is built and validated before PUBLISH_GOLD swaps it with gold
    gold_pending: str = "GOLD_PENDING"
    governance: str = "GOVERNANCE"
    landing_stage: str = "LANDING_STAGE"
    # roles are <role_prefix>_ADMIN, _ENGINEER, ... (CDKTF: LAKE_<ENV>; set this to match)
    role_prefix: str = "LAKE"

    _identifiers = field_validator("*")(checked_identifier)

    @property
    def schemas(self) -> dict[str, str]:
        """Every schema of the lake by its key, in the order governance lists them
        (``procedures.governance.LAYERS``: each has its grants and its time travel)."""
        from procedures.governance import LAYERS

        return {key: getattr(self, key) for key in LAYERS}


class LocalTarget(_Model):
    """The embedded stack: moto for S3 and fakesnow (DuckDB) for Snowflake, on loopback."""

    state_dir: Path = Path(".lake")
    bucket: str = "lake-landing"
    landing_prefix: str = "landing/"
    # a session that sends nothing for this long has its open transaction rolled back,
    # as Snowflake aborts a detached transaction (a killed client's) after 5 idle minutes
    idle_transaction_seconds: float = Field(default=300.0, gt=0)

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        return checked_bucket(value)

    @property
    def landing_url(self) -> str:
        return f"s3://{self.bucket}/{self.landing_prefix}"


class SnowflakeTarget(_Model):
    """A real Snowflake account. Authenticate with a key pair (preferred) or a password
    from ``SNOWFLAKE_PASSWORD``."""

    account: str
    user: str
    role: str = "LAKE_ADMIN"
    warehouse: str = "LAKE_WH"
    authenticator: Literal["snowflake_jwt", "snowflake", "externalbrowser"] = "snowflake_jwt"
    private_key_file: Path | None = None
    landing_url: str
    storage_integration: str = "LAKE_LANDING_INTEGRATION"
    aws_role_arn: str = ""
    # the landing bucket's region: the generator's network rule names its S3 endpoints
    aws_region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    # an email notification integration for the quality alerts (sql/080_alerts.sql), made
    # by the account bootstrap (sql/005_account.sql) with these verified addresses as its
    # default recipients, comma separated
    notification_integration: str = "LAKE_NOTIFICATIONS"
    alert_recipients: str = ""

    @field_validator("alert_recipients")
    @classmethod
    def _emails(cls, value: str) -> str:
        for address in (a.strip() for a in value.split(",") if a.strip()):
            if not re.fullmatch(r"[^@\s',]+@[^@\s',]+\.[A-Za-z]{2,}", address):
                raise ValueError(f"{address!r} is not an e-mail address (comma-separated addresses)")
        return value

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.alert_recipients.split(",") if a.strip()]

    @field_validator("landing_url")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        match = re.fullmatch(r"s3://([^/]*)/(\S*)", value)
        if not match:
            raise ValueError("must be an S3 prefix like s3://bucket/landing/")
        checked_bucket(match.group(1))
        if match.group(2) and not match.group(2).endswith("/"):
            raise ValueError(f"the prefix {match.group(2)!r} must end in / (s3://bucket/landing/)")
        return value


def checked_bucket(name: str) -> str:
    """An S3 bucket name by the rules S3 enforces, or an error saying which one it breaks
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)."""
    if not 3 <= len(name) <= 63:
        raise ValueError(f"bucket name {name!r} is {len(name)} characters long; S3 takes 3 to 63")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name):
        raise ValueError(
            f"bucket name {name!r}: S3 takes lower-case letters, digits, '.' and '-', starting and ending "
            "with a letter or digit"
        )
    return name


# the Glue database that catalogues the landing zone, unless configured otherwise
GLUE_DATABASE = "lake_landing"


class Settings(_Model):
    target: Literal["local", "snowflake"] = "local"
    names: Names = Names()
    local: LocalTarget = LocalTarget()
    snowflake: SnowflakeTarget | None = None
    # the Glue database that catalogues the landing zone (`lake catalog sync`)
    glue_database: str = Field(default=GLUE_DATABASE, pattern=r"^[a-z0-9_]{1,255}$")
    # the currency every converted amount of silver and gold is in (dbt's reporting_currency
    # var): one of the reference currencies in force (procedures/reference_data.yml)
    reporting_currency: str = "USD"
    # the deployed task graph: retries of a failed graph run (TASK_AUTO_RETRY_ATTEMPTS,
    # Snowflake allows 0 to 30) and consecutive failed runs before the graph is suspended
    # (SUSPEND_TASK_AFTER_NUM_FAILURES; 0: never)
    task_retries: int = Field(default=1, ge=0, le=30)
    suspend_after_failures: int = Field(default=3, ge=0, le=1000)
    # the weekly sample-data task of a dev deployment (lake/task_graph.py), created
    # suspended; "off": none (the prod environment's default)
    sample_data_schedule: str = "USING CRON 0 5 * * 1 UTC"  # Mondays 05:00 UTC

    @field_validator("sample_data_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        """A task's SCHEDULE (https://docs.snowflake.com/en/sql-reference/sql/create-task):
        ``USING CRON <5 fields> <time zone>`` or ``<n> MINUTES``, or "off"."""
        if value.lower() == "off" or re.fullmatch(
            r"USING CRON (\S+ ){5}[\w/+-]+|\d+ (MINUTE|MINUTES|HOURS|SECONDS)", value
        ):
            return value
        raise ValueError("must be a task schedule like 'USING CRON 0 5 * * 1 UTC' or '60 MINUTES', or 'off'")

    @field_validator("reporting_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in spec.CURRENCIES:
            raise ValueError(f"must be one of {', '.join(spec.CURRENCIES)}, got {value!r}")
        return value

    @property
    def landing_url(self) -> str:
        if self.target == "snowflake":
            assert self.snowflake is not None
            return self.snowflake.landing_url
        return self.local.landing_url


# Environment variable -> dotted config key.
ENV: dict[str, str] = {
    "LAKE_TARGET": "target",
    "LAKE_STATE_DIR": "local.state_dir",
    "LAKE_BUCKET": "local.bucket",
    "LAKE_DATABASE": "names.database",
    "LAKE_GLUE_DATABASE": "glue_database",
    "LAKE_REPORTING_CURRENCY": "reporting_currency",
    "LAKE_TASK_RETRIES": "task_retries",
    "LAKE_SUSPEND_AFTER_FAILURES": "suspend_after_failures",
    "LAKE_SAMPLE_DATA_SCHEDULE": "sample_data_schedule",
    "SNOWFLAKE_ACCOUNT": "snowflake.account",
    "SNOWFLAKE_USER": "snowflake.user",
    "SNOWFLAKE_ROLE": "snowflake.role",
    "SNOWFLAKE_WAREHOUSE": "snowflake.warehouse",
    "SNOWFLAKE_AUTHENTICATOR": "snowflake.authenticator",
    "SNOWFLAKE_PRIVATE_KEY_FILE": "snowflake.private_key_file",  # pragma: allowlist secret
    "LAKE_LANDING_URL": "snowflake.landing_url",
    "LAKE_STORAGE_INTEGRATION": "snowflake.storage_integration",
    "LAKE_AWS_ROLE_ARN": "snowflake.aws_role_arn",
    "LAKE_AWS_REGION": "snowflake.aws_region",
    "LAKE_ALERT_RECIPIENTS": "snowflake.alert_recipients",
    # the roles are <prefix>_ADMIN, ...; cdktf's environments put the environment in the
    # prefix (LAKE_DEV), and `lake infra names ENV` prints both variables for one
    "LAKE_ROLE_PREFIX": "names.role_prefix",
}
SECRET_KEYS = ("password", "private_key_passphrase", "token")
SECRET_LIKE = re.compile(r"pass|pwd|secret|token|private_key(?!_file$)|credential", re.IGNORECASE)


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        tree = tree.setdefault(p, {})
    tree[leaf] = value


def _reject_secrets(tree: Mapping[str, Any], source: str, prefix: str = "") -> None:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            _reject_secrets(value, source, f"{prefix}{key}.")
        elif key in SECRET_KEYS:
            raise ConfigError(
                f"{source}: key '{prefix}{key}' holds a secret; set it in the environment "
                f"(for example SNOWFLAKE_PASSWORD), never in a file"
            )


PROJECT_NAME = "institutional-client-lake"


def _is_project(folder: Path) -> bool:
    """A folder with ``lake.toml``, or with this project's ``pyproject.toml``."""
    if (folder / "lake.toml").is_file():
        return True
    try:
        declared = tomllib.loads((folder / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return bool(declared.get("project", {}).get("name") == PROJECT_NAME)


def project_root(start: Path | None = None) -> Path | None:
    """The lake project that ``start`` (default: the working directory) is in: the nearest
    folder, itself or above, holding ``lake.toml`` or the project's ``pyproject.toml``."""
    here = (start or Path.cwd()).resolve()
    return next((folder for folder in (here, *here.parents) if _is_project(folder)), None)


def no_project(start: Path | None = None) -> ConfigError:
    here = (start or Path.cwd()).resolve()
    looked = [here, *here.parents]
    shown = ", ".join(str(p) for p in looked[:4]) + (f" and {len(looked) - 4} more up to /" if len(looked) > 4 else "")
    return ConfigError(
        f"no lake project here: looked for lake.toml, or the pyproject.toml of {PROJECT_NAME}, in {shown}; run "
        "lake in the project's folder (or one under it), or name the state folder with LAKE_STATE_DIR"
    )


def config_path(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if explicit := env.get("LAKE_CONFIG"):
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"LAKE_CONFIG names {explicit!r}, which is not a file")
        return path
    root = project_root()
    default = (root or Path.cwd()) / "lake.toml"
    return default if default.is_file() else None


INFRA_ENVIRONMENTS = Path(__file__).resolve().parent.parent / "cdktf" / "environments.toml"


def environment_names(name: str, env: Mapping[str, str], target: str) -> dict[str, Any]:
    """The settings an infrastructure environment (a table of cdktf/environments.toml, or of
    the file in ``LAKE_INFRA_CONFIG``) implies: the database, the role prefix (``LAKE_DEV``
    for dev, as cdktf names the roles ``LAKE_DEV_ADMIN``, ...), the Glue database and, on
    the snowflake target, the landing URL, region and load warehouse. One source of names
    for the stack and for what runs on it."""
    path = Path(env.get("LAKE_INFRA_CONFIG") or INFRA_ENVIRONMENTS)
    try:
        tables = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"LAKE_ENVIRONMENT={name}: cannot read {path}: {err}") from None
    if name not in tables:
        raise ConfigError(f"LAKE_ENVIRONMENT={name}: no [{name}] in {path}; known: {', '.join(sorted(tables))}")
    aws, sf = tables[name].get("aws", {}), tables[name].get("snowflake", {})
    prefix = f"{sf.get('role_prefix', 'LAKE')}_{name.upper()}"
    tree: dict[str, Any] = {"names": {"database": sf.get("database", "LAKE"), "role_prefix": prefix}}
    if name == "prod":
        tree["sample_data_schedule"] = "off"  # sample data is for dev deployments
    if "glue_database" in aws:
        tree["glue_database"] = aws["glue_database"]
    if target == "snowflake":
        warehouses = sf.get("warehouses", [])
        load = next((w["name"] for w in warehouses if w.get("purpose") == "load"), None)
        tree["snowflake"] = {
            k: v
            for k, v in {
                "landing_url": f"s3://{aws['landing_bucket']}/{aws.get('landing_prefix', 'landing/')}"
                if "landing_bucket" in aws
                else None,
                "aws_region": aws.get("region"),
                "warehouse": load,
                "storage_integration": sf.get("storage_integration"),
                "role": f"{prefix}_ADMIN",  # owns the schemas; deploys and runs the pipeline
            }.items()
            if v
        }
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment's names, the config file and the environment variables, and
    validate once."""
    env = os.environ if env is None else env
    path = path or config_path(env)
    tree: dict[str, Any] = {}
    source = str(path) if path else "configuration"
    if path:
        try:
            tree = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
        _reject_secrets(tree, str(path))
    if environment := env.get("LAKE_ENVIRONMENT") or tree.pop("environment", None):
        target = env.get("LAKE_TARGET") or tree.get("target", "local")
        tree = _merge(environment_names(str(environment), env, str(target)), tree)
    # the state folder: LAKE_STATE_DIR (from the working directory), or the config file's
    # (from its folder), or the project's .lake, wherever in the project lake runs
    local = tree.setdefault("local", {})
    if given := env.get("LAKE_STATE_DIR"):
        local["state_dir"] = Path(given).resolve()
    elif "state_dir" in local and path:
        local["state_dir"] = (path.resolve().parent / str(local["state_dir"])).resolve()
    elif (env.get("LAKE_TARGET") or tree.get("target", "local")) == "local":
        root = project_root()
        if root is None:
            raise no_project()
        local["state_dir"] = root / ".lake"
    for var, dotted in ENV.items():
        if var != "LAKE_STATE_DIR" and (value := env.get(var)):
            _set(tree, dotted, value)
    try:
        return Settings.model_validate(tree)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        got = first.get("input")
        # a key nobody recognised may hold a credential under another name (passwd,
        # private_key ...): its value is never echoed, nor one of a secret-looking key
        hidden = isinstance(got, dict) or first["type"] == "extra_forbidden" or SECRET_LIKE.search(key)
        shown = "" if hidden else f" (got {got!r})"
        variable = next((name for name, dotted in ENV.items() if dotted == key), None)
        where = f"config key '{key}'" + (f" ({variable})" if variable else "")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{source}: {where}: {message}{shown}") from None
