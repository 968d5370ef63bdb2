"""``lake infra``: synthesize the infrastructure in ``cdktf/`` and gate it with checkov.

``cdktf/`` is a leaf that nothing imports (its AWS provider package alone takes seconds
to import), so synthesis runs it as a program: ``python cdktf/main.py``. checkov lives in
its own environment (``make checkov-env``): its pins (an older boto3 among them) do not
fit beside the project's.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procedures.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CDKTF_DIR = ROOT / "cdktf"
SKIPS_FILE = CDKTF_DIR / "checkov_skips.toml"
DEFAULT_OUT = Path("cdktf.out")
DEFAULT_CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


class InfraError(UserError, RuntimeError):
    """Synthesis or the checkov gate failed; the message says what and where."""


def synth(out: Path = DEFAULT_OUT, environments: list[str] | None = None, config: Path | None = None) -> list[Path]:
    """Synthesize every environment's stack into ``out``; returns the stack files."""
    args = [sys.executable, str(CDKTF_DIR / "main.py"), "--out", str(out)]
    for name in environments or []:
        args += ["--env", name]
    if config:
        args += ["--config", str(config)]
    # the machine's Node.js 20 works but is past its end of life: jsii says so in a banner
    env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise InfraError(f"synthesis failed: {message[-1] if message else 'exit ' + str(done.returncode)}")
    return [Path(line) for line in done.stdout.split() if line.endswith("cdk.tf.json")]


@dataclass(frozen=True)
class Skip:
    check: str
    resource: str
    reason: str

    def covers(self, finding: dict[str, Any]) -> bool:
        return finding["check_id"] == self.check and fnmatch.fnmatchcase(finding["resource"], self.resource)


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    """The accepted findings; an entry without a reason is refused."""
    try:
        entries = tomllib.loads(path.read_text()).get("skip", [])
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise InfraError(f"{path}: cannot read the checkov skip list: {err}") from None
    skips = []
    for n, entry in enumerate(entries, 1):
        missing = [k for k in ("check", "resource", "reason") if not str(entry.get(k, "")).strip()]
        if missing:
            raise InfraError(f"{path}: skip entry {n} lacks {', '.join(missing)} (every skip says why)")
        skips.append(Skip(entry["check"], entry["resource"], " ".join(entry["reason"].split())))
    return skips


@dataclass
class CheckReport:
    stack: str
    passed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)  # not covered by a skip
    accepted: list[tuple[dict[str, Any], Skip]] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)
    unused_skips: list[Skip] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.parsing_errors

    def summary(self) -> str:
        return (
            f"{self.stack}: {self.passed} passed, {len(self.failed)} failed, "
            f"{len(self.accepted)} accepted by the skip list, {len(self.parsing_errors)} parsing errors"
        )


def checkov_binary() -> Path:
    path = Path(os.environ.get("LAKE_CHECKOV", DEFAULT_CHECKOV))
    if not path.is_file():
        raise InfraError(f"checkov is not installed at {path}: run `make checkov-env` (or set LAKE_CHECKOV)")
    return path


def check_all(out: Path) -> list[CheckReport]:
    """checkov over every stack ``lake infra synth`` wrote into ``out``, with the shipped
    skips; an error when there is none."""
    stacks = sorted(p for p in (out / "stacks").glob("*") if p.is_dir()) if (out / "stacks").is_dir() else []
    if not stacks:
        from lake.output import lake_command

        raise InfraError(f"{out}: no synthesized stacks; run `{lake_command()} infra synth` first")
    skips = load_skips()
    return [check(stack, skips) for stack in stacks]


def check(stack_dir: Path, skips: list[Skip] | None = None) -> CheckReport:
    """Scan one synthesized stack with checkov (terraform_json, offline) and apply the
    skip list. checkov exits 0 on a file it cannot parse, so parsing errors are read
    from its report and count as failures here."""
    if not (stack_dir / "cdk.tf.json").is_file():
        from lake.output import lake_command

        raise InfraError(f"{stack_dir}: no cdk.tf.json here; run `{lake_command()} infra synth` first")
    skips = load_skips() if skips is None else skips
    args = [
        str(checkov_binary()),
        "--framework",
        "terraform_json",
        "--directory",
        str(stack_dir),
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",  # no guidelines from the vendor's API: tests stay on loopback
    ]
    env = os.environ | {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    try:
        raw = json.loads(done.stdout) if done.stdout.strip() else {}
    except json.JSONDecodeError:
        raise InfraError(
            f"checkov did not report JSON (exit {done.returncode}): {done.stderr.strip()[-500:]}"
        ) from None
    reports = raw if isinstance(raw, list) else [raw]
    report = CheckReport(stack=stack_dir.name)
    used: set[Skip] = set()
    for part in reports:
        if not part:
            continue
        if part.get("check_type", "terraform_json") != "terraform_json":
            continue
        results, summary = part.get("results", {}), part.get("summary", {})
        report.passed += int(summary.get("passed", 0))
        errors = results.get("parsing_errors") or []
        report.parsing_errors += errors or [f"{summary.get('parsing_errors')} file(s)"] * bool(
            summary.get("parsing_errors")
        )
        for finding in results.get("failed_checks", []):
            skip = next((s for s in skips if s.covers(finding)), None)
            if skip:
                report.accepted.append((finding, skip))
                used.add(skip)
            else:
                report.failed.append(finding)
    if report.passed == 0 and not report.failed and not report.accepted:
        raise InfraError(f"checkov found nothing to scan in {stack_dir}: {done.stderr.strip()[-500:]}")
    report.unused_skips = [s for s in skips if s not in used]
    return report
