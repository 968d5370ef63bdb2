"""The procedure artifact, tested as Snowflake loads it.

``lake deploy`` uploads ``procedures.zip`` and creates each procedure with ``IMPORTS`` (the
archive goes on the handler's ``sys.path``) and ``PACKAGES`` (what Snowflake installs).
Here each procedure's handler is imported from the archive the plan built, in a fresh
virtual environment holding only the packages the plan declares for it (plus the
connector, for a session to the local engine), and called against a local stack of its
own. A package missing from PACKAGES, or an archive without the ``procedures/`` folder
(what ``snow snowpark build`` makes), fails here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake import deploy, pipeline
from lake.config import LocalTarget, Settings
from lake.local.stack import Endpoints, LocalStack
from lake.session import connection_kwargs

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
# what Snowflake does with IMPORTS and HANDLER: the archive on sys.path, then the handler
RUNNER = """
import importlib, json, sys
archive, handler, connect, arguments = sys.argv[1:5]
sys.path.insert(0, archive)
module_name, _, function = handler.rpartition(".")
module = importlib.import_module(module_name)
assert module.__file__.startswith(archive), f"{module_name} came from {module.__file__}, not the archive"
if connect == "-":
    print(json.dumps({"imported": module_name}))
    raise SystemExit(0)
from snowflake.snowpark import Session
session = Session.builder.configs(json.loads(connect)).create()
try:
    print(json.dumps(getattr(module, function)(session, **json.loads(arguments)), default=str))
finally:
    session.close()
"""
CREATE = re.compile(
    r"CREATE OR REPLACE PROCEDURE \S+\.(?P<name>\w+)\(.*?PACKAGES = \((?P<packages>[^)]*)\).*?"
    r"IMPORTS = \('@[^/]+/(?P<archive>[^']+)'\).*?HANDLER = '(?P<handler>[^']+)'",
    re.DOTALL,
)


def _declared(plan: deploy.Plan) -> dict[str, dict[str, Any]]:
    """Each procedure's packages, archive and handler, as the plan's SQL declares them."""
    found = {}
    for step in plan.steps:
        if match := CREATE.match(step.statement):
            packages = tuple(p.strip().strip("'") for p in match["packages"].split(","))
            found[match["name"]] = {"packages": packages, "archive": match["archive"], "handler": match["handler"]}
    return found


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> deploy.Plan:
    return deploy.plan(Settings(), tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="module")
def venvs(plan: deploy.Plan, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Path]:
    """One fresh environment per set of declared packages, at the versions of the lock."""
    root = tmp_path_factory.mktemp("venvs")
    made: dict[tuple[str, ...], Path] = {}
    for declared in _declared(plan).values():
        packages = declared["packages"]
        if packages in made:
            continue
        folder = root / f"env{len(made)}"
        subprocess.run([UV, "venv", "-q", "--python", sys.executable, folder], check=True)
        lock = ROOT / "requirements.lock"
        install: list[str | Path] = [UV, "pip", "install", "-q", "--python", folder / "bin" / "python", "-c", lock]
        subprocess.run([*install, *packages, "snowflake-connector-python"], check=True)
        made[packages] = folder / "bin" / "python"
    return made


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Endpoints]]:
    """A stack of its own, so what the handlers write leaves the shared one alone."""
    settings = Settings(local=LocalTarget(state_dir=tmp_path_factory.mktemp("artifact-lake")))
    with LocalStack(settings.local).ensure(persist_s3=False) as endpoints:
        pipeline.setup(settings, endpoints)
        yield settings, endpoints


def _call(
    python: Path, archive: Path, handler: str, connect: dict[str, Any] | None, env: dict[str, str], **arguments: Any
) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run(
        [python, "-c", RUNNER, str(archive), handler, json.dumps(connect) if connect else "-", json.dumps(arguments)],
        capture_output=True,
        text=True,
        cwd=archive.parent,
        env={**clean, **env},
        timeout=600,
    )
    if done.returncode:
        raise AssertionError(f"{handler} failed in its declared environment:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_procedure_is_declared_with_snowpark_from_the_archive(plan: deploy.Plan) -> None:
    declared = _declared(plan)
    assert set(declared) == {
        "GENERATE_SAMPLE_DATA",
        "INGEST_LANDING",
        "BIND_LANDING_STAGE",
        "LOAD_VAULT",
        "VALIDATE_DATA",
        "PUBLISH_GOLD",
        "FINISH_PIPELINE_RUN",
        "REPLAY",
        "ERASE_SUBJECT",
    }
    for name, d in declared.items():
        assert d["packages"][0] == "snowflake-snowpark-python", name
        assert d["archive"] == "procedures/procedures.zip", name
        with zipfile.ZipFile(plan.out / "procedures.zip") as archive:
            assert f"{d['handler'].rpartition('.')[0].replace('.', '/')}.py" in archive.namelist(), name


def test_each_handler_runs_from_the_archive_with_only_its_packages(
    plan: deploy.Plan, venvs: dict[tuple[str, ...], Path], own_stack: tuple[Settings, Endpoints]
) -> None:
    settings, endpoints = own_stack
    archive = plan.out / "procedures.zip"
    declared = _declared(plan)

    def run(name: str, **arguments: Any) -> Any:
        proc = deploy.procedure(name)
        connect = connection_kwargs(settings, endpoints, settings.names.schemas[proc.layer])
        python = venvs[declared[name]["packages"]]
        return _call(python, archive, declared[name]["handler"], connect, endpoints.aws_env(), **arguments)

    generated = run("GENERATE_SAMPLE_DATA", scale=40, days=1, formats="crm=csv,finance=json")
    assert generated["total_rows"] > 0
    stage = f"{settings.names.database}.{settings.names.landing}.{settings.names.landing_stage}"
    bound = run("BIND_LANDING_STAGE", stage=stage)
    assert bound["stage"] == stage and bound["files"] > generated["files"]  # data, control and manifest files
    ingested = run("INGEST_LANDING")  # from the bound stage
    assert ingested["total_rows"] > 0 and ingested["files"].get("LOADED", 0) > 0
    loaded = run("LOAD_VAULT")
    assert loaded["inserted"]["hub_customer"] > 0
    validated = run("VALIDATE_DATA", layer="landing,vault")
    assert validated["rules_run"] > 0 and validated["passed"] > 0 and not validated["failed"]
    erased = run("ERASE_SUBJECT", customer_id="C000000001", request_id="ARTIFACT-1")
    assert erased["rows_erased"] > 0 and erased["values_checked"] > 0 and erased["found_after"] == {}


def test_an_archive_without_the_package_folder_cannot_import_its_handler(
    plan: deploy.Plan, venvs: dict[tuple[str, ...], Path], tmp_path: Path
) -> None:
    # what `snow snowpark build` makes of `src: procedures/`: names relative to the folder
    flat = tmp_path / "flat.zip"
    with zipfile.ZipFile(plan.out / "procedures.zip") as source, zipfile.ZipFile(flat, "w") as target:
        for name in source.namelist():
            target.writestr(name.removeprefix("procedures/"), source.read(name))
    python = venvs[_declared(plan)["VALIDATE_DATA"]["packages"]]
    with pytest.raises(AssertionError, match="No module named 'procedures'"):
        _call(python, flat, "procedures.handlers.validate_data.main", None, {})


def test_a_handler_in_an_environment_without_its_packages_fails_to_import(
    plan: deploy.Plan, venvs: dict[tuple[str, ...], Path]
) -> None:
    # VALIDATE_DATA's environment has no pyarrow, which ingestion imports
    python = venvs[_declared(plan)["VALIDATE_DATA"]["packages"]]
    with pytest.raises(AssertionError, match="No module named 'pyarrow'"):
        _call(python, plan.out / "procedures.zip", "procedures.handlers.ingest_landing.main", None, {})
