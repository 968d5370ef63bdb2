"""The task graph: one definition, rendered as Snowflake tasks and walked locally."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lake import snowsql, task_graph
from lake.config import Settings
from lake.local.compat import notifications
from lake.local.stack import Endpoints
from lake.task_graph import FINALIZER, ROOT, Node
from procedures.handlers import finish_pipeline_run


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
        "LAKE_PUBLISH_GOLD",
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
        "EXECUTE DBT PROJECT LAKE.AUDIT.LAKE_DBT ARGS = 'build --select gold --indirect-selection buildable "
        '--target snowflake --exclude-resource-type unit_test --vars "{gold_schema: GOLD_PENDING}"\'',
    )
    # write-audit-publish: gold is built and validated where readers do not look, then swapped in
    assert edges["LAKE_VALIDATE_GOLD"] == (
        ["LAKE_DBT_GOLD"],
        "CALL LAKE.QUALITY.VALIDATE_DATA('gold', '', 'GOLD_PENDING')",
    )
    assert edges["LAKE_PUBLISH_GOLD"] == (["LAKE_VALIDATE_GOLD"], "CALL LAKE.QUALITY.PUBLISH_GOLD()")
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
def test_an_interrupted_walk_is_recorded_as_interrupted_and_told(
    settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """Ctrl-C during a step ends the run (exit 130 in the CLI); PIPELINE_RUNS says
    INTERRUPTED (a cancelled task), naming the step, never SUCCEEDED or a plain failure, and
    one notification says so."""
    before = notifications.read(settings.local.state_dir / notifications.RECORD)

    def ingest(s: Settings, e: Endpoints | None) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        task_graph.walk(settings, applied, {"LAKE_INGEST_LANDING": ingest})
    cur = conn.cursor()
    cur.execute("SELECT status, failed_task, error FROM AUDIT.PIPELINE_RUNS ORDER BY finished_at DESC LIMIT 1")
    assert cur.fetchone() == ("INTERRUPTED", "LAKE_INGEST_LANDING", "KeyboardInterrupt: interrupted")
    sent = notifications.read(settings.local.state_dir / notifications.RECORD)[len(before) :]
    assert len(sent) == 1 and "INTERRUPTED at LAKE_INGEST_LANDING" in sent[0].message


# The walk with the real steps, end to end: tests/lake/test_operations.py (`replayed` walks
# the whole graph after a replay and publishes gold; the gate test starts from it).


@pytest.mark.unit
def test_snowflake_tasks_parse_as_snowflake_sql() -> None:
    statements = task_graph.snowflake_sql("LAKE", Settings().names.schemas, "LAKE_WH")
    parsed = [snowsql.parse(s, "task graph") for s in statements]
    tasks = [p for p in parsed if isinstance(p, snowsql.CreateTask)]
    assert len(tasks) == len(task_graph.NODES) + 2  # root and finalizer
    assert {t.args["body"].key for t in tasks} >= {"call", "execute"}
    finalizer = next(t for t in tasks if t.this.sql().endswith(FINALIZER))
    assert finalizer.args["body"].this.name == f"LAKE.AUDIT.{task_graph.FINISH}"


HISTORY_CALL = re.compile(r"TABLE\([\w.]*INFORMATION_SCHEMA\.TASK_HISTORY\(.*?RESULT_LIMIT => \d+\)\)")


def _finalize(conn: Any, database: str, attempts: list[tuple[str, str, int]]) -> tuple[Any, ...]:
    """The finalizer's reading of a task history of ``(task, state, attempt)`` rows, as
    TASK_HISTORY returns them for one graph run: its query runs on the local engine over
    such a table, and its verdict comes from what the query returns."""
    cur = conn.cursor()
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.FINALIZER_TEST")
    cur.execute(
        f"CREATE OR REPLACE TABLE {database}.FINALIZER_TEST.TASK_HISTORY (NAME VARCHAR, STATE VARCHAR, "
        "ATTEMPT_NUMBER NUMBER, SCHEDULED_TIME TIMESTAMP_LTZ, COMPLETED_TIME TIMESTAMP_LTZ, ERROR_MESSAGE VARCHAR, "
        "GRAPH_RUN_GROUP_ID VARCHAR)"
    )
    for minute, (task, state, attempt) in enumerate(attempts):
        error = f"'{task} failed on attempt {attempt}'" if state == "FAILED" else "NULL"
        cur.execute(
            f"INSERT INTO {database}.FINALIZER_TEST.TASK_HISTORY VALUES ('{task}', '{state}', {attempt}, "
            f"'2026-12-07 02:00:00 +00:00'::TIMESTAMP_LTZ, DATEADD(MINUTE, {minute}, "
            f"'2026-12-07 02:00:00 +00:00'::TIMESTAMP_LTZ), {error}, 'G1')"
        )
    sql = HISTORY_CALL.sub(f"{database}.FINALIZER_TEST.TASK_HISTORY", finish_pipeline_run.history_sql("G1", FINALIZER))
    cur.execute(sql)
    runs = [finish_pipeline_run.TaskRun(str(r[0]), str(r[1]), str(r[2] or ""), str(r[3] or "")) for r in cur.fetchall()]
    ended = finish_pipeline_run.outcome(runs, task_graph.expected())
    return ended.status, ended.failed_task, ended.error


@pytest.mark.integration
def test_the_finalizer_judges_a_retried_run_by_each_tasks_last_attempt(settings: Settings, conn: Any) -> None:
    """EXECUTE TASK ... RETRY LAST re-runs the failed tasks in the same graph run group
    (https://docs.snowflake.com/en/sql-reference/sql/execute-task): TASK_HISTORY then has a
    row per attempt. The finalizer's own query runs here on such a history."""
    tasks = task_graph.expected()
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
    cancelled = [(t, "SUCCEEDED", 1) for t in tasks[:2]] + [("LAKE_LOAD_VAULT", "CANCELLED", 1)]
    assert _finalize(conn, db, cancelled)[:2] == ("INTERRUPTED", "LAKE_LOAD_VAULT")
    # a graph whose last task never ran did not succeed, though nothing failed
    assert _finalize(conn, db, [(t, "SUCCEEDED", 1) for t in tasks[:-1]])[:2] == ("FAILED", tasks[-1])
