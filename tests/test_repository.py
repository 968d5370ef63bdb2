"""The repository itself: its GitHub workflows pass actionlint and zizmor, and it holds
no secrets (detect-secrets over every tracked file)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lake import generated

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed in the project environment (make env)"
    return found


def test_there_are_workflows() -> None:
    # list >= list compares lexicographically (["deploy.yml"] >= ["ci.yml"] holds): test membership
    assert {"ci.yml", "deploy.yml"} <= {p.name for p in WORKFLOWS}


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
