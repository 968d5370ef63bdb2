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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lake.config import Settings
from lake.local.stack import Endpoints

ROOT = "LAKE_PIPELINE_ROOT"
FINALIZER = "LAKE_PIPELINE_FINALIZER"
FINISH = "FINISH_PIPELINE_RUN"  # the procedure the finalizer calls
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
    # where the dbt build puts a layer: (layer, key of the schema in Names.schemas), passed
    # as the dbt var <layer>_schema (dbt_project.yml)
    builds_in: tuple[tuple[str, str], ...] = ()

    def call(self, database: str, schemas: dict[str, str]) -> str:
        if self.select:
            return DBT_PROJECT.format(
                database=database,
                project_schema=schemas["audit"],
                select=" ".join(self.select),
                vars=f' --vars "{self.vars_arg(schemas)}"' if self.builds_in else "",
            )
        return f"CALL {database}.{schemas[self.schema]}.{self.procedure}({self.arguments.format(**schemas)})"

    def vars_arg(self, schemas: dict[str, str]) -> str:
        """dbt's ``--vars`` value (YAML)."""
        return "{" + ", ".join(f"{layer}_schema: {schemas[key]}" for layer, key in self.builds_in) + "}"

    def values(self, schemas: dict[str, str]) -> tuple[Any, ...]:
        """The CALL's arguments as Python values, for running the procedure locally."""
        import ast

        return tuple(ast.literal_eval(f"({self.arguments.format(**schemas)},)")) if self.arguments else ()

    def call_in(self, code_schema: str, schemas: dict[str, str]) -> str:
        """The CALL with every procedure in one schema (the Native App's code schema)."""
        if self.select:
            raise ValueError(f"task {self.task} runs the dbt project, not a procedure of the app")
        return f"CALL {code_schema}.{self.procedure}({self.arguments.format(**schemas)})"


# The dbt project object lives beside the tasks in the audit schema, not in gold: the
# publishing swap moves everything gold holds (procedures/handlers/publish_gold.py).
DBT_PROJECT = (
    "EXECUTE DBT PROJECT {database}.{project_schema}.LAKE_DBT "
    "ARGS = 'build --select {select} --indirect-selection buildable --target snowflake "
    "--exclude-resource-type unit_test{vars}'"
)

# The graph. Each layer is validated before the next is built on it: an error-severity
# rule fails VALIDATE_DATA and so its task, and the graph stops there. Gold is built
# only from validated silver, into GOLD_PENDING where readers do not look, validated
# there, and published (swapped with GOLD) only after its own rules pass: a failed gate
# leaves readers the gold of the last published run (write-audit-publish).
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
    Node(
        "LAKE_DBT_GOLD",
        "LAKE_DBT",
        "gold",
        ("LAKE_VALIDATE_SILVER",),
        select=("gold",),
        builds_in=(("gold", "gold_pending"),),
    ),
    Node(
        "LAKE_VALIDATE_GOLD", "VALIDATE_DATA", "quality", ("LAKE_DBT_GOLD",), arguments="'gold', '', '{gold_pending}'"
    ),
    Node("LAKE_PUBLISH_GOLD", "PUBLISH_GOLD", "quality", ("LAKE_VALIDATE_GOLD",)),
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


def expected(nodes: tuple[Node, ...] = NODES) -> list[str]:
    """The tasks a successful graph run has run: the root, then every node in order."""
    return [ROOT, *(n.task for n in order(nodes))]


def finalizer_call(
    procedure: str, integration: str, nodes: tuple[Node, ...] = NODES, recipients: tuple[str, ...] = ()
) -> str:
    """The finalizer's statement: ``FINISH_PIPELINE_RUN`` (procedures/handlers/
    finish_pipeline_run.py) records the graph run's real outcome in PIPELINE_RUNS from this
    run's task history and, when it did not succeed, notifies through ``integration``
    (https://docs.snowflake.com/en/user-guide/tasks-graphs#finalizer-task). ``procedure``:
    its qualified name."""
    tasks = json.dumps(expected(nodes)).replace("'", "''")
    to = ",".join(recipients)
    # positional (integration, expected, tasks, started_at, recipients): the handler reads
    # this run's TASK_HISTORY when tasks is empty
    return f"CALL {procedure}('{integration}', '{tasks}', '', '', '{to}')"


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
    integration: str = "",
    recipients: tuple[str, ...] = (),
) -> list[str]:
    """The standalone deployment's graph, tasks in the audit schema; a failed run is told
    through the notification ``integration`` (to ``recipients``, else its defaults)."""
    return graph_sql(
        f"{database}.{schemas['audit']}",
        warehouse,
        {n.task: n.call(database, schemas) for n in NODES},
        finalizer_call(f"{database}.{schemas['audit']}.{FINISH}", integration, recipients=recipients),
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
        integration=notification_integration(settings),
        recipients=notification_recipients(settings),
    )


SAMPLE_DATA_TASK = "LAKE_WEEKLY_SAMPLE_DATA"


def sample_data_sql(settings: Settings, warehouse: str) -> list[str]:
    """The weekly sample-data task of a dev deployment: a standalone task (no graph) that
    calls GENERATE_SAMPLE_DATA for the seven days from the day it runs, so the landing
    zone gets a week of producer files the daily graph then ingests. CREATE TASK creates a
    task suspended (https://docs.snowflake.com/en/sql-reference/sql/create-task): it runs
    only once someone resumes it (``ALTER TASK ... RESUME``), on dev, never by a deploy.
    The start date is an expression of the call: "Each argument to a stored procedure can
    be a general expression" (https://docs.snowflake.com/en/sql-reference/sql/call). None
    when the schedule is "off" (the production environment's default)."""
    schedule = settings.sample_data_schedule
    if schedule.lower() == "off":
        return []
    from lake import deploy

    names = settings.names
    procedure = deploy.procedure("GENERATE_SAMPLE_DATA")
    assert [a.name for a in procedure.arguments][:4] == ["scale", "days", "seed", "start_date"]
    call = (
        # by position (scale, days, seed, start_date), as the graph's calls
        f"CALL {names.database}.{names.schemas[procedure.layer]}.GENERATE_SAMPLE_DATA(1000, 7, "
        "DAYOFYEAR(CURRENT_DATE()), TO_VARCHAR(CURRENT_DATE(), 'YYYY-MM-DD'))"
    )
    return [
        f"CREATE OR REPLACE TASK {names.database}.{names.audit}.{SAMPLE_DATA_TASK} WAREHOUSE = {warehouse} "
        f"SCHEDULE = '{schedule}' COMMENT = 'Weekly sample producer files on a dev deployment; created suspended' "
        f"AS {call}"
    ]


def notification_recipients(settings: Settings) -> tuple[str, ...]:
    """Whom a failed run is told (``LAKE_ALERT_RECIPIENTS``; none: the integration's
    DEFAULT_RECIPIENTS, which the account bootstrap sets from the same setting)."""
    return tuple(settings.snowflake.recipients) if settings.snowflake is not None else ()


def notification_integration(settings: Settings) -> str:
    """The integration failed runs are told through (the alerts' one, lake.toml
    ``snowflake.notification_integration``; locally its default name)."""
    from lake import sqlfiles

    return sqlfiles.variables(settings)["notification_integration"]


def app_sql(
    tasks_schema: str, code_schema: str, audit_schema: str, warehouse: str, schedule: str, integration: str = ""
) -> list[str]:
    """The Native App's graph: tasks in a plain (non-versioned) schema of the app, calling
    the app's procedures in its versioned code schema; names resolve in the app."""
    return graph_sql(
        tasks_schema,
        warehouse,
        {n.task: n.call_in(code_schema, {}) for n in APP_NODES},
        # the integration the consumer named to START_PIPELINE (none: the run is recorded, not told)
        finalizer_call(f"{code_schema}.{FINISH}", integration, APP_NODES),
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
    finished: dict[str, Any] = field(default_factory=dict)  # what FINISH_PIPELINE_RUN returned


Runner = Callable[[Settings, Endpoints | None], Any]


def walk(
    settings: Settings,
    endpoints: Endpoints | None,
    runners: dict[str, Runner],
    nodes: tuple[Node, ...] = NODES,
) -> GraphRun:
    """Run every node in order with its local runner; the finalizer's procedure records the
    outcome and notifies, as on Snowflake. Ctrl-C is a cancelled task (INTERRUPTED)."""
    from lake import progress
    from procedures.handlers.finish_pipeline_run import TaskRun

    run = GraphRun()
    started = datetime.now(UTC).replace(tzinfo=None)
    tasks = [TaskRun(ROOT, "SUCCEEDED")]
    try:
        for node in order(nodes):
            try:
                step = progress.step(node.task, functools.partial(runners[node.task], settings, endpoints))
            except BaseException as err:  # Ctrl-C too: an interrupted run did not succeed
                stopped = stopped_task(node.task, err)
                run.status = "INTERRUPTED" if stopped.state == "CANCELLED" else "FAILED"
                run.failed_task, run.error = node.task, stopped.error
                tasks.append(stopped)
                raise
            run.steps.append(step)
            tasks.append(TaskRun(node.task, "SUCCEEDED"))
    finally:
        run.finished = dict(_finalize(settings, endpoints, run, started, tasks, nodes))
        if run.finished.get("message"):
            progress.current().notify(str(run.finished["notified"]), str(run.finished["message"]))
    return run


def stopped_task(task: str, err: BaseException) -> Any:
    """The TaskRun of a task a local walk stopped in: CANCELLED for Ctrl-C (as Snowflake
    reports a cancelled task), else FAILED, with the error."""
    from procedures.handlers.finish_pipeline_run import TaskRun

    state = "CANCELLED" if isinstance(err, KeyboardInterrupt) else "FAILED"
    return TaskRun(task, state, f"{type(err).__name__}: {str(err) or 'interrupted'}")


def _finalize(
    settings: Settings,
    endpoints: Endpoints | None,
    run: GraphRun,
    started: datetime,
    tasks: list[Any],
    nodes: tuple[Node, ...],
) -> Any:
    from lake.session import procedure_session
    from procedures.handlers import finish_pipeline_run

    names = settings.names
    with procedure_session(settings, endpoints, FINISH) as session:
        return finish_pipeline_run.run(
            session,
            run.run_id,
            started,
            tasks,
            expected(nodes),
            notification_integration(settings),
            audit_schema=names.audit,
            landing_schema=names.landing,
            recipients=notification_recipients(settings),
        )
