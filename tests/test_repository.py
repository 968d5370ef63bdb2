"""The repository itself: its GitHub workflows pass actionlint and zizmor, and it holds
no secrets (detect-secrets over every tracked file)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lake import generated

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed in the project environment (make env)"
    return found


def test_there_are_workflows() -> None:
    # list >= list compares lexicographically: test membership
    assert {"ci.yml", "weekly-data.yml"} <= {p.name for p in WORKFLOWS}


def workflow(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    # YAML 1.1 reads the key `on` as True
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return dict(loaded)


CHECKS = ("lint", "test", "infra")
DEPLOYING = ("lake deploy", "snow app", 'terraform -chdir="$stack" apply')


def deploying_jobs() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every job, in any workflow, with a step that changes a target: deploys the
    pipeline or the app, or applies the infrastructure."""
    found = {}
    for path in WORKFLOWS:
        for name, job in workflow(path.name)["jobs"].items():
            runs = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
            if any(d in runs for d in DEPLOYING):
                found[f"{path.name}:{name}"] = (path.name, job)
    return found


def test_nothing_deploys_without_green_checks_on_the_same_commit() -> None:
    """The brief's CI/CD: pull requests run lint, tests and the infrastructure's synth,
    checkov and plan; a push to develop deploys to dev, to main to production, each only
    after every check of the same run passed (`needs`, in the checks' own workflow), never
    from a pull request, production behind its GitHub environment."""
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"} and set(ci["on"]["push"]["branches"]) == {"main", "develop"}
    for check in CHECKS:  # the checks run on every event
        assert "if" not in ci["jobs"][check] and "needs" not in ci["jobs"][check], check
    deploying = deploying_jobs()
    assert deploying, "no job deploys"
    for where, (file, job) in deploying.items():
        assert file == "ci.yml", f"{where} deploys outside the workflow of the checks"
        assert set(CHECKS) <= set(job.get("needs", ())), f"{where} can deploy without green checks"
        condition = str(job.get("if", ""))
        assert "github.event_name == 'push'" in condition, f"{where} can deploy from a pull request"
        # a status function in `if` replaces the default success(): it would run after a failed check
        assert not re.search(r"always\(\)|failure\(\)|cancelled\(\)", condition), f"{where} overrides needs"
        environment = str(job.get("environment", ""))
        assert "github.ref_name == 'main' && 'production'" in environment and "'dev'" in environment, where
    steps = [
        str(s.get("run", "")) + str(s.get("uses", "")) + str(s.get("if", "")) for s in ci["jobs"]["deploy"]["steps"]
    ]

    def at(text: str) -> int:
        return next(i for i, s in enumerate(steps) if text in s)

    # main applies the infrastructure before the deployment that relies on it, then builds and
    # tests the models on the target, gates on quality, and keeps the dbt docs
    assert at("apply -input=false") < at("lake deploy") < at("lake dbt build") < at("lake quality")
    assert "github.ref_name == 'main'" in steps[at("apply -input=false")]
    assert at("lake dbt docs generate") < at("upload-artifact")
    # lint and test together are `make test` (what .ci/run calls), nothing run twice
    makefile = (ROOT / "Makefile").read_text()
    prerequisites = set(re.search(r"^test: (.*?)  ##", makefile, re.M)[1].split())  # type: ignore[index]
    targets = [
        t
        for check in ("lint", "test")
        for s in ci["jobs"][check]["steps"]
        if str(s.get("run", "")).startswith("make ")
        for t in str(s["run"]).split()[1:]
    ]
    assert len(targets) == len(set(targets)) and set(targets) | {"env"} == prerequisites, targets
    plan = " ".join(str(s.get("run", "")) for s in ci["jobs"]["infra"]["steps"])
    assert "make infra" in plan and "plan -input=false" in plan
    weekly = workflow("weekly-data.yml")
    assert set(weekly["on"]) == {"schedule", "workflow_dispatch"}
    generate = " ".join(str(s.get("run", "")) for s in weekly["jobs"]["generate"]["steps"])
    assert "lake generate --days 7" in generate and "aws glue start-crawler" in generate


def test_the_readme_lists_every_workflow() -> None:
    listed = set(re.findall(r"`\.github/workflows/([\w.-]+\.yml)`", (ROOT / "README.md").read_text()))
    assert listed == {p.name for p in WORKFLOWS}


def test_actionlint_passes_on_the_workflows() -> None:
    result = subprocess.run([tool("actionlint"), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    # offline: the audits that ask GitHub (e.g. known-vulnerable action versions) are skipped
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--format", "plain", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_secrets_scan_finds_nothing() -> None:
    # detect-secrets scans the files git tracks. Known false positives carry an inline
    # `pragma: allowlist secret` (fakesnow's any-password, a test's fake config); the
    # CDKTF golden files' construct ids (name plus an 8-hex hash) read as high entropy
    # and are skipped, by that shape only.
    assert (ROOT / ".git").exists(), "the secrets scan needs a git checkout"
    construct_id = r'"[a-z0-9_]+_[0-9A-F]{8}"'
    result = subprocess.run(
        [tool("detect-secrets"), "scan", "--exclude-lines", construct_id],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    findings = json.loads(result.stdout)["results"]
    assert findings == {}, json.dumps(findings, indent=2)


@pytest.mark.unit
@pytest.mark.parametrize("path", list(generated.files()), ids=generated.shown)
def test_every_generated_file_is_current(path: Path) -> None:
    """One table of generated files (lake/generated.py), one `make ddl`."""
    assert path.read_text() == generated.files()[path](), f"{generated.shown(path)} is stale: run `make ddl`"
