"""Run dbt on the project in ``dbt/`` against the current target.

The profile (``dbt/profiles.yml``) reads everything from the environment; this module
sets that environment from the lake's settings, so nobody edits a profile: the local
target points at the fakesnow server ``lake up`` started, the ``snowflake`` target at the
account in ``[snowflake]``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lake.config import Settings
from lake.local.stack import Endpoints
from lake.steps import Built, DbtProblem
from procedures.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt"


class DbtError(UserError, RuntimeError):
    """dbt exited with an error; the message carries the command and its exit code."""


def state_dir(settings: Settings) -> Path:
    """dbt's target/ and logs/ live under the lake's state folder."""
    return (settings.local.state_dir / "dbt").resolve()


def environment(settings: Settings, endpoints: Endpoints | None) -> dict[str, str]:
    """The variables ``dbt/profiles.yml`` and ``dbt/dbt_project.yml`` read."""
    names = settings.names
    env = {
        "LAKE_DBT_TARGET": settings.target,
        "LAKE_DATABASE": names.database,
        "LAKE_VAULT_SCHEMA": names.vault,
        "LAKE_BRONZE_SCHEMA": names.bronze,
        "LAKE_SILVER_SCHEMA": names.silver,
        "LAKE_GOLD_SCHEMA": names.gold,
        "LAKE_QUALITY_SCHEMA": names.quality,
        "LAKE_GOVERNANCE_SCHEMA": names.governance,
        "LAKE_ROLE_PREFIX": names.role_prefix,
        "LAKE_REPORTING_CURRENCY": settings.reporting_currency,
        # dbt's anonymous usage statistics would call out to the network
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_PROJECT_DIR": str(PROJECT_DIR),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_TARGET_PATH": str(state_dir(settings) / "target"),
        "DBT_LOG_PATH": str(state_dir(settings) / "logs"),
    }
    if settings.target == "local":
        if endpoints is None:
            from lake.output import lake_command

            raise DbtError(f"the local servers are not running: start them with `{lake_command()} up`")
        env["LAKE_LOCAL_SNOWFLAKE_PORT"] = str(endpoints.snowflake_port)
    else:
        sf = settings.snowflake
        assert sf is not None  # the settings refuse target = snowflake without [snowflake]
        env |= {
            "SNOWFLAKE_ACCOUNT": sf.account,
            "SNOWFLAKE_USER": sf.user,
            "SNOWFLAKE_ROLE": sf.role,
            "SNOWFLAKE_WAREHOUSE": sf.warehouse,
            "SNOWFLAKE_AUTHENTICATOR": sf.authenticator,
        }
        if sf.private_key_file:
            env["SNOWFLAKE_PRIVATE_KEY_FILE"] = str(sf.private_key_file)
    return env


def _tool(name: str) -> str:
    """An executable of this interpreter's environment (dbt, sqlfluff)."""
    return str(Path(sys.executable).with_name(name))


# "12:00:01  3 of 71 OK created sql view model ..." (dbt's text log, one line per node)
_NODE_DONE = re.compile(r"\b(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP)\b")


def log_file(settings: Settings) -> Path:
    """Where ``lake run`` keeps dbt's whole output (the summary names it)."""
    return state_dir(settings) / "logs" / "lake-dbt.log"


def run(settings: Settings, endpoints: Endpoints | None, args: Sequence[str], capture: bool = False) -> float:
    """Run ``dbt <args>`` with the target's environment (the project and profile come from
    DBT_PROJECT_DIR and DBT_PROFILES_DIR); returns the seconds it took. Its output streams
    to the terminal, or with ``capture`` goes to ``log_file`` while its node count is
    reported to ``progress.current()``. Raises DbtError on a non-zero exit."""
    from lake import progress

    started = time.perf_counter()
    cmd = [_tool("dbt"), *(args or ["--help"])]
    env = {**os.environ, **environment(settings, endpoints)}
    if not capture:
        completed = subprocess.run(cmd, env=env, check=False)
        if completed.returncode != 0:
            raise DbtError(f"`dbt {' '.join(args)}` exited with code {completed.returncode} (its output is above)")
        return time.perf_counter() - started
    reporter = progress.current()
    path = log_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    done = 0
    errors: list[str] = []
    env["DBT_USE_COLORS"] = "false"
    with path.open("a") as log:
        log.write(f"\n==== dbt {' '.join(args)}\n")
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if match := _NODE_DONE.search(line):
                    done += 1
                    reporter.update(done, int(match.group(2)), "nodes")
                    if match.group(3) in ("ERROR", "FAIL"):
                        errors.append(line[match.start() :].strip())
                elif not errors and re.search(r"\b(Error|error)\b", line) and "0 errors" not in line.lower():
                    errors.append(line.strip())
        returncode = proc.returncode
    if returncode != 0:
        first = errors[0] if errors else "see the log"
        raise DbtError(f"`dbt {' '.join(args)}` exited with code {returncode}: {first} (whole output: {path})")
    return time.perf_counter() - started


def failed_tests_file(settings: Settings) -> Path:
    """Where a build whose data tests failed leaves their names (see ``test_scope``)."""
    return state_dir(settings) / "failed_tests.txt"


def test_scope(settings: Settings) -> list[str]:
    """dbt arguments for a scheduled build's data tests. They read the rows the build wrote
    to each incremental model (dbt/macros/test_scope.sql), so rows that failed a test would
    drop out of sight with the next build: after a build whose tests failed, the next one
    tests every row, until a build passes."""
    return ["--vars", "{lake_test_all_rows: true}"] if failed_tests_file(settings).exists() else []


def record_test_failures(settings: Settings, since: float) -> None:
    """After a build that started at ``since`` (``time.time()``): keep the names of its
    failed (or errored) data tests for the next build's ``test_scope``, or clear them when
    none failed."""
    written = state_dir(settings) / "target" / "run_results.json"
    if not written.exists() or written.stat().st_mtime < since:
        return  # dbt stopped before running anything: the results are an older run's
    failed = [
        p["node"] for p in results(settings)["problems"] if p["node"].startswith("test.") and p["status"] != "warn"
    ]
    marker = failed_tests_file(settings)
    if failed:
        marker.write_text("\n".join(failed) + "\n")
    else:
        marker.unlink(missing_ok=True)


def results(settings: Settings) -> Built:
    """The last dbt invocation's results (run_results.json): counts by resource type and
    status, and the nodes that did not pass."""
    path = state_dir(settings) / "target" / "run_results.json"
    data = json.loads(path.read_text())
    counts: dict[str, dict[str, int]] = {}
    problems: list[DbtProblem] = []
    for result in data["results"]:
        kind = result["unique_id"].split(".", 1)[0]
        kind = "hook" if kind == "operation" else kind  # on-run-end: the governance hook
        status = str(result["status"])
        counts.setdefault(kind, {})
        counts[kind][status] = counts[kind].get(status, 0) + 1
        if status not in ("success", "pass"):
            problems.append({"node": result["unique_id"], "status": status, "failures": result.get("failures")})
    return {"counts": counts, "problems": problems, "elapsed": round(float(data.get("elapsed_time", 0.0)), 2)}


def lint(settings: Settings, endpoints: Endpoints | None, fix: bool = False) -> subprocess.CompletedProcess[str]:
    """sqlfluff (dbt/.sqlfluff: Snowflake dialect, dbt templater) over the models and
    tests; the dbt templater compiles through the target, so its environment is set."""
    cmd = [_tool("sqlfluff"), "fix" if fix else "lint", "models", "tests", "--disable-progress-bar", "--nocolor"]
    return subprocess.run(
        cmd,
        cwd=PROJECT_DIR,
        env={**os.environ, **environment(settings, endpoints)},
        capture_output=True,
        text=True,
        check=False,
    )
