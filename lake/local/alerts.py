"""The shipped alerts, evaluated locally on their schedule as Snowflake evaluates them.

Snowflake runs an alert at each time its ``SCHEDULE`` names, with its owner's privileges:
it evaluates the condition, and when the condition finds rows it runs the action
(https://docs.snowflake.com/en/user-guide/alerts). Inside the condition,
``SNOWFLAKE.ALERT.SCHEDULED_TIME()`` is the time this evaluation was scheduled for and
``SNOWFLAKE.ALERT.LAST_SUCCESSFUL_SCHEDULED_TIME()`` that of the last evaluation that
succeeded (state CONDITION_FALSE or TRIGGERED), NULL before the first; both are
TIMESTAMP_LTZ, so they read in the session time zone, America/Los_Angeles by default
(https://docs.snowflake.com/en/sql-reference/functions/scheduled_time,
https://docs.snowflake.com/en/sql-reference/functions/last_successful_scheduled_time).

Locally there are no alert objects (``lake/local/unsupported.py`` skips CREATE ALERT), so
``evaluate`` does what the account would: for each alert of ``sql/080_alerts.sql`` it
takes the latest scheduled time not evaluated yet, puts the two functions in as
TIMESTAMP_LTZ values and ``SYSDATE()`` as that time, runs the condition on the local engine
(in the same session time zone, ``strict.timezone``), and records the evaluation, as
``ALERT_HISTORY`` would, in ``<state folder>/alerts.jsonl``. A triggered alert's action,
``SYSTEM$SEND_SNOWFLAKE_NOTIFICATION``, becomes a notification in that record, which ``lake
status`` shows. Missed schedules are not run one by one: like a resumed alert, the next
evaluation's window starts at the last successful one, so nothing is lost or told twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlglot import exp

from lake.config import Settings
from lake.local.stack import Endpoints
from lake.local.strict import SNOWFLAKE_DEFAULT_TIMEZONE

ALERTS_SQL = "080_alerts.sql"
RECORD = "alerts.jsonl"
SUCCEEDED = ("CONDITION_FALSE", "TRIGGERED")


@dataclass(frozen=True)
class Alert:
    name: str  # qualified, as created
    schedule: str  # USING CRON <min> <hour> <day> <month> <weekday> <zone>
    condition: exp.Expr
    message: str
    integration: str


@dataclass(frozen=True)
class Evaluation:
    """One row of the local alert history; ``message`` and ``integration`` are the
    notification the action sent (TRIGGERED only)."""

    alert: str
    scheduled_time: str  # ISO 8601, UTC
    state: str  # CONDITION_FALSE, TRIGGERED or CONDITION_FAILED
    evaluated_at: str
    message: str = ""
    integration: str = ""
    error: str = ""


class AlertError(RuntimeError):
    """A shipped alert the local engine cannot evaluate (names the alert and what is wrong)."""


def shipped(settings: Settings) -> list[Alert]:
    """The alerts ``sql/080_alerts.sql`` creates, rendered with the lake's names."""
    from lake import snowsql, sqlfiles

    path = sqlfiles.SQL_DIR / ALERTS_SQL
    text = sqlfiles.render(path.read_text(), sqlfiles.variables(settings), path.name)
    found = []
    for statement in sqlfiles.split(text):
        tree = snowsql.parse(statement, path.name)
        if not isinstance(tree, snowsql.CreateAlert):
            continue
        name = tree.this.sql(dialect="snowflake")
        schedule = next(
            (p.args["value"].name for p in tree.args.get("properties") or [] if p.this.name.upper() == "SCHEDULE"), ""
        )
        message, integration = _notification(tree.args["action"], name)
        found.append(Alert(name, schedule, tree.args["condition"], message, integration))
    return found


def _notification(action: exp.Expr, alert: str) -> tuple[str, str]:
    """The text and the integration of ``CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(
    SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('...'), SNOWFLAKE.NOTIFICATION.INTEGRATION('...'))``."""
    calls = {
        node.name.upper(): node
        for node in action.find_all(exp.Anonymous)
        if node.name.upper() in {"TEXT_PLAIN", "INTEGRATION"}
    }
    try:
        return calls["TEXT_PLAIN"].expressions[0].name, calls["INTEGRATION"].expressions[0].name
    except (KeyError, IndexError):
        raise AlertError(
            f"alert {alert}: its action is not SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(TEXT_PLAIN(...), INTEGRATION(...))"
        ) from None


# --------------------------------------------------------------------------- schedules

_CRON = re.compile(r"USING\s+CRON\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$", re.IGNORECASE)
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def _values(field: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in field.split(","):
        body, _, step = part.partition("/")
        if body == "*":
            start, stop = low, high
        elif "-" in body:
            start, stop = (int(x) for x in body.split("-"))
        else:
            start = stop = int(body)
        found.update(range(start, stop + 1, int(step) if step else 1))
    return found


def latest_tick(schedule: str, now: datetime) -> datetime:
    """The latest time at or before ``now`` (aware) that a ``USING CRON`` schedule names, in UTC."""
    match = _CRON.match(schedule.strip())
    if not match:
        raise AlertError(f"schedule {schedule!r}: only USING CRON <min> <hour> <day> <month> <weekday> <zone>")
    *fields, zone = match.groups()
    minutes, hours, days, months, weekdays = (_values(f, lo, hi) for f, (lo, hi) in zip(fields, _BOUNDS, strict=True))
    local = now.astimezone(ZoneInfo(zone)).replace(second=0, microsecond=0)
    for _ in range(60 * 24 * 32):
        weekday = (local.weekday() + 1) % 7  # cron: 0 is Sunday
        if (
            local.minute in minutes
            and local.hour in hours
            and local.day in days
            and local.month in months
            and weekday in weekdays
        ):
            return local.astimezone(UTC)
        local -= timedelta(minutes=1)
    raise AlertError(f"schedule {schedule!r} names no time in the 32 days before {now.isoformat()}")


# --------------------------------------------------------------------------- evaluation


def _ltz(moment: datetime | None) -> exp.Expr:
    """A TIMESTAMP_LTZ value as the alert functions return it: in the session time zone."""
    if moment is None:
        return exp.Null()
    local = moment.astimezone(ZoneInfo(SNOWFLAKE_DEFAULT_TIMEZONE))
    return exp.cast(exp.Literal.string(local.isoformat(sep=" ")), exp.DataType.build("TIMESTAMPLTZ"))


def localised(condition: exp.Expr, scheduled: datetime, last_success: datetime | None) -> exp.Expr:
    """The condition with the alert functions and SYSDATE() as Snowflake evaluates them at
    ``scheduled``."""
    ntz = exp.cast(
        exp.Literal.string(scheduled.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")),
        exp.DataType.build("TIMESTAMP"),
    )

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
            name = node.expression.name.upper()
            if name == "SCHEDULED_TIME":
                return _ltz(scheduled)
            if name == "LAST_SUCCESSFUL_SCHEDULED_TIME":
                return _ltz(last_success)
        if isinstance(node, exp.Anonymous) and node.name.upper() == "SYSDATE":
            return ntz.copy()
        if isinstance(node, exp.CurrentTimestamp):
            return ntz.copy()
        return node

    return condition.copy().transform(swap)


def history(record: Path) -> list[Evaluation]:
    if not record.exists():
        return []
    return [Evaluation(**json.loads(line)) for line in record.read_text().splitlines() if line.strip()]


def _last(evaluations: list[Evaluation], alert: str, states: tuple[str, ...] | None = None) -> datetime | None:
    times = [
        datetime.fromisoformat(e.scheduled_time)
        for e in evaluations
        if e.alert == alert and (states is None or e.state in states)
    ]
    return max(times) if times else None


def evaluate(
    settings: Settings,
    endpoints: Endpoints | None,
    now: datetime | None = None,
    record: Path | None = None,
    alerts: list[Alert] | None = None,
) -> list[Evaluation]:
    """Evaluate each alert once at its latest scheduled time not evaluated yet (none when
    that time was evaluated already); record and return the evaluations."""
    from lake.session import connection

    now = now or datetime.now(UTC)
    record = record or settings.local.state_dir / RECORD
    past = history(record)
    done: list[Evaluation] = []
    with connection(settings, endpoints) as conn:
        for alert in alerts if alerts is not None else shipped(settings):
            tick = latest_tick(alert.schedule, now)
            before = _last(past, alert.name)
            if before is not None and tick <= before:
                continue
            condition = localised(alert.condition, tick, _last(past, alert.name, SUCCEEDED))
            stamp = datetime.now(UTC).isoformat()
            try:
                cur = conn.cursor()
                cur.execute(exp.select(condition.as_("fired")).sql(dialect="snowflake"))
                row = cur.fetchone()
                fired = bool(row and row[0])
            except Exception as err:  # recorded as Snowflake records a failed condition
                done.append(Evaluation(alert.name, tick.isoformat(), "CONDITION_FAILED", stamp, error=str(err)[:500]))
                continue
            if fired:
                done.append(
                    Evaluation(alert.name, tick.isoformat(), "TRIGGERED", stamp, alert.message, alert.integration)
                )
            else:
                done.append(Evaluation(alert.name, tick.isoformat(), "CONDITION_FALSE", stamp))
    if done:
        record.parent.mkdir(parents=True, exist_ok=True)
        with record.open("a") as out:
            for evaluation in done:
                out.write(json.dumps(asdict(evaluation)) + "\n")
    return done


def notifications(record: Path, limit: int = 5) -> list[Evaluation]:
    """The latest triggered evaluations, newest first."""
    return sorted((e for e in history(record) if e.state == "TRIGGERED"), key=lambda e: e.scheduled_time)[::-1][:limit]


def as_dicts(evaluations: list[Evaluation]) -> Iterator[dict[str, Any]]:
    return (asdict(e) for e in evaluations)
