"""``CALL FINISH_PIPELINE_RUN(integration)``: the task graph's finalizer. Records how the
graph run ended in ``AUDIT.PIPELINE_RUNS`` and, when it did not succeed, sends one
notification naming the graph run, the failed task, its error and the batches.

A finalizer task runs after every run of its graph, whatever happened
(https://docs.snowflake.com/en/user-guide/tasks-graphs#finalizer-task). On Snowflake this
procedure reads the run's tasks from ``INFORMATION_SCHEMA.TASK_HISTORY`` (the last attempt
of each: ``EXECUTE TASK ... RETRY LAST`` adds attempts to the same graph run group) and
the run's id from ``SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')``, which a
procedure the task calls may read
(https://docs.snowflake.com/en/sql-reference/functions/system_task_runtime_info). The local
graph walk (lake/task_graph.py) passes the same facts to ``run``.

The outcome is one of:

- ``SUCCEEDED``: every task of the graph succeeded (gold was published);
- ``FAILED``: a task failed (the first to fail is named, with its error);
- ``INTERRUPTED``: a task was cancelled (``EXECUTE TASK`` cancelled, a suspended graph,
  Ctrl-C on ``lake run``) before any failed.

Task error notifications (``ERROR_INTEGRATION``) take only queue integrations, "the email
and webhook notification integration types aren't supported"
(https://docs.snowflake.com/en/user-guide/tasks-errors), and carry no batch; so the
finalizer sends its own message with ``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION`` through the
e-mail integration the account bootstrap creates
(https://docs.snowflake.com/en/user-guide/notifications/snowflake-notifications).
Locally the same statement is written to ``notifications.jsonl`` in the state folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from procedures.audit import checked_name
from procedures.sql import quote, sql_literal

PROCEDURE = "FINISH_PIPELINE_RUN"
SUCCEEDED, FAILED, INTERRUPTED = "SUCCEEDED", "FAILED", "INTERRUPTED"
FAILED_STATES = ("FAILED", "FAILED_AND_AUTO_SUSPENDED")
CANCELLED_STATES = ("CANCELLED",)
PUBLISHER = "LAKE_PUBLISH_GOLD"  # the task whose success means gold was published


@dataclass(frozen=True)
class TaskRun:
    """One task's last attempt in a graph run, as TASK_HISTORY reports it."""

    name: str
    state: str  # SUCCEEDED, FAILED, FAILED_AND_AUTO_SUSPENDED, CANCELLED, SKIPPED, ...
    error: str = ""
    completed_at: str = ""  # sortable text; the first failure is the earliest


@dataclass(frozen=True)
class Outcome:
    status: str
    failed_task: str | None
    error: str | None


class Summary(TypedDict):
    """What FINISH_PIPELINE_RUN returns: the run's outcome as recorded, and the notification."""

    graph_run_id: str
    status: str
    failed_task: str | None
    error: str | None
    batches: list[str]
    published: bool | None
    notified: str  # the integration told, or why none was
    message: str  # what it was told ('' for a run that succeeded)


def outcome(tasks: Sequence[TaskRun], expected: Sequence[str]) -> Outcome:
    """How the run ended: its first failed or cancelled task decides; with none, SUCCEEDED
    only when every expected task succeeded (a task after a failure never runs)."""
    stopped = sorted(
        (t for t in tasks if t.state in FAILED_STATES + CANCELLED_STATES), key=lambda t: (t.completed_at, t.name)
    )
    if stopped:
        first = stopped[0]
        status = INTERRUPTED if first.state in CANCELLED_STATES else FAILED
        return Outcome(status, first.name, first.error or first.state)
    states = {t.name: t.state for t in tasks}
    missing = [name for name in expected if states.get(name) != "SUCCEEDED"]
    if not missing:
        return Outcome(SUCCEEDED, None, None)
    return Outcome(FAILED, missing[0], f"{missing[0]} did not run ({states.get(missing[0], 'no history')})")


def batches(session: Any, landing_schema: str, audit_schema: str, started_at: str) -> list[str]:
    """The batches the run ingested or loaded (control files ingested, vault loads run, since
    it started)."""
    landing, audit, since = quote(landing_schema), quote(audit_schema), sql_literal(started_at)
    rows = session.sql(
        f"SELECT BATCH_ID FROM {landing}.CONTROL_FILES WHERE INGESTED_AT >= TO_TIMESTAMP_NTZ({since}) "
        f"UNION SELECT v.BATCH_ID FROM {audit}.VAULT_LOAD_RUNS AS v "
        f"INNER JOIN {audit}.PROCEDURE_RUNS AS p ON p.RUN_ID = v.RUN_ID "
        f"WHERE p.STARTED_AT >= TO_TIMESTAMP_NTZ({since}) ORDER BY 1"
    ).collect()
    return [str(r[0]) for r in rows if r[0]]


def last_published(session: Any, audit_schema: str) -> tuple[str, str] | None:
    """(graph run, finished at) of the last run that published gold."""
    rows = session.sql(
        f"SELECT GRAPH_RUN_ID, FINISHED_AT FROM {quote(audit_schema)}.PIPELINE_RUNS "
        "WHERE PUBLISHED ORDER BY FINISHED_AT DESC LIMIT 1"
    ).collect()
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


def message(summary: Summary, previous: tuple[str, str] | None) -> str:
    """The notification's text: what an operator needs to act, first line a subject."""
    lines = [
        f"lake: pipeline run {summary['graph_run_id']} {summary['status']} at {summary['failed_task']}",
        f"graph run: {summary['graph_run_id']}",
        f"failed task: {summary['failed_task']}",
        f"error: {(summary['error'] or '')[:1500]}",
        f"batches: {', '.join(summary['batches']) or 'none ingested or loaded in this run'}",
    ]
    if summary["published"] is False:
        kept = f"the gold published by run {previous[0]} at {previous[1]} UTC" if previous else "no gold yet"
        lines.append(f"gold: not published; readers keep {kept}")
    lines.append("see AUDIT.PIPELINE_RUNS and AUDIT.PROCEDURE_RUNS; docs/pipeline.md, 'When a run fails'")
    return "\n".join(lines)


def run(
    session: Any,
    graph_run_id: str,
    started_at: datetime,
    tasks: Sequence[TaskRun],
    expected: Sequence[str],
    integration: str = "",
    audit_schema: str = "AUDIT",
    landing_schema: str = "LANDING",
    recipients: Sequence[str] = (),
) -> Summary:
    """Record the run in PIPELINE_RUNS and, when it did not succeed, notify through
    ``integration`` (none: recorded as not sent): to ``recipients`` when given, else to the
    integration's DEFAULT_RECIPIENTS."""
    checked_name(audit_schema, "audit_schema")
    checked_name(landing_schema, "landing_schema")
    if integration:
        checked_name(integration, "integration")
    ended = outcome(tasks, expected)
    started = started_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    publishes = PUBLISHER in expected
    summary: Summary = {
        "graph_run_id": graph_run_id,
        "status": ended.status,
        "failed_task": ended.failed_task,
        "error": ended.error,
        "batches": batches(session, landing_schema, audit_schema, started),
        "published": (ended.status == SUCCEEDED) if publishes else None,
        "notified": "",
        "message": "",
    }
    if ended.status != SUCCEEDED:
        text = message(summary, last_published(session, audit_schema) if publishes else None)
        summary["message"] = text
        if integration:
            session.sql(
                "CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION("
                f"SNOWFLAKE.NOTIFICATION.TEXT_PLAIN({sql_literal(text)}), {destination(integration, text, recipients)})"
            ).collect()
            summary["notified"] = integration
        else:
            summary["notified"] = "not sent: no notification integration configured"
    session.sql(
        f"INSERT INTO {quote(audit_schema)}.PIPELINE_RUNS (graph_run_id, started_at, finished_at, status, "
        "failed_task, error, steps, batches, published, notified) "
        "SELECT ?, TO_TIMESTAMP_NTZ(?), SYSDATE(), ?, ?, ?, ?, ?, ?, ?",
        params=[
            graph_run_id,
            started,
            ended.status,
            ended.failed_task,
            ended.error,
            json.dumps(list(expected)),
            json.dumps(summary["batches"]),
            summary["published"],
            summary["notified"],
        ],
    ).collect()
    return summary


def destination(integration: str, text: str, recipients: Sequence[str]) -> str:
    """Where the notification goes: ``INTEGRATION(name)`` sends to the integration's
    DEFAULT_RECIPIENTS; with recipients, ``EMAIL_INTEGRATION_CONFIG(name, subject, ARRAY)``
    names them and the subject (at most 256 characters), which an integration created
    without default recipients (cdktf's, whose provider sets ALLOWED_RECIPIENTS only) needs
    (https://docs.snowflake.com/en/sql-reference/functions/email_integration_config)."""
    if not recipients:
        return f"SNOWFLAKE.NOTIFICATION.INTEGRATION({sql_literal(integration)})"
    addresses = ", ".join(sql_literal(r) for r in recipients)
    subject = text.splitlines()[0][:256]
    return (
        f"SNOWFLAKE.NOTIFICATION.EMAIL_INTEGRATION_CONFIG({sql_literal(integration)}, {sql_literal(subject)}, "
        f"ARRAY_CONSTRUCT({addresses}))"
    )


def history_sql(graph_run: str, finalizer: str) -> str:
    """This graph run's tasks, the last attempt of each, from TASK_HISTORY
    (https://docs.snowflake.com/en/sql-reference/functions/task_history)."""
    return (
        "SELECT NAME, STATE, ERROR_MESSAGE, TO_VARCHAR(COMPLETED_TIME, 'YYYY-MM-DD HH24:MI:SS.FF6'), "
        "CONVERT_TIMEZONE('UTC', SCHEDULED_TIME)::TIMESTAMP_NTZ "
        "FROM TABLE(INFORMATION_SCHEMA.TASK_HISTORY(SCHEDULED_TIME_RANGE_START => DATEADD(DAY, -2, "
        f"CURRENT_TIMESTAMP()), RESULT_LIMIT => 10000)) WHERE GRAPH_RUN_GROUP_ID = {sql_literal(graph_run)} "
        f"AND NAME <> {sql_literal(finalizer)} "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY NAME ORDER BY ATTEMPT_NUMBER DESC) = 1"
    )


def main(
    session: Any,
    integration: str = "",
    expected: str = "[]",
    tasks: str = "",
    started_at: str = "",
    recipients: str = "",
) -> Summary:
    """Stored procedure handler for FINISH_PIPELINE_RUN, the finalizer task's CALL.

    Args:
        integration: the notification integration a failed run is told through ('' : none).
        expected: the graph's tasks, a JSON list (the root's name first).
        tasks: for a caller that walks the graph itself (the local engine): each task's
            outcome as a JSON list of {name, state, error}; empty: this graph run's
            TASK_HISTORY.
        started_at: with ``tasks``, when the run started (ISO 8601, UTC).
        recipients: e-mail addresses, comma-separated ('': the integration's defaults).
    """
    import uuid

    names = json.loads(expected)
    to = [r.strip() for r in recipients.split(",") if r.strip()]
    if tasks:
        runs = [TaskRun(str(t["name"]), str(t["state"]), str(t.get("error") or "")) for t in json.loads(tasks)]
        started = datetime.fromisoformat(started_at) if started_at else datetime.now(UTC).replace(tzinfo=None)
        return run(session, uuid.uuid4().hex, started, runs, names, integration, recipients=to)
    graph_run = str(session.sql("SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_GRAPH_RUN_GROUP_ID')").collect()[0][0])
    finalizer = str(session.sql("SELECT SYSTEM$TASK_RUNTIME_INFO('CURRENT_TASK_NAME')").collect()[0][0])
    rows = session.sql(history_sql(graph_run, finalizer.split(".")[-1])).collect()
    history = [TaskRun(str(r[0]), str(r[1]), str(r[2] or ""), str(r[3] or "")) for r in rows]
    first = min((r[4] for r in rows if r[4] is not None), default=None)
    started = first or datetime.now(UTC).replace(tzinfo=None)
    return run(session, graph_run, started, history, names, integration, recipients=to)
