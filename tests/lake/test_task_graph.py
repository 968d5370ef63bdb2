"""The task graph: one definition, rendered as Snowflake tasks and walked locally."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lake import pipeline, snowsql, task_graph
from lake.config import Settings
from lake.local.stack import Endpoints
from lake.task_graph import FINALIZER, ROOT, Node


@pytest.mark.unit
def test_order_follows_dependencies() -> None:
    assert [n.task for n in task_graph.order()] == [
        "LAKE_INGEST_LANDING",
        "LAKE_LOAD_VAULT",
        "LAKE_VALIDATE_RAW",
        "LAKE_DBT_SILVER",
        "LAKE_VALIDATE_SILVER",
        "LAKE_DBT_GOLD",
        "LAKE_VALIDATE_GOLD",
    ]
    shuffled = (Node("C", "C", "vault", ("B",)), Node("B", "B", "vault", ("A",)), Node("A", "A", "vault", (ROOT,)))
    assert [n.task for n in task_graph.order(shuffled)] == ["A", "B", "C"]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        pytest.param(
            (Node("A", "x", "vault", ("B",)), Node("B", "x", "vault", ("A",))), "cycle among: A, B", id="cycle"
        ),
        pytest.param((Node("A", "x", "vault", ("NOPE",)),), "task A runs after unknown task NOPE", id="unknown"),
    ],
)
def test_bad_graphs_are_refused(nodes: tuple[Node, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        task_graph.order(nodes)


@pytest.mark.unit
def test_snowflake_tasks_mirror_the_graph() -> None:
    schemas = Settings().names.schemas
    statements = task_graph.snowflake_sql("LAKE", schemas, "LAKE_WH")
    # the root is suspended before the graph changes (a running graph's tasks cannot)
    assert statements[0] == f"ALTER TASK IF EXISTS LAKE.AUDIT.{ROOT} SUSPEND"
    root = statements[1]
    assert f"TASK LAKE.AUDIT.{ROOT} " in root and "SCHEDULE = 'USING CRON 0 2 * * * UTC'" in root
    edges = {}
    for s in statements[2:-3]:
        m = re.match(
            r"CREATE OR REPLACE TASK LAKE\.AUDIT\.(\w+) WAREHOUSE = LAKE_WH(?: \w+ = \d+)* AFTER (.+) AS (.+)$", s
        )
        assert m, s
        edges[m[1]] = ([a.split(".")[-1] for a in m[2].split(", ")], m[3])
    assert edges == {n.task: (list(n.after), n.call("LAKE", schemas)) for n in task_graph.NODES}
    assert edges["LAKE_LOAD_VAULT"][1] == "CALL LAKE.VAULT.LOAD_VAULT()"
    # each layer is validated before the next is built on it; gold only from validated silver
    assert edges["LAKE_VALIDATE_RAW"] == (["LAKE_LOAD_VAULT"], "CALL LAKE.QUALITY.VALIDATE_DATA('landing,vault')")
    assert edges["LAKE_DBT_SILVER"][0] == ["LAKE_VALIDATE_RAW"]
    assert edges["LAKE_DBT_GOLD"] == (
        ["LAKE_VALIDATE_SILVER"],
        "EXECUTE DBT PROJECT LAKE.GOLD.LAKE_DBT ARGS = 'build --select gold --indirect-selection buildable "
        "--target snowflake --exclude-resource-type unit_test'",
    )
    assert edges["LAKE_VALIDATE_GOLD"] == (["LAKE_DBT_GOLD"], "CALL LAKE.QUALITY.VALIDATE_DATA('gold')")
    assert f"TASK LAKE.AUDIT.{FINALIZER} " in statements[-3] and f"FINALIZE = LAKE.AUDIT.{ROOT}" in statements[-3]
    assert statements[-2] == f"SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('LAKE.AUDIT.{ROOT}')"
    assert statements[-1] == f"ALTER TASK LAKE.AUDIT.{ROOT} RESUME"


@pytest.mark.integration
def test_the_walk_stops_at_a_failure_and_records_it(settings: Settings, applied: Endpoints, conn: Any) -> None:
    ran: list[str] = []

    def ingest(s: Settings, e: Endpoints | None) -> str:
        ran.append("ingest")
        raise RuntimeError("landing bucket unreachable")

    def load(s: Settings, e: Endpoints | None) -> str:
        ran.append("load")
        return "loaded"

    with pytest.raises(RuntimeError, match="landing bucket unreachable"):
        task_graph.walk(settings, applied, {"LAKE_INGEST_LANDING": ingest, "LAKE_LOAD_VAULT": load})
    assert ran == ["ingest"]
    cur = conn.cursor()
    cur.execute("SELECT status, failed_task, error FROM AUDIT.PIPELINE_RUNS ORDER BY finished_at DESC LIMIT 1")
    assert cur.fetchone() == ("FAILED", "LAKE_INGEST_LANDING", "RuntimeError: landing bucket unreachable")


@pytest.mark.integration
def test_an_interrupted_walk_is_recorded_as_failed(settings: Settings, applied: Endpoints, conn: Any) -> None:
    """Ctrl-C during a step ends the run (exit 130 in the CLI); PIPELINE_RUNS says FAILED,
    naming the step, never SUCCEEDED."""

    def ingest(s: Settings, e: Endpoints | None) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        task_graph.walk(settings, applied, {"LAKE_INGEST_LANDING": ingest})
    cur = conn.cursor()
    cur.execute("SELECT status, failed_task, error FROM AUDIT.PIPELINE_RUNS ORDER BY finished_at DESC LIMIT 1")
    assert cur.fetchone() == ("FAILED", "LAKE_INGEST_LANDING", "KeyboardInterrupt: interrupted")


@pytest.mark.integration
def test_the_walk_runs_the_real_steps(settings: Settings, loaded_all: Any, conn: Any) -> None:
    cur = conn.cursor()
    cur.execute("SELECT status, failed_task FROM AUDIT.PIPELINE_RUNS WHERE status = 'SUCCEEDED'")
    assert cur.fetchall()


@pytest.fixture()
def loaded_all(settings: Settings, ingested: dict[str, Any], applied: Endpoints) -> Any:
    return task_graph.walk(settings, applied, pipeline.RUNNERS)


@pytest.mark.unit
def test_snowflake_tasks_parse_as_snowflake_sql() -> None:
    statements = task_graph.snowflake_sql("LAKE", Settings().names.schemas, "LAKE_WH")
    parsed = [snowsql.parse(s, "task graph") for s in statements]
    tasks = [p for p in parsed if isinstance(p, snowsql.CreateTask)]
    assert len(tasks) == len(task_graph.NODES) + 2  # root and finalizer
    assert {t.args["body"].key for t in tasks} >= {"call", "insert"}


HISTORY_CALL = re.compile(r"TABLE\([\w.]*INFORMATION_SCHEMA\.TASK_HISTORY\(.*?RESULT_LIMIT => \d+\)\)")


def _finalize(conn: Any, database: str, attempts: list[tuple[str, str, int]]) -> tuple[Any, ...]:
    """Run the finalizer's statement on the local engine over a task history of
    ``(task, state, attempt)`` rows, as TASK_HISTORY returns them for one graph run."""
    cur = conn.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.FINALIZER_TEST")
    cur.execute(
        f"CREATE OR REPLACE TABLE {database}.FINALIZER_TEST.TASK_HISTORY (NAME VARCHAR, STATE VARCHAR, "
        "ATTEMPT_NUMBER NUMBER, SCHEDULED_TIME TIMESTAMP_LTZ, COMPLETED_TIME TIMESTAMP_LTZ, ERROR_MESSAGE VARCHAR, "
        "GRAPH_RUN_GROUP_ID VARCHAR)"
    )
    cur.execute(
        f"CREATE OR REPLACE TABLE {database}.FINALIZER_TEST.PIPELINE_RUNS (graph_run_id VARCHAR, started_at "
        "TIMESTAMP_NTZ, finished_at TIMESTAMP_NTZ, status VARCHAR, failed_task VARCHAR, error VARCHAR, steps VARCHAR)"
    )
    for minute, (task, state, attempt) in enumerate(attempts):
        error = f"'{task} failed on attempt {attempt}'" if state == "FAILED" else "NULL"
        cur.execute(
            f"INSERT INTO {database}.FINALIZER_TEST.TASK_HISTORY VALUES ('{task}', '{state}', {attempt}, "
            f"'2026-12-07 02:00:00 +00:00'::TIMESTAMP_LTZ, DATEADD(MINUTE, {minute}, "
            f"'2026-12-07 02:00:00 +00:00'::TIMESTAMP_LTZ), {error}, 'G1')"
        )
    sql = task_graph.finalizer_sql(database, "FINALIZER_TEST")
    sql = HISTORY_CALL.sub(f"{database}.FINALIZER_TEST.TASK_HISTORY", sql)
    sql = sql.replace("SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')", "'G1'")
    cur.execute(sql)
    cur.execute(f"SELECT status, failed_task, error FROM {database}.FINALIZER_TEST.PIPELINE_RUNS")
    return tuple(cur.fetchone())


@pytest.mark.integration
def test_the_finalizer_judges_a_retried_run_by_each_tasks_last_attempt(settings: Settings, conn: Any) -> None:
    """EXECUTE TASK ... RETRY LAST re-runs the failed tasks in the same graph run group
    (https://docs.snowflake.com/en/sql-reference/sql/execute-task): TASK_HISTORY then has a
    row per attempt. The finalizer's own statement runs here on such a history."""
    tasks = [ROOT, *(n.task for n in task_graph.order())]
    db = settings.names.database
    retried = [(t, "SUCCEEDED", 1) for t in tasks[:2]] + [("LAKE_LOAD_VAULT", "FAILED", 1)]
    retried += [("LAKE_LOAD_VAULT", "SUCCEEDED", 2)] + [(t, "SUCCEEDED", 1) for t in tasks[3:]]
    # the retry succeeded: the run succeeded, and names no failed task
    assert _finalize(conn, db, retried) == ("SUCCEEDED", None, None)
    failed_again = [
        r if r != ("LAKE_LOAD_VAULT", "SUCCEEDED", 2) else ("LAKE_LOAD_VAULT", "FAILED", 2) for r in retried
    ]
    failed_again = [r for r in failed_again if r[0] in tasks[:3]]  # nothing after it ran
    assert _finalize(conn, db, failed_again) == ("FAILED", "LAKE_LOAD_VAULT", "LAKE_LOAD_VAULT failed on attempt 2")
