"""The pipeline's task graph: defined once, deployed to Snowflake as tasks, walked locally.

Snowflake: a root task on a cron schedule, one task per stored procedure with ``AFTER``
edges, and a finalizer that records the graph run's outcome
(https://docs.snowflake.com/en/user-guide/tasks-graphs). ``snowflake_sql`` renders it.

Locally there are no tasks: ``walk`` runs the same nodes in the same dependency order,
each calling the handler its Snowflake task calls, stops at the first failure (as a
task graph does), and always runs the finalizer.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lake.config import Settings
from lake.local.stack import Endpoints
from lake.session import connection

ROOT = "LAKE_PIPELINE_ROOT"
FINALIZER = "LAKE_PIPELINE_FINALIZER"
SCHEDULE = "USING CRON 0 2 * * * UTC"
# A failed graph run is retried from its failed task this many times
# (TASK_AUTO_RETRY_ATTEMPTS, set on the root task), and the root is suspended after this
# many consecutive failed runs (SUSPEND_TASK_AFTER_NUM_FAILURES; Snowflake's default is
# 10): https://docs.snowflake.com/en/sql-reference/parameters. Configurable
# (``Settings.task_retries``, ``Settings.suspend_after_failures``).
RETRIES = 1
SUSPEND_AFTER = 3


@dataclass(frozen=True)
class Node:
    task: str  # the Snowflake task's name
    procedure: str  # the stored procedure it calls, with no arguments (their defaults)
    schema: str  # the layer whose schema holds the procedure (a key of Names.schemas)
    after: tuple[str, ...]  # predecessor tasks (the root for the first)
    # session parameters of the task (CREATE TASK ... <parameter> = <value>)
    parameters: tuple[tuple[str, int], ...] = ()
    # the CALL's arguments, as SQL literals (none: the procedure's defaults)
    arguments: str = ""
    # a dbt build's selection (dbt's folders): the task runs the dbt project on it, the
    # local walk runs dbt build on it
    select: tuple[str, ...] = ()

    def call(self, database: str, schemas: dict[str, str]) -> str:
        if self.select:
            return DBT_PROJECT.format(database=database, gold_schema=schemas["gold"], select=" ".join(self.select))
        return f"CALL {database}.{schemas[self.schema]}.{self.procedure}({self.arguments})"

    def values(self) -> tuple[Any, ...]:
        """The CALL's arguments as Python values, for running the procedure locally."""
        import ast

        return tuple(ast.literal_eval(f"({self.arguments},)")) if self.arguments else ()

    def call_in(self, code_schema: str) -> str:
        """The CALL with every procedure in one schema (the Native App's code schema)."""
        if self.select:
            raise ValueError(f"task {self.task} runs the dbt project, not a procedure of the app")
        return f"CALL {code_schema}.{self.procedure}({self.arguments})"


DBT_PROJECT = (
    "EXECUTE DBT PROJECT {database}.{gold_schema}.LAKE_DBT "
    "ARGS = 'build --select {select} --indirect-selection buildable --target snowflake "
    "--exclude-resource-type unit_test'"
)

# The graph. Each layer is validated before the next is built on it: an error-severity
# rule fails VALIDATE_DATA and so its task, and the graph stops there. Gold is built
# only from validated silver, and is published (PIPELINE_RUNS says SUCCEEDED) only
# after its own rules pass.
NODES: tuple[Node, ...] = (
    Node("LAKE_INGEST_LANDING", "INGEST_LANDING", "landing", (ROOT,)),
    # A load waiting on another's vault lock waits up to LOCK_TIMEOUT, 43,200 s by default
    # (https://docs.snowflake.com/en/sql-reference/parameters#lock-timeout), far past the
    # task's own timeout, so LOAD_VAULT's retry loop (600 s in all) would never run: here a
    # wait ends after 60 s with a lock error, which the loader retries, well inside the
    # task's hour (USER_TASK_TIMEOUT_MS).
    Node(
        "LAKE_LOAD_VAULT",
        "LOAD_VAULT",
        "vault",
        ("LAKE_INGEST_LANDING",),
        parameters=(("LOCK_TIMEOUT", 60), ("USER_TASK_TIMEOUT_MS", 3_600_000)),
    ),
    Node("LAKE_VALIDATE_RAW", "VALIDATE_DATA", "quality", ("LAKE_LOAD_VAULT",), arguments="'landing,vault'"),
    # dbt Projects on Snowflake: `snow dbt deploy LAKE_DBT` puts dbt/ in the gold schema
    # https://docs.snowflake.com/en/user-guide/data-engineering/dbt-projects-on-snowflake
    # a test runs with the build that has all its models (gold's reconciliations with gold)
    Node(
        "LAKE_DBT_SILVER",
        "LAKE_DBT",
        "gold",
        ("LAKE_VALIDATE_RAW",),
        select=("reference", "business_vault", "bronze", "silver"),
    ),
    Node("LAKE_VALIDATE_SILVER", "VALIDATE_DATA", "quality", ("LAKE_DBT_SILVER",), arguments="'bronze,silver'"),
    Node("LAKE_DBT_GOLD", "LAKE_DBT", "gold", ("LAKE_VALIDATE_SILVER",), select=("gold",)),
    Node("LAKE_VALIDATE_GOLD", "VALIDATE_DATA", "quality", ("LAKE_DBT_GOLD",), arguments="'gold'"),
)

# The Native App's graph: the same nodes up to the validated raw vault. The app ships no
# dbt project (a Native App cannot run EXECUTE DBT PROJECT on the consumer's behalf), so
# its dashboard shows the vault and the quality results; the marts come from the
# standalone deployment's dbt graph.
APP_NODES: tuple[Node, ...] = tuple(
    n for n in NODES if n.task in {"LAKE_INGEST_LANDING", "LAKE_LOAD_VAULT", "LAKE_VALIDATE_RAW"}
)


def order(nodes: tuple[Node, ...] = NODES) -> list[Node]:
    """Nodes in dependency order (Kahn's algorithm, ties by declaration); a cycle or an
    unknown predecessor is an error naming the task."""
    known = {n.task for n in nodes} | {ROOT}
    for n in nodes:
        for dep in n.after:
            if dep not in known:
                raise ValueError(f"task {n.task} runs after unknown task {dep}")
    done = {ROOT}
    ordered: list[Node] = []
    pending = list(nodes)
    while pending:
        ready = [n for n in pending if set(n.after) <= done]
        if not ready:
            raise ValueError(f"task graph has a cycle among: {', '.join(n.task for n in pending)}")
        for n in ready:
            ordered.append(n)
            done.add(n.task)
            pending.remove(n)
    return ordered


def finalizer_sql(database: str, audit_schema: str, nodes: tuple[Node, ...] = NODES) -> str:
    """The finalizer's statement: one PIPELINE_RUNS row with the graph run's real outcome,
    from this run's task history. SUCCEEDED when every task of the graph succeeded (a task
    whose predecessor failed never runs, so it has no SUCCEEDED row); otherwise FAILED, with
    the first failed task and its error
    (https://docs.snowflake.com/en/sql-reference/functions/task_history,
    https://docs.snowflake.com/en/user-guide/tasks-graphs#finalizer-task). ``database``
    empty: names resolve in the current database (the Native App's).

    A graph run retried with ``EXECUTE TASK ... RETRY LAST`` runs its failed tasks again in
    the same graph run group (https://docs.snowflake.com/en/sql-reference/sql/execute-task):
    TASK_HISTORY then holds a row per attempt (``ATTEMPT_NUMBER``), and only each task's
    last attempt says how the run ended."""
    db = f"{database}." if database else ""
    graph_run = "SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')"
    failed = "IFF(h.STATE IN ('FAILED', 'FAILED_AND_AUTO_SUSPENDED', 'CANCELLED'), h.COMPLETED_TIME, NULL)"
    tasks = len(nodes) + 1  # and the root
    steps = json.dumps([n.task for n in order(nodes)]).replace("'", "''")
    return (
        f"INSERT INTO {db}{audit_schema}.PIPELINE_RUNS "
        "(graph_run_id, started_at, finished_at, status, failed_task, error, steps) "
        f"SELECT {graph_run}, CONVERT_TIMEZONE('UTC', MIN(h.SCHEDULED_TIME))::TIMESTAMP_NTZ, SYSDATE(), "
        f"IFF(COUNT_IF(h.STATE = 'SUCCEEDED') = {tasks}, 'SUCCEEDED', 'FAILED'), "
        f"MIN_BY(h.NAME, {failed}), MIN_BY(h.ERROR_MESSAGE, {failed}), '{steps}' "
        f"FROM (SELECT a.* FROM TABLE({db}INFORMATION_SCHEMA.TASK_HISTORY("
        "SCHEDULED_TIME_RANGE_START => DATEADD(DAY, -2, CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000)) AS a "
        f"WHERE a.GRAPH_RUN_GROUP_ID = {graph_run} AND a.NAME <> '{FINALIZER}' "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY a.NAME ORDER BY a.ATTEMPT_NUMBER DESC) = 1) AS h"
    )


def graph_sql(
    tasks: str,
    warehouse: str,
    calls: dict[str, str],
    finalizer: str,
    nodes: tuple[Node, ...],
    schedule: str,
    comment: str = "Daily landing-to-gold run",
    retries: int = RETRIES,
    suspend_after: int = SUSPEND_AFTER,
) -> list[str]:
    """The graph as Snowflake statements, tasks in schema ``tasks``, in deployment order:
    the root suspended (a graph's tasks cannot change while its root runs), every task
    created (CREATE TASK creates it suspended), dependents enabled, the root resumed
    (https://docs.snowflake.com/en/user-guide/tasks-graphs). ``schedule`` is the root's
    SCHEDULE value as SQL (a literal, or an expression in a procedure's body)."""
    statements = [
        f"ALTER TASK IF EXISTS {tasks}.{ROOT} SUSPEND",
        f"CREATE OR REPLACE TASK {tasks}.{ROOT} WAREHOUSE = {warehouse} SCHEDULE = {schedule} "
        f"TASK_AUTO_RETRY_ATTEMPTS = {retries} SUSPEND_TASK_AFTER_NUM_FAILURES = {suspend_after} "
        f"COMMENT = '{comment}' AS SELECT 1",
    ]
    for node in order(nodes):
        after = ", ".join(f"{tasks}.{a}" for a in node.after)
        parameters = "".join(f" {name} = {value}" for name, value in node.parameters)
        statements.append(
            f"CREATE OR REPLACE TASK {tasks}.{node.task} WAREHOUSE = {warehouse}{parameters} AFTER {after} "
            f"AS {calls[node.task]}"
        )
    statements.append(
        f"CREATE OR REPLACE TASK {tasks}.{FINALIZER} WAREHOUSE = {warehouse} FINALIZE = {tasks}.{ROOT} AS {finalizer}"
    )
    statements.append(f"SELECT SYSTEM$TASK_DEPENDENTS_ENABLE('{tasks}.{ROOT}')")
    statements.append(f"ALTER TASK {tasks}.{ROOT} RESUME")
    return statements


def snowflake_sql(
    database: str,
    schemas: dict[str, str],
    warehouse: str,
    retries: int = RETRIES,
    suspend_after: int = SUSPEND_AFTER,
) -> list[str]:
    """The standalone deployment's graph, tasks in the audit schema."""
    return graph_sql(
        f"{database}.{schemas['audit']}",
        warehouse,
        {n.task: n.call(database, schemas) for n in NODES},
        finalizer_sql(database, schemas["audit"]),
        NODES,
        f"'{SCHEDULE}'",
        retries=retries,
        suspend_after=suspend_after,
    )


def deployed_sql(settings: Settings, warehouse: str) -> list[str]:
    """``snowflake_sql`` with the lake's names and the configured retries and suspension
    (what `lake deploy` creates and `lake tasks` prints)."""
    return snowflake_sql(
        settings.names.database,
        settings.names.schemas,
        warehouse,
        retries=settings.task_retries,
        suspend_after=settings.suspend_after_failures,
    )


def app_sql(tasks_schema: str, code_schema: str, audit_schema: str, warehouse: str, schedule: str) -> list[str]:
    """The Native App's graph: tasks in a plain (non-versioned) schema of the app, calling
    the app's procedures in its versioned code schema; names resolve in the app."""
    return graph_sql(
        tasks_schema,
        warehouse,
        {n.task: n.call_in(code_schema) for n in APP_NODES},
        finalizer_sql("", audit_schema, APP_NODES),
        APP_NODES,
        schedule,
        "Daily landing-to-validated-vault run of the app",
    )


# --------------------------------------------------------------------------- local walk


@dataclass
class GraphRun:
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    steps: list[Any] = field(default_factory=list)
    status: str = "SUCCEEDED"
    failed_task: str | None = None
    error: str | None = None


Runner = Callable[[Settings, Endpoints | None], Any]


def walk(settings: Settings, endpoints: Endpoints | None, runners: dict[str, Runner]) -> GraphRun:
    """Run every node in order with its local runner; record the outcome like the finalizer."""
    from lake import progress

    run = GraphRun()
    started = time.time()
    try:
        for node in order():
            try:
                step = progress.step(node.task, functools.partial(runners[node.task], settings, endpoints))
            except BaseException as err:  # Ctrl-C too: an interrupted run did not succeed
                said = str(err) or "interrupted"
                run.status, run.failed_task, run.error = "FAILED", node.task, f"{type(err).__name__}: {said}"
                raise
            run.steps.append(step)
    finally:
        _finalize(settings, endpoints, run, started)
    return run


def _finalize(settings: Settings, endpoints: Endpoints | None, run: GraphRun, started: float) -> None:
    with connection(settings, endpoints) as conn:
        conn.cursor().execute(
            f"INSERT INTO {settings.names.database}.{settings.names.audit}.PIPELINE_RUNS "
            "(graph_run_id, started_at, finished_at, status, failed_task, error, steps) VALUES "
            "(%s, TO_TIMESTAMP_NTZ(%s), SYSDATE(), %s, %s, %s, %s)",
            (
                run.run_id,
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(started)),
                run.status,
                run.failed_task,
                run.error,
                json.dumps([n.task for n in order()]),
            ),
        )
