"""``lake deploy``: the in-warehouse path, in order, each kind of object from its one definition.

1. **Schema objects**: every file of ``sql/`` (``lake.sqlfiles``), as ``lake setup`` applies them.
2. **The generator's egress**: ``sql/deploy/egress.sql``, a network rule for the landing
   bucket, the secret holding the generator's AWS key, and the external access integration
   that ``GENERATE_SAMPLE_DATA`` names
   (https://docs.snowflake.com/en/developer-guide/external-network-access/creating-using-external-network-access).
3. **The procedures**: ``build/deploy/procedures.zip`` (the ``procedures`` package with its
   path, so ``procedures.x.main`` imports) PUT to the code stage, then one ``CREATE OR
   REPLACE PROCEDURE`` per procedure entity of ``snowflake.yml``, whose PACKAGES are what
   the handler's import graph needs (``packages``), ``snowflake-snowpark-python`` first
   (https://docs.snowflake.com/en/developer-guide/stored-procedure/python/procedure-python-overview).
4. **The dbt project**: the stage folder emptied, ``dbt/`` with a Snowflake-only
   ``profiles.yml`` PUT to it, ``CREATE DBT PROJECT IF NOT EXISTS ... DBT_VERSION =
   '1.10.15'`` (the dbt Core the project is pinned to), then ``ALTER DBT PROJECT ... ADD
   VERSION`` from the stage, so the object keeps its run history
   (https://docs.snowflake.com/en/sql-reference/sql/create-dbt-project).
5. **The task graph** (``lake/task_graph.py``): the root suspended, every task created
   (suspended), dependents enabled, the root resumed.
6. **Weekly sample data** (dev deployments; ``sample_data_schedule``, "off" in prod): a
   standalone task calling ``GENERATE_SAMPLE_DATA``, created suspended and never resumed
   by a deploy.

``plan`` builds the artifacts into a folder and returns the steps; ``--plan`` prints
them, works offline on any target, and each statement parses with the project's
Snowflake grammar (``lake.snowsql``). ``execute`` runs them on the snowflake target.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lake import privileges, sqlfiles, task_graph
from lake.config import ConfigError, Settings
from procedures import governance as governance_spec
from procedures.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
PROJECT_DEFINITION = ROOT / "snowflake.yml"
PACKAGE_DIR = ROOT / "procedures"
DBT_DIR = ROOT / "dbt"
EGRESS_SQL = ROOT / "sql" / "deploy" / "egress.sql"
DEFAULT_OUT = ROOT / "build" / "deploy"
ARCHIVE = ROOT / "build" / "procedures.zip"  # the Native App's copy (lake/app.py)
CODE_STAGE = "LAKE_CODE"  # internal stage in the landing schema (sql/020_landing.sql)
DBT_PROJECT = "LAKE_DBT"
# the dbt Core that EXECUTE DBT PROJECT runs, and that pyproject.toml pins locally
DBT_VERSION = "1.10.15"
# the dbt target that the deployed project's profile defines and the tasks select
DBT_TARGET = "snowflake"
PYTHON_RUNTIME = "3.11"
# top-level module -> its package on Snowflake's Anaconda channel
# (https://repo.anaconda.com/pkgs/snowflake/); every module a handler imports that is not
# in the standard library or the procedures package must be listed here
ANACONDA_PACKAGES: dict[str, str] = {
    "snowflake": "snowflake-snowpark-python",
    "yaml": "pyyaml",
    "pyarrow": "pyarrow",
    "numpy": "numpy",
    "faker": "faker",
    "boto3": "boto3",
    "botocore": "botocore",
}
# only inside Snowflake's Python runtime (the secrets API), never installed
RUNTIME_MODULES = frozenset({"_snowflake"})
SQL_TYPES = {"number": "NUMBER", "string": "VARCHAR", "float": "FLOAT", "boolean": "BOOLEAN", "variant": "VARIANT"}
# the files of dbt/ that make the project (no target/, logs/ or local profile)
DBT_FILES = ("dbt_project.yml", "models", "macros", "tests", "seeds", "snapshots", "analyses", "packages.yml")


class DeployError(UserError, RuntimeError):
    """The deployment cannot be planned or run; the message names the file, key or object."""


# --------------------------------------------------------------------------- procedures


@dataclass(frozen=True)
class Argument:
    name: str
    sql_type: str
    default: str | None


@dataclass(frozen=True)
class Procedure:
    """One procedure entity of snowflake.yml."""

    name: str
    layer: str  # the key of Names.schemas whose schema holds it
    handler: str
    arguments: tuple[Argument, ...]
    returns: str
    integrations: tuple[str, ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()  # (name in the handler, secret object)

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


_ENV_REF = re.compile(r"<%\s*ctx\.env\.(\w+)\s*%>")


def _layer_of(value: str, source: str) -> str:
    match = _ENV_REF.fullmatch(value.strip())
    if not match or not match.group(1).endswith("_schema"):
        raise DeployError(f"{source}: identifier.schema must be <% ctx.env.<layer>_schema %>, got {value!r}")
    return match.group(1).removesuffix("_schema")


@functools.cache
def procedures(path: Path = PROJECT_DEFINITION) -> tuple[Procedure, ...]:
    """Every procedure entity of the project definition, in file order."""
    try:
        definition = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DeployError(f"{path}: cannot read the project definition: {err}") from err
    found = []
    for key, entity in (definition.get("entities") or {}).items():
        if entity.get("type") != "procedure":
            continue
        source = f"{path.name}: entities.{key}"
        try:
            arguments = tuple(
                Argument(a["name"], SQL_TYPES[a["type"].lower()], a.get("default")) for a in entity.get("signature", [])
            )
            found.append(
                Procedure(
                    name=entity["identifier"]["name"],
                    layer=_layer_of(entity["identifier"]["schema"], source),
                    handler=entity["handler"],
                    arguments=arguments,
                    returns=SQL_TYPES[entity["returns"].lower()],
                    integrations=tuple(entity.get("external_access_integrations") or ()),
                    secrets=tuple((entity.get("secrets") or {}).items()),
                )
            )
        except KeyError as err:
            raise DeployError(f"{source}: missing or unknown key {err}") from None
    return tuple(found)


def procedure(name: str) -> Procedure:
    """The procedure called ``name`` (its SQL name, e.g. LOAD_VAULT)."""
    for proc in procedures():
        if proc.name == name.upper():
            return proc
    known = ", ".join(p.name for p in procedures())
    raise DeployError(f"no procedure {name!r} in {PROJECT_DEFINITION.name}; known: {known}")


def zip_procedures(out: Path = ARCHIVE, package: Path = PACKAGE_DIR) -> Path:
    """Zip the package's .py, .yml and py.typed files, in a stable order (no caches)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(
        p
        for p in package.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".yml", ".typed"}
    )
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(str(path.relative_to(package.parent)), date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out


def _module_file(module: str, package_dir: Path) -> Path | None:
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    base = package_dir.parent.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(tree: ast.AST, module: str) -> Iterator[str]:
    """Modules a module imports anywhere (functions included), not under TYPE_CHECKING."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: -node.level]
                base = ".".join([*parent, base] if base else parent)
            yield base
            # `from procedures import spec` imports the module procedures.spec
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(module: str, package_dir: Path = PACKAGE_DIR) -> tuple[set[str], set[str]]:
    """(modules of the package, other top-level modules) that importing ``module`` needs."""
    own: set[str] = set()
    external: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in own:
            continue
        path = _module_file(name, package_dir)
        if path is None:
            if name.split(".")[0] != package_dir.name:
                external.add(name.split(".")[0])
            continue
        own.add(name)
        parent = name.rpartition(".")[0]
        if parent:
            pending.append(parent)  # a package's __init__ runs first
        pending.extend(_imports(ast.parse(path.read_text(), str(path)), name))
    return own, external


def packages(proc: Procedure, package_dir: Path = PACKAGE_DIR) -> tuple[str, ...]:
    """The Anaconda packages ``proc``'s handler needs, ``snowflake-snowpark-python`` first
    (every Python procedure needs it), then the rest sorted."""
    _, external = import_graph(proc.module, package_dir)
    needed = {"snowflake-snowpark-python"}
    for name in sorted(external):
        if name in sys.stdlib_module_names or name in RUNTIME_MODULES or name == "__future__":
            continue
        if name not in ANACONDA_PACKAGES:
            raise DeployError(
                f"{proc.handler} imports {name!r}, which is neither in the standard library nor in "
                "lake/deploy.py ANACONDA_PACKAGES (name its package on Snowflake's Anaconda channel there)"
            )
        needed.add(ANACONDA_PACKAGES[name])
    return ("snowflake-snowpark-python", *sorted(needed - {"snowflake-snowpark-python"}))


def _qualified(settings: Settings, layer: str, name: str) -> str:
    return f"{settings.names.database}.{settings.names.schemas[layer]}.{name}"


def code_stage(settings: Settings) -> str:
    return _qualified(settings, "landing", CODE_STAGE)


def _secret_object(settings: Settings, value: str) -> str:
    """A secret reference of snowflake.yml (``<% ctx.env.database %>.<% ctx.env.landing_schema %>.X``)
    with the lake's names."""
    env = {"database": settings.names.database, **{f"{k}_schema": v for k, v in settings.names.schemas.items()}}
    return _ENV_REF.sub(lambda m: env[m.group(1)], value)


def procedure_ddl(proc: Procedure, name: str, imports: str, secrets: tuple[tuple[str, str], ...] = ()) -> str:
    """``CREATE OR REPLACE PROCEDURE name`` for one entity, importing ``imports`` (a stage
    path); the PACKAGES its handler's imports need. Used by ``lake deploy`` and, with the
    app's names, by the Native App's setup script (lake/app.py)."""
    arguments = ", ".join(
        f"{a.name} {a.sql_type}" + (f" DEFAULT {a.default}" if a.default is not None else "") for a in proc.arguments
    )
    listed = ", ".join(f"'{p}'" for p in packages(proc))
    lines = [
        f"CREATE OR REPLACE PROCEDURE {name}({arguments})",
        f"    RETURNS {proc.returns}",
        "    LANGUAGE PYTHON",
        f"    RUNTIME_VERSION = '{PYTHON_RUNTIME}'",
        f"    PACKAGES = ({listed})",
        f"    IMPORTS = ('{imports}')",
        f"    HANDLER = '{proc.handler}'",
    ]
    if proc.integrations:
        lines.append(f"    EXTERNAL_ACCESS_INTEGRATIONS = ({', '.join(proc.integrations)})")
    if secrets:
        pairs = ", ".join(f"'{key}' = {value}" for key, value in secrets)
        lines.append(f"    SECRETS = ({pairs})")
    # owner's rights (the default, said explicitly): the handlers send only what such a
    # procedure may run (lake/local/strict.py enforces that locally)
    lines.append("    EXECUTE AS OWNER")
    return "\n".join(lines)


def create_procedure_sql(settings: Settings, proc: Procedure, archive: str) -> str:
    """``CREATE OR REPLACE PROCEDURE`` for one entity, importing the artifact on the stage."""
    secrets = tuple((key, _secret_object(settings, value)) for key, value in proc.secrets)
    return procedure_ddl(
        proc, _qualified(settings, proc.layer, proc.name), f"@{code_stage(settings)}/{archive}", secrets
    )


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class Step:
    section: str
    statement: str  # SQL sent to the account (a PUT names a local file)
    artifact: Path | None = None
    shown: str = ""  # the statement as printed, when it carries a secret
    role: str = ""  # the role that runs it; empty: the deployer (SNOWFLAKE_ROLE)

    @property
    def printable(self) -> str:
        return self.shown or self.statement

    @property
    def bootstrap(self) -> bool:
        return self.section.startswith(BOOTSTRAP_SECTION)


BOOTSTRAP_SECTION = "0. the account bootstrap"
BOOTSTRAP_FILE = "005_account.sql"


@dataclass
class Plan:
    out: Path
    deployer: str = ""
    steps: list[Step] = field(default_factory=list)

    def sections(self) -> list[str]:
        return list(dict.fromkeys(s.section for s in self.steps))

    def role_of(self, section: str) -> str:
        step = next(s for s in self.steps if s.section == section)
        return step.role or self.deployer

    def render(self) -> str:
        lines: list[str] = []
        for section in self.sections():
            once = " once per account, `lake deploy --bootstrap`" if section.startswith(BOOTSTRAP_SECTION) else ""
            lines.append(f"-- {section} (runs as {self.role_of(section)}{once})")
            for step in (s for s in self.steps if s.section == section):
                if step.artifact is not None:
                    lines.append(f"-- artifact: {step.artifact}")
                lines.append(step.printable.rstrip() + ";")
            lines.append("")
        return "\n".join(lines)


def _put(local: Path, stage_path: str) -> str:
    return f"PUT 'file://{local.as_posix()}' @{stage_path} AUTO_COMPRESS = FALSE OVERWRITE = TRUE"


def build_dbt(settings: Settings, out: Path) -> Path:
    """dbt/ as the dbt project object gets it: the project files and a profile whose only
    target is ``snowflake`` (a literal default target, as EXECUTE DBT PROJECT needs)."""
    target = out / "dbt"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in DBT_FILES:
        source = DBT_DIR / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
        elif source.is_file():
            shutil.copy2(source, target / name)
    names = settings.names
    sf = settings.snowflake
    profile = {
        "lake": {
            "target": DBT_TARGET,
            "outputs": {
                DBT_TARGET: {
                    "type": "snowflake",
                    # dbt Projects on Snowflake run as the task's or caller's session:
                    # account and user are not used, but dbt's profile schema wants them
                    "account": "",
                    "user": "",
                    "role": sf.role if sf else f"{names.role_prefix}_ENGINEER",
                    "warehouse": sf.warehouse if sf else "LAKE_WH",
                    "database": names.database,
                    "schema": names.gold,
                    "threads": 4,
                }
            },
        }
    }
    (target / "profiles.yml").write_text(
        "# written by `lake deploy` for the LAKE_DBT project object; the local profile is dbt/profiles.yml\n"
        + yaml.safe_dump(profile, sort_keys=False)
    )
    return target


def _egress(settings: Settings, reveal: bool) -> list[Step]:
    text = EGRESS_SQL.read_text()
    statements = sqlfiles.split(sqlfiles.render(text, egress_values(settings, reveal), EGRESS_SQL.name))
    shown = sqlfiles.split(sqlfiles.render(text, egress_values(settings, reveal=False), EGRESS_SQL.name))
    return [
        Step("2. the generator's egress (sql/deploy/egress.sql)", s, shown=v if v != s else "")
        for s, v in zip(statements, shown, strict=True)
    ]


GENERATOR_KEY_ID = "LAKE_GENERATOR_AWS_KEY_ID"
GENERATOR_SECRET_KEY = "LAKE_GENERATOR_AWS_SECRET_KEY"  # pragma: allowlist secret


def egress_values(settings: Settings, reveal: bool) -> dict[str, str]:
    """The placeholders of sql/deploy/egress.sql. The generator's AWS key comes from the
    environment at deploy time, never from a file; the plan prints it masked."""
    from procedures import landing

    bucket, _ = landing.split_landing_url(settings.landing_url)
    region = settings.snowflake.aws_region if settings.snowflake else "us-east-1"
    values = {
        **sqlfiles.variables(settings),
        "landing_bucket": bucket,
        "aws_region": region,
        "generator_key_id": "<from " + GENERATOR_KEY_ID + ">",
        "generator_secret_key": "<from " + GENERATOR_SECRET_KEY + ">",
    }
    if reveal:
        missing = [v for v in (GENERATOR_KEY_ID, GENERATOR_SECRET_KEY) if not os.environ.get(v)]
        if missing:
            raise ConfigError(
                f"lake deploy needs {' and '.join(missing)}: the AWS key GENERATE_SAMPLE_DATA writes the "
                "landing bucket with (stored as a Snowflake secret; see docs/deploy.md)"
            )
        values["generator_key_id"] = os.environ[GENERATOR_KEY_ID].replace("'", "''")
        values["generator_secret_key"] = os.environ[GENERATOR_SECRET_KEY].replace("'", "''")
    return values


def plan(settings: Settings, out: Path = DEFAULT_OUT, reveal: bool = False) -> Plan:
    """Build the artifacts into ``out`` and return every step of the deployment, in order.

    ``reveal`` puts the generator's key into the secret's statement (``lake deploy``);
    otherwise the statement names the variables it will come from.
    """
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = Plan(out, deployer(settings))
    values = sqlfiles.variables(settings)
    digest = hashlib.sha256()
    for path in sqlfiles.files():
        for statement in sqlfiles.split(sqlfiles.render(path.read_text(), values, path.name)):
            if path.name == BOOTSTRAP_FILE:
                section = f"{BOOTSTRAP_SECTION} (sql/{path.name})"
                result.steps.append(Step(section, statement, role=governance_spec.BOOTSTRAP_ROLE))
                continue
            section = f"1. schema objects (sql/, as `lake setup` applies them): {path.name}"
            result.steps.append(Step(section, statement))
            # an upgrade: the columns this version defines, added to a table an earlier one created
            result.steps += [Step(section, added) for added in sqlfiles.evolution(statement)]
            digest.update(statement.encode())
    result.steps.append(
        Step(
            "1. schema objects: the version applied",
            f"INSERT INTO {settings.names.database}.{settings.names.audit}.{sqlfiles.SCHEMA_VERSIONS} "
            f"(version, sql_digest, applied_at, columns_added) SELECT '{sqlfiles.version()}', "
            f"'{digest.hexdigest()}', SYSDATE(), NULL",
        )
    )
    result.steps += _egress(settings, reveal)

    archive = zip_procedures(out / "procedures.zip", PACKAGE_DIR)
    stage = code_stage(settings)
    section = "3. the procedures (snowflake.yml; packages from each handler's imports)"
    result.steps.append(Step(section, _put(archive, f"{stage}/procedures"), artifact=archive))
    for proc in procedures():
        result.steps.append(Step(section, create_procedure_sql(settings, proc, f"procedures/{archive.name}"), archive))

    project = build_dbt(settings, out)
    section = f"4. the dbt project (dbt/, dbt Core {DBT_VERSION})"
    # PUT never deletes a file: the folder is emptied first, so a model renamed or deleted
    # since the last deploy is not deployed again (https://docs.snowflake.com/en/sql-reference/sql/remove)
    result.steps.append(Step(section, f"REMOVE @{stage}/dbt/"))
    for folder in sorted({p.parent for p in project.rglob("*") if p.is_file()}):
        relative = folder.relative_to(out).as_posix()
        result.steps.append(Step(section, _put(folder / "*", f"{stage}/{relative}"), artifact=folder))
    result.steps += [Step(section, statement, artifact=project) for statement in dbt_project_sql(settings)]
    warehouse = settings.snowflake.warehouse if settings.snowflake else "LAKE_WH"
    for statement in task_graph.deployed_sql(settings, warehouse):
        result.steps.append(Step("5. the task graph (lake/task_graph.py)", statement))
    for statement in task_graph.sample_data_sql(settings, warehouse):
        result.steps.append(Step("6. weekly sample data, suspended (lake/task_graph.py)", statement))
    return result


def dbt_project_sql(settings: Settings) -> list[str]:
    """The dbt project object, created once and given a new version from the stage on every
    deploy: replacing it would discard its run history, and the CREATE DBT PROJECT page says
    to update an existing object's files with ``ALTER DBT PROJECT ... ADD VERSION``
    (https://docs.snowflake.com/en/sql-reference/sql/create-dbt-project,
    https://docs.snowflake.com/en/sql-reference/sql/alter-dbt-project)."""
    # beside the tasks, not in gold: publishing swaps gold's schema and all it holds
    name = f"{settings.names.database}.{settings.names.audit}.{DBT_PROJECT}"
    source = f"'@{code_stage(settings)}/dbt'"
    return [
        f"CREATE DBT PROJECT IF NOT EXISTS {name}\n    FROM {source}\n    DBT_VERSION = '{DBT_VERSION}'\n"
        f"    DEFAULT_TARGET = '{DBT_TARGET}'\n    COMMENT = 'bronze, silver and gold marts (lake deploy)'",
        f"ALTER DBT PROJECT {name} ADD VERSION FROM {source}",
    ]


def deployer(settings: Settings) -> str:
    """The role every section but the bootstrap runs as: SNOWFLAKE_ROLE, else the role the
    governance spec makes the deployer."""
    if settings.snowflake is not None:
        return settings.snowflake.role.upper()
    return f"{settings.names.role_prefix}_{governance_spec.DEPLOYER}"


def runtime_steps(settings: Settings, role: str) -> list[Step]:
    """What the task graph runs later as its owner and the plan does not: dbt creating each
    mart and its governance hooks (PII tags, row access, data metric functions; the on-run-end
    hook on the vault), from the spec dbt's macros read (dbt/macros/governance/)."""
    from lake import governance

    section = "6. at run time, as the task graph's owner: dbt's marts and governance hooks"
    values = sqlfiles.variables(settings)
    db = settings.names.database
    schemas = {
        "business_vault": settings.names.schemas["vault"],
        **{layer: settings.names.schemas[layer] for layer in ("bronze", "silver")},
        # the task graph builds gold where readers do not look (write-audit-publish)
        "gold": settings.names.gold_pending,
    }
    spec = governance.dbt_spec(governance.dbt_models(), _rules())
    steps = []

    def metrics(kind: str, relation: str, entries: list[dict[str, str]]) -> None:
        if entries:
            steps.append(
                Step(section, f"ALTER {kind} {relation} SET DATA_METRIC_SCHEDULE = '{spec['schedule']}'", role=role)
            )
        for m in entries:
            function = sqlfiles.render(m["function"], values)
            steps.append(
                Step(
                    section,
                    f"ALTER {kind} {relation} ADD DATA METRIC FUNCTION {function} "
                    f"ON ({sqlfiles.render(m['columns'], values)})",
                    role=role,
                )
            )

    for model in governance.dbt_models():
        entry = spec["models"].get(model.name)
        relation = f"{db}.{schemas[model.layer]}.{model.name.upper()}"
        kind = "VIEW" if model.layer == "bronze" else "TABLE"
        steps.append(Step(section, f"CREATE OR REPLACE {kind} {relation} AS SELECT 1 AS DBT_BUILDS_IT", role=role))
        for statement in entry["statements"] if entry else []:
            text = statement.replace("{kind}", kind).replace("{relation}", relation)
            steps.append(Step(section, sqlfiles.render(text, values), role=role))
        metrics(kind, relation, entry["metrics"] if entry else [])
    for table, entry in spec["vault"].items():
        metrics(entry["kind"], f"{db}.{settings.names.vault}.{table}", entry["metrics"])
    # PUBLISH_GOLD: readers' USAGE moved across the swap of the validated build with gold
    pending, gold = f"{db}.{settings.names.gold_pending}", f"{db}.{settings.names.gold}"
    analyst = f"{settings.names.role_prefix}_ANALYST"
    steps.append(Step(section, f"GRANT USAGE ON SCHEMA {pending} TO ROLE {analyst}", role=role))
    steps.append(Step(section, f"ALTER SCHEMA {pending} SWAP WITH {gold}", role=role))
    return steps


def _rules() -> list[Any]:
    from procedures import quality

    return quality.load_rules().rules


def privilege_steps(settings: Settings, result: Plan) -> list[tuple[str, str, str]]:
    """``(section, role, statement)`` of the plan, then of what its task graph runs."""
    steps = [(s.section, s.role or result.deployer, s.statement) for s in result.steps]
    return steps + [(s.section, s.role, s.statement) for s in runtime_steps(settings, result.deployer)]


def check_privileges(settings: Settings, result: Plan) -> list[privileges.Checked]:
    """The plan, then what its task graph runs, checked against the privilege model
    (lake/privileges.py): PrivilegeError names the first statement its role could not run."""
    return privileges.check(privilege_steps(settings, result))


def check_pipeline_role(settings: Settings) -> None:
    """The role that deploys owns the procedures and tasks, so the pipeline runs as it: it
    must be one the masking and row access policies leave clear (sql/070_governance.sql),
    or the loader would hash masked values and dbt would build from hidden rows."""
    from procedures import governance

    if settings.snowflake is None:
        return
    allowed = {f"{settings.names.role_prefix}_{f}" for f in governance.PIPELINE_FUNCTIONS}
    if settings.snowflake.role.upper() not in allowed:
        raise ConfigError(
            f"SNOWFLAKE_ROLE {settings.snowflake.role!r} cannot run the pipeline: the procedures and tasks "
            f"run as the role that creates them, and only {', '.join(sorted(allowed))} read clear values "
            "and every row (sql/070_governance.sql). Deploy as one of them."
        )


def execute(
    settings: Settings,
    out: Path = DEFAULT_OUT,
    echo: Callable[[int, int, Step], None] | None = None,
    bootstrap: bool = False,
) -> Plan:
    """Run the plan on the snowflake target, step by step; stop at the first failure
    with the section and statement named. ``bootstrap``: only the account bootstrap, as
    ACCOUNTADMIN (once per account); otherwise everything else, as the deployer. The plan is
    checked against the privilege model first, so a missing grant stops it before any
    statement runs."""
    if settings.target != "snowflake":
        raise ConfigError("lake deploy runs against a Snowflake account: set LAKE_TARGET=snowflake (or use --plan)")
    assert settings.snowflake is not None
    if bootstrap:
        if not settings.snowflake.recipients:
            raise ConfigError(
                "lake deploy --bootstrap needs LAKE_ALERT_RECIPIENTS: the verified e-mail addresses the alerts' "
                "notification integration sends to (comma separated)"
            )
        settings = settings.model_copy(
            update={"snowflake": settings.snowflake.model_copy(update={"role": governance_spec.BOOTSTRAP_ROLE})}
        )
    else:
        check_pipeline_role(settings)
        if not settings.snowflake or not settings.snowflake.aws_role_arn:
            raise ConfigError(
                "lake deploy needs LAKE_AWS_ROLE_ARN: the IAM role the storage integration assumes (cdktf/ creates it)"
            )
    result = plan(settings, out, reveal=not bootstrap)
    if not bootstrap:
        result.deployer = deployer(settings)
        check_privileges(settings, result)
    result.steps = [s for s in result.steps if s.bootstrap == bootstrap]
    from lake.session import connect

    conn = connect(settings)
    try:
        cur = conn.cursor()
        for number, step in enumerate(result.steps, start=1):
            if echo is not None:
                echo(number, len(result.steps), step)
            try:
                cur.execute(step.statement)
            except Exception as err:
                first = step.printable.splitlines()[0][:100]
                raise DeployError(f"{step.section}, step {number} ({first}): {err}") from err
    finally:
        conn.close()
    return result
