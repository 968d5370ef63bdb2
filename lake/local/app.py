"""``lake app install --local``: the Native App installed and run on the local engine.

What Snowflake does on ``CREATE APPLICATION`` / ``ALTER APPLICATION ... UPGRADE``, done
with the bundle ``snow app bundle`` builds:

* the manifest and setup script are checked against the rules Snowflake enforces
  (``lake.app.check``: reference object types and privileges, no USE in a setup script, no
  task, tag or policy in a versioned schema ...), so a bundle Snowflake would refuse is
  refused here;
* a fresh database stands in for the application; the setup script runs in it, statement
  by statement. What only Snowflake runs (application roles, GRANTs, Streamlit, SQL
  procedures, tasks) goes through the documented skip list (lake/local/unsupported.py).
  A versioned schema becomes a plain one: locally nothing lives in it (its procedures are
  registered, its Streamlit is skipped);
* each ``CREATE PROCEDURE ... LANGUAGE PYTHON`` is registered (name, handler, IMPORTS) in
  ``<state dir>/apps/<APP>/<version>/procedures.json``, beside the bundle's files;
* ``call`` runs a registered procedure as Snowflake would: in a process of its own whose
  ``procedures`` package is the installed version's archive (so an upgrade replaces the
  code), with a Session in the app's code schema under owner's-rights rules.

Upgrading is installing another bundle into the same database: state schemas keep their
rows, the setup script's ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS`` adds new columns, and
the registry points at the new archive.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from lake import app as native_app
from lake import sqlfiles
from lake.config import Settings
from lake.local.stack import Endpoints
from lake.local.unsupported import skipped_locally
from lake.session import connection, snowpark_session
from lake.steps import StepReport, called
from procedures.errors import UserError

ROOT = Path(__file__).resolve().parent.parent.parent
SNOW = ROOT / ".venv-snow" / "bin" / "snow"
DEFAULT_APP = "LAKE_APP"
_PYTHON_PROC = re.compile(
    r"CREATE\s+OR\s+REPLACE\s+PROCEDURE\s+([\w.]+)\s*\(.*?\)\s+RETURNS\s+\w+\s+LANGUAGE\s+PYTHON\b.*?"
    r"IMPORTS\s*=\s*\(([^)]*)\).*?HANDLER\s*=\s*'([\w.]+)'",
    re.IGNORECASE | re.DOTALL,
)


class AppInstallError(UserError, RuntimeError):
    """Installing or calling the app locally failed; says what and where."""


@dataclass(frozen=True)
class Registered:
    name: str  # SCHEMA.PROCEDURE
    handler: str
    imports: tuple[str, ...]  # paths inside the bundle


@dataclass
class Installed:
    app: str
    version: str
    directory: Path
    seconds: float
    statements_run: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> statements
    procedures: dict[str, Registered] = field(default_factory=dict)
    upgraded_from: str | None = None


def local_endpoints(settings: Settings, endpoints: Endpoints | None) -> Endpoints:
    """The local servers' endpoints; on the Snowflake target the app is installed with
    `make app-deploy` (snow app run), not by lake."""
    if settings.target != "local" or endpoints is None:
        raise AppInstallError(
            "lake installs and calls the app on the local target only; on Snowflake: make app-deploy (snow app run)"
        )
    return endpoints


def app_settings(settings: Settings, app: str) -> Settings:
    """``settings`` with the application's database in place of the lake's."""
    return settings.model_copy(update={"names": settings.names.model_copy(update={"database": app})})


def apps_dir(settings: Settings) -> Path:
    return settings.local.state_dir / "apps"


def bundle(out: Path | None = None) -> Path:
    """``snow app bundle`` (snowflake-cli, offline) on this checkout: the application
    package's files as ``snow app run`` would upload them (``output/deploy``)."""
    if not SNOW.exists():
        raise AppInstallError(
            "snowflake-cli is not installed: run `make snow-env` "
            "(or `make app-local`, which installs it and then the app)"
        )
    native_app.zip_procedures()
    result = subprocess.run(
        [str(SNOW), "app", "bundle"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    deploy = ROOT / "output" / "deploy"
    if result.returncode != 0 or not deploy.is_dir():
        raise AppInstallError(f"snow app bundle failed: {(result.stdout + result.stderr).strip()[-2000:]}")
    if out is not None:
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(deploy, out)
        return out
    return deploy


def _registered(statement: str) -> Registered | None:
    match = _PYTHON_PROC.match(statement)
    if not match:
        return None
    imports = tuple(p.strip().strip("'").lstrip("/") for p in match.group(2).split(",") if p.strip())
    return Registered(match.group(1).upper(), match.group(3), imports)


def _current_file(settings: Settings, app: str) -> Path:
    return apps_dir(settings) / app / "current"


def install(settings: Settings, endpoints: Endpoints, bundle_dir: Path, app: str = DEFAULT_APP) -> Installed:
    """Install (or upgrade to) the bundle in ``bundle_dir`` as application ``app``."""

    started = time.perf_counter()
    manifest_path, setup_path = bundle_dir / "manifest.yml", bundle_dir / "setup_script.sql"
    for path in (manifest_path, setup_path):
        if not path.is_file():
            raise AppInstallError(f"{path}: not in the bundle (build it with `snow app bundle`)")
    manifest = yaml.safe_load(manifest_path.read_text()) or {}
    setup_file = bundle_dir / str((manifest.get("artifacts") or {}).get("setup_script", "setup_script.sql"))
    statements = sqlfiles.split(setup_file.read_text())
    native_app.check(manifest, statements)
    version = str((manifest.get("version") or {}).get("name") or "UNVERSIONED").upper()

    current = _current_file(settings, app)
    previous = current.read_text().strip() if current.is_file() else None
    target = apps_dir(settings) / app / version
    if target.resolve() != bundle_dir.resolve():
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(bundle_dir, target)

    with connection(settings, endpoints) as lake_conn:
        lake_conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {app}")
    installed = Installed(app, version, target, 0.0, upgraded_from=previous)
    with connection(app_settings(settings, app), endpoints) as conn:
        cur = conn.cursor()
        for number, statement in enumerate(statements, start=1):
            if registered := _registered(statement):
                installed.procedures[registered.name] = registered
            if versioned := native_app.versioned_schema(statement):
                # no versioned schemas locally: a plain one, which the procedures' sessions open in
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {versioned}")
            if why := skipped_locally(statement):
                installed.skipped[why] = installed.skipped.get(why, 0) + 1
                continue
            try:
                cur.execute(statement)
            except Exception as err:
                first = statement.splitlines()[0][:100]
                raise AppInstallError(f"{setup_file.name}, statement {number} ({first}): {err}") from err
            installed.statements_run += 1
    (target / "procedures.json").write_text(
        json.dumps({k: dataclasses.asdict(v) for k, v in sorted(installed.procedures.items())}, indent=2)
    )
    current.write_text(version + "\n")
    installed.seconds = time.perf_counter() - started
    return installed


def registry(settings: Settings, app: str = DEFAULT_APP) -> tuple[Path, dict[str, Registered]]:
    current = _current_file(settings, app)
    if not current.is_file():
        from lake.output import lake_command

        raise AppInstallError(f"application {app} is not installed locally: run `{lake_command()} app install --local`")
    directory = apps_dir(settings) / app / current.read_text().strip()
    entries = json.loads((directory / "procedures.json").read_text())
    return directory, {k: Registered(v["name"], v["handler"], tuple(v["imports"])) for k, v in entries.items()}


def call(
    settings: Settings, endpoints: Endpoints, procedure: str, *arguments: Any, app: str = DEFAULT_APP
) -> dict[str, Any]:
    """``CALL <app>.<procedure>(arguments)``: the installed version's handler, in a
    process of its own (lake/local/app_call.py)."""
    directory, procedures = registry(settings, app)
    name = procedure.upper() if "." in procedure else f"{native_app.CODE_SCHEMA}.{procedure.upper()}"
    if name not in procedures:
        raise AppInstallError(f"application {app} has no procedure {name}; it has {', '.join(sorted(procedures))}")
    proc = procedures[name]
    job = {
        "procedure": name.rpartition(".")[2],
        "schema": name.partition(".")[0],
        "handler": proc.handler,
        "imports": [str(directory / p) for p in proc.imports],
        "arguments": list(arguments),
        "settings": json.loads(app_settings(settings, app).model_dump_json()),
        "endpoints": dataclasses.asdict(endpoints),
    }
    result = subprocess.run(
        [sys.executable, "-m", "lake.local.app_call"],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    answer = json.loads(lines[-1]) if lines else {}
    if result.returncode != 0 or "error" in answer:
        detail = answer.get("error") or result.stderr.strip()[-2000:] or f"exit status {result.returncode}"
        raise AppInstallError(f"CALL {app}.{name}: {detail}")
    return dict(answer["result"])


def uninstall(settings: Settings, endpoints: Endpoints, app: str = DEFAULT_APP) -> bool:
    """``DROP APPLICATION``: the database and the installed versions."""

    with connection(settings, endpoints) as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {app}")
    existed = (apps_dir(settings) / app).exists()
    shutil.rmtree(apps_dir(settings) / app, ignore_errors=True)
    return existed


# --------------------------------------------------------------------------- install and run


@dataclass
class AppRun:
    installed: Installed
    steps: list[StepReport[Any]] = field(default_factory=list)
    app_vault: dict[str, int] = field(default_factory=dict)
    lake_vault: dict[str, int] = field(default_factory=dict)  # the standalone lake's, for comparison
    graph: dict[str, Any] = field(default_factory=dict)  # what its finalizer recorded


def install_and_run(
    settings: Settings,
    endpoints: Endpoints,
    bundle_dir: Path | None = None,
    app: str = DEFAULT_APP,
    scale: int = 1000,
) -> AppRun:
    """Bundle, install, bind the local landing stage, then CALL the app's task-graph
    procedures in order (``task_graph.APP_NODES``). The standalone lake's sql/ is applied
    first if missing (the landing stage lives there), and a batch is generated into the
    landing zone when it holds none."""
    from lake import pipeline
    from procedures.sample_data import Plan

    started = time.perf_counter()
    bundle_dir = bundle_dir or bundle()
    report = AppRun(install(settings, endpoints, bundle_dir, app))
    report.steps.append(StepReport(f"install {app} {report.installed.version}", time.perf_counter() - started, {}))
    if not pipeline.schema_exists(settings, endpoints):
        report.steps.append(pipeline.setup(settings, endpoints))
    stage = f"{settings.names.database}.{settings.names.landing}.{settings.names.landing_stage}"
    bound = _timed("BIND_LANDING_STAGE", lambda: call(settings, endpoints, "BIND_LANDING_STAGE", stage, app=app))
    if not bound.detail.get("files"):
        report.steps.append(pipeline.generate(settings, endpoints, Plan.build(scale=scale, days=1)))
        bound = _timed("BIND_LANDING_STAGE", lambda: call(settings, endpoints, "BIND_LANDING_STAGE", stage, app=app))
    report.steps.append(bound)
    report.graph = _run_graph(settings, endpoints, report, app)
    for target_settings, counts in ((app_settings(settings, app), report.app_vault), (settings, report.lake_vault)):
        with snowpark_session(target_settings, endpoints) as session:
            try:
                counts.update(pipeline.vault_counts(session, settings))
            except Exception:  # the standalone lake has no vault yet
                counts.clear()
    return report


def _run_graph(settings: Settings, endpoints: Endpoints, report: AppRun, app: str) -> dict[str, Any]:
    """The app's task graph: its procedures in order, stopping at the first failure, then its
    finalizer, FINISH_PIPELINE_RUN of the installed version, given the tasks' outcomes (what
    TASK_HISTORY gives it on Snowflake). A failed run is told through the lake's local
    notification integration, as one the consumer names to START_PIPELINE would be."""
    from lake import progress, task_graph

    started = datetime.now(UTC).replace(tzinfo=None)
    tasks: list[dict[str, Any]] = [{"name": task_graph.ROOT, "state": "SUCCEEDED"}]
    finished: dict[str, Any] = {}
    try:
        for node in task_graph.order(task_graph.APP_NODES):
            args = node.values({})
            try:
                step = _timed(
                    node.procedure, lambda n=node, a=args: call(settings, endpoints, n.procedure, *a, app=app)
                )
            except BaseException as err:
                tasks.append(dataclasses.asdict(task_graph.stopped_task(node.task, err)))
                raise
            report.steps.append(step)
            tasks.append({"name": node.task, "state": "SUCCEEDED"})
    finally:
        finished = call(
            settings,
            endpoints,
            task_graph.FINISH,
            task_graph.notification_integration(settings),
            json.dumps(task_graph.expected(task_graph.APP_NODES)),
            json.dumps(tasks),
            started.isoformat(),
            ",".join(task_graph.notification_recipients(settings)),
            app=app,
        )
        if finished.get("message"):
            progress.current().notify(str(finished["notified"]), str(finished["message"]))
    return finished


def _timed(procedure: str, fn: Any) -> StepReport[Any]:
    """``CALL <procedure>`` as ``fn`` runs it, reported as the procedure's kind of step."""
    started = time.perf_counter()
    detail = fn()
    return called(procedure, time.perf_counter() - started, detail)
