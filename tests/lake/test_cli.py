"""The command line as a user meets it: the real ``lake`` executable in a process of its
own. Every failure a user can cause ends in one line naming what to fix and a non-zero
exit, never a traceback (``--debug`` shows one); piped output is plain and short; the
JSON outputs parse."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from lake import task_graph
from lake.config import LocalTarget, Settings
from lake.local.stack import Endpoints, LocalStack

LAKE = str(Path(sys.executable).with_name("lake"))
ESCAPE = "\x1b"


def lake(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAKE, *args], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.fixture()
def fresh(tmp_path: Path) -> dict[str, str]:
    """A state folder of its own (no servers running there)."""
    return {"LAKE_STATE_DIR": str(tmp_path / "state")}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "env", "exit_code", "says"),
    [
        pytest.param(["sql", ""], {}, 2, "Invalid value: QUERY is empty", id="empty_sql"),
        pytest.param(["sql"], {}, 2, "give SQL, - to read it from standard input, or --file FILE", id="no_sql"),
        pytest.param(["sql", "--file", "/no/such.sql"], {}, 2, "/no/such.sql: No such file", id="no_sql_file"),
        pytest.param(["ui", "--port", "99999"], {}, 2, "Invalid value for '--port'", id="port_out_of_range"),
        pytest.param(["run", "--formats", "crm=xml"], {}, 2, "unknown file format 'xml'", id="unknown_format"),
        pytest.param(["run", "--scale", "-5"], {}, 2, "Invalid value for '--scale'", id="negative_scale"),
        pytest.param(["quality", "--batch", "NOPE"], {}, 2, "batch_id must look like B20260105", id="bad_batch"),
        pytest.param(["run", "--target", "cloud"], {}, 2, "Invalid value for --target", id="unknown_target"),
        pytest.param(
            ["sql", "select 1"],
            {
                "LAKE_TARGET": "snowflake",
                "SNOWFLAKE_ACCOUNT": "xy12345",
                "SNOWFLAKE_USER": "lake",
                "LAKE_LANDING_URL": "s3://lake-landing/landing/",
                "SNOWFLAKE_PRIVATE_KEY_FILE": "/no/such/key.p8",
            },
            1,
            "SNOWFLAKE_PRIVATE_KEY_FILE (snowflake.private_key_file): no such file: /no/such/key.p8",
            id="missing_key_file",
        ),
        pytest.param(
            ["config"],
            {
                "LAKE_TARGET": "snowflake",
                "SNOWFLAKE_ACCOUNT": "a",
                "SNOWFLAKE_USER": "u",
                "LAKE_LANDING_URL": "s3://b/landing/",
            },
            1,
            "bucket name 'b' is 1 characters long; S3 takes 3 to 63",
            id="short_bucket_name",
        ),
    ],
)
def test_a_bad_argument_or_setting_fails_at_once_in_one_line(
    args: list[str], env: dict[str, str], exit_code: int, says: str, fresh: dict[str, str]
) -> None:
    done = lake(*args, env={**fresh, **env})
    assert done.returncode == exit_code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert says in _last_line(done.stderr), done.stderr
    assert not Path(fresh["LAKE_STATE_DIR"]).exists(), "a server was started before the input was checked"


@pytest.mark.unit
def test_a_state_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = lake("up", env={"LAKE_STATE_DIR": str(blocker / "state")})
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert _last_line(done.stderr).startswith(f"error: Not a directory: {blocker / 'state'}"), done.stderr


@pytest.mark.integration
def test_servers_that_cannot_start_say_why_in_one_line(tmp_path: Path) -> None:
    # the warehouse folder is a file: the server process dies on start (as on a full disk)
    state = tmp_path / "state"
    state.mkdir()
    (state / "warehouse").write_text("")
    done = lake("up", env={"LAKE_STATE_DIR": str(state)})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    line = _last_line(done.stderr)
    assert line.startswith("error: the local servers did not start: FileExistsError"), line
    assert f"whole log: {state / 'servers.log'}" in line


@pytest.mark.integration
def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = lake("--debug", "up", env={"LAKE_STATE_DIR": str(blocker / "state")})
    assert done.returncode == 1 and "Traceback (most recent call last)" in done.stderr
    assert "NotADirectoryError" in _last_line(done.stderr)


@pytest.mark.integration
def test_ctrl_c_stops_a_run_with_one_line(fresh: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [LAKE, "run", "--scale", "50", "--days", "1"],
        env={**os.environ, **fresh},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the run has started ("lake run on the local target")
    assert first.startswith("lake run on the local target"), first
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and _last_line(err) == "interrupted", err
    # the servers the run started are stopped too
    stack = LocalStack(LocalTarget(state_dir=Path(fresh["LAKE_STATE_DIR"])))
    assert stack.running() is None


@pytest.mark.integration
def test_sql_json_keeps_numbers_and_config_json_is_pure(settings: Settings, applied: Endpoints) -> None:
    env = {"LAKE_STATE_DIR": str(settings.local.state_dir)}
    done = lake("sql", "select 13148.02::number(12,2) as amount, count(*) as n, 'x' as s", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout, parse_float=Decimal)
    assert rows == [{"AMOUNT": Decimal("13148.02"), "N": 1, "S": "x"}]
    assert isinstance(rows[0]["N"], int)
    config = json.loads(lake("config", "--format", "json", env=env).stdout)
    assert config["settings"]["local"]["state_dir"] == str(settings.local.state_dir)


@pytest.mark.unit
def test_upload_refuses_files_outside_the_landing_layout(tmp_path: Path, fresh: dict[str, str]) -> None:
    folder = tmp_path / "drop"
    (folder / "crm" / "customers" / "load_date=2026-01-05").mkdir(parents=True)
    (folder / "crm" / "customers" / "load_date=2026-01-05" / "part-0000.csv").write_text("customer_id\n1\n")
    (folder / "foo.txt").write_text("stray")
    done = lake("upload", str(folder), env=fresh)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    line = _last_line(done.stderr)
    assert "1 files in" in line and "outside the landing layout" in line and "foo.txt" in line, line
    assert "nothing was uploaded" in line
    assert not Path(fresh["LAKE_STATE_DIR"]).exists()


@pytest.mark.unit
def test_status_shows_recent_runs_with_the_servers_down(tmp_path: Path) -> None:
    warehouse = tmp_path / "state" / "warehouse"
    warehouse.mkdir(parents=True)
    with duckdb.connect(str(warehouse / "LAKE.db")) as db:
        db.execute("CREATE SCHEMA AUDIT")
        db.execute(
            "CREATE TABLE AUDIT.PROCEDURE_RUNS (run_id VARCHAR, procedure_name VARCHAR, arguments VARCHAR, "
            "started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, rows_written BIGINT, result VARCHAR, "
            "error VARCHAR)"
        )
        db.execute(
            "INSERT INTO AUDIT.PROCEDURE_RUNS VALUES ('r1', 'LOAD_VAULT', '{}', '2026-01-05 02:00:00', "
            "'2026-01-05 02:00:09', 'SUCCEEDED', 88339, '{}', NULL)"
        )
    done = lake("status", "--json", env={"LAKE_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["servers"] == {"running": False}
    assert status["recent_runs"][0]["procedure_name"] == "LOAD_VAULT"
    assert status["recent_runs"][0]["rows_written"] == 88339
    plain = lake("status", env={"LAKE_STATE_DIR": str(tmp_path / "state")})
    assert "LOAD_VAULT" in plain.stdout and "not running" in plain.stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], subprocess.CompletedProcess[str]]:
    """What `make run` does: `lake run` with its defaults (three days from 2026-01-05, 1,000
    clients, seed 42), piped, on a state folder of its own."""
    env = {"LAKE_STATE_DIR": str(tmp_path_factory.mktemp("make-run") / "state")}
    return env, lake("run", env=env)


@pytest.mark.integration
def test_a_piped_run_is_short_plain_and_names_every_step_then_json_parses(
    made: tuple[dict[str, str], subprocess.CompletedProcess[str]],
) -> None:
    fresh, done = made
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout + done.stderr
    assert ESCAPE not in text, "escape codes in piped output"
    assert len(text.splitlines()) < 80, text
    for step in ("apply sql/", "GENERATE_SAMPLE_DATA", *(n.task for n in task_graph.order())):
        assert re.search(rf"^ok +{re.escape(step)} +\d+\.\d+s ", text, re.M), step
    # the sample data matches its control files: no reconciliation problem, exit 0
    assert re.search(r"^ok +reconcile landing +\d+\.\d+s +\d+ folders, 0 problems$", text, re.M), text
    log = re.search(r"^dbt's whole output: (\S+)$", text, re.M)
    assert log and Path(log.group(1)).is_file() and "of" in Path(log.group(1)).read_text()
    # no line was cut to a terminal's width
    assert "…" not in text
    again = lake("run", "--no-generate", "--json", env=fresh)
    assert again.returncode == 0, again.stderr
    report: dict[str, Any] = json.loads(again.stdout)
    assert [s["name"] for s in report["steps"]][:1] == ["apply sql/"]
    assert report["vault"]["tables"]["hub_customer"] > 0 and report["seconds"] > 0


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> list[str]:
    """Every SQL block of the README and every `lake sql "..."` it shows."""
    text = README.read_text()
    blocks = [b.strip().rstrip(";") for b in re.findall(r"```sql\n(.*?)```", text, re.DOTALL)]
    commands = re.findall(r'lake sql "([^"]+)"', text)
    return blocks + [c for c in commands if "<" not in c]


@pytest.mark.unit
def test_the_readme_has_examples_to_run() -> None:
    assert len(readme_examples()) >= 8


@pytest.fixture(scope="module")
def made_lake(made: tuple[dict[str, str], subprocess.CompletedProcess[str]]) -> Any:
    from lake.session import connect

    env, done = made
    assert done.returncode == 0, done.stdout + done.stderr
    settings = Settings(local=LocalTarget(state_dir=Path(env["LAKE_STATE_DIR"])))
    with LocalStack(settings.local).ensure() as endpoints:
        conn = connect(settings, endpoints)
        try:
            yield conn
        finally:
            conn.close()


@pytest.mark.integration
@pytest.mark.parametrize("statement", readme_examples(), ids=lambda s: " ".join(s.split())[:60])
def test_a_readme_example_answers_rows_on_what_make_run_built(made_lake: Any, statement: str) -> None:
    """The README's examples work as written on the lake `make run` leaves, and answer rows
    (an example that answers nothing teaches nothing: the snapshot date used to be one the
    sample never has). Not on the shared test lake: other tests' batches, dated years
    later, move its snapshot window and the catalogue's deletions."""
    cur = made_lake.cursor()
    cur.execute(statement)
    assert cur.fetchall(), f"no rows: {statement}"
