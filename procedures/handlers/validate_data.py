"""``CALL VALIDATE_DATA(layer, batch_id)``: every quality rule of a layer, pushed down.

For each table of the layer, one SELECT counts the failing rows of all its row rules in
a single scan; referential and reconciliation rules are one query each; the failing
rows of the rules that failed go to ``QUALITY.RULE_EXCEPTIONS`` in one INSERT per table
(at most ``exception_cap`` per rule), and one INSERT writes every rule's verdict to
``QUALITY.RULE_RESULTS`` with a sample of failing keys. No row leaves the warehouse.

Verdicts: PASS, WARN (a ``warn`` rule failed) or FAIL (an ``error`` rule failed). After
writing the results, a FAIL raises ``QualityGateError``, which fails the procedure and
so its task: the task graph stops before the next layer is built or published.

``layer`` is one of landing, vault, bronze, silver, gold, ``marts`` (bronze, silver
and gold) or ``all``, or several comma-separated (``bronze,silver``); ``batch_id``
narrows the landing rules to one batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from procedures import quality as quality_rules
from procedures.audit import audited, checked_batch_id, checked_name, checked_schemas, require_landed
from procedures.sql import quote, sql_literal

PROCEDURE = "VALIDATE_DATA"
SAMPLE_KEYS = 5


class RuleVerdict(TypedDict):
    verdict: str  # PASS | WARN | FAIL
    rows_failed: int


class DefectsCaught(TypedDict):
    """The generator's injected defects the landing rules flagged (``lake run`` adds it
    to the landing and vault run's summary, from the generator's manifest)."""

    injected: int
    caught: int
    by_kind: dict[str, dict[str, int]]


class ControlTotals(TypedDict):
    """The control-total rules of a run: how many ran, how many balanced, and each
    differing group as ``rule: group: figures`` (the first few)."""

    rules: int
    balanced: int
    differ: list[str]


class Summary(TypedDict):
    """What VALIDATE_DATA returns: the run, the layers and batch it checked, each rule's
    verdict, the counts of rules by verdict and of exception rows written, and the control
    totals' verdict."""

    run_id: str
    layers: list[str]
    batch_id: str
    rules: dict[str, RuleVerdict]
    rules_run: int
    passed: int
    warned: int
    failed: int
    exceptions: int
    seconds: float
    control_totals: ControlTotals
    defects: NotRequired[DefectsCaught]


@dataclass
class Outcome:
    rule: quality_rules.Rule
    rows_checked: int
    rows_failed: int
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if not self.rows_failed:
            return "PASS"
        return "FAIL" if self.rule.severity == "error" else "WARN"


def warehouse_columns(
    session: Any, rules: list[quality_rules.Rule], schemas: Mapping[str, str]
) -> dict[tuple[str, str], set[str]]:
    """The columns of every table the rules read, as the warehouse describes them: one
    INFORMATION_SCHEMA query, then DESCRIBE VIEW for what it does not list (the local
    engine lists no views there). A table that does not exist is left out, so
    validation names it."""
    tables = {(r.layer, r.table) for r in rules}
    tables |= {(ref.layer, ref.table) for r in rules for ref in (r.parent, r.other) if ref}
    layer_of = {schemas[layer].upper(): layer for layer, _ in tables}
    listed = ", ".join(sql_literal(schema) for schema in sorted(layer_of))
    found: dict[tuple[str, str], set[str]] = {}
    for schema, table, column in session.sql(
        "SELECT UPPER(TABLE_SCHEMA), LOWER(TABLE_NAME), LOWER(COLUMN_NAME) FROM INFORMATION_SCHEMA.COLUMNS "
        f"WHERE UPPER(TABLE_SCHEMA) IN ({listed})"
    ).collect():
        key = (layer_of[str(schema)], str(table))
        if key in tables:
            found.setdefault(key, set()).add(str(column))
    for layer, table in sorted(tables - set(found)):
        try:
            rows = session.sql(f"DESCRIBE VIEW {quality_rules.table_ref(layer, table, schemas)}").collect()
        except Exception as err:  # the engine's "does not exist" error, whatever its class
            if "exist" not in str(err).lower() and "not found" not in str(err).lower():
                raise
            continue
        found[(layer, table)] = {str(r[0]).lower() for r in rows}
    return found


def _previous_counts(session: Any, quality: str, rules: list[quality_rules.Rule]) -> dict[str, int]:
    names = [r.name for r in rules if r.type == "row_count_change"]
    if not names:
        return {}
    rows = session.sql(
        f"SELECT RULE_NAME, ROWS_CHECKED FROM {quote(quality)}.{quality_rules.RESULTS_TABLE} "
        f"WHERE RULE_NAME IN ({', '.join(sql_literal(n) for n in names)}) "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY RULE_NAME ORDER BY CHECKED_AT DESC) = 1"
    ).collect()
    return {str(r[0]): int(r[1]) for r in rows}


def _scan(
    session: Any,
    table: str,
    rules: list[quality_rules.Rule],
    schemas: Mapping[str, str],
    batch: str,
    previous: dict[str, int],
) -> list[Outcome]:
    row = session.sql(quality_rules.scan_sql(table, rules, schemas, batch)).collect()[0]
    checked, now = int(row[0]), row[1]
    outcomes = []
    for i, rule in enumerate(rules):
        value = row[2 + i]
        if rule.type == "freshness":
            age = (now - value).total_seconds() / 3600 if isinstance(value, datetime) else None
            stale = age is None or age > float(rule.max_age_hours or 0)
            detail = {"newest": str(value), "age_hours": round(age, 2) if age is not None else None}
            outcomes.append(Outcome(rule, checked, int(stale), detail))
        elif rule.type == "row_count_change":
            before = previous.get(rule.name)
            change = None if not before else abs(checked - before) * 100.0 / before
            failed = int(change is not None and change > float(rule.max_change_pct or 0))
            outcomes.append(Outcome(rule, checked, failed, {"previous_rows": before, "change_pct": change}))
        else:
            outcomes.append(Outcome(rule, checked, int(value or 0)))
    return outcomes


def _referential(session: Any, rule: quality_rules.Rule, schemas: Mapping[str, str], batch: str) -> Outcome:
    row = session.sql(quality_rules.referential_sql(rule, schemas, batch)).collect()[0]
    return Outcome(rule, int(row[0]), int(row[1] or 0))


def _reconcile(session: Any, rule: quality_rules.Rule, schemas: Mapping[str, str]) -> Outcome:
    row = session.sql(quality_rules.reconcile_sql(rule, schemas)).collect()[0]
    this, other = float(row[0] or 0), float(row[1] or 0)
    # a tolerance in absolute units, widened to one part in a billion of a large total
    # (sums of 10M amounts differ in their last bits with the order of addition)
    allowed = max(rule.tolerance, abs(other) * 1e-9)
    failed = int(abs(this - other) > allowed)
    return Outcome(rule, 1, failed, {"this": this, "other": other, "difference": this - other})


def _control_total(
    session: Any, rule: quality_rules.Rule, schemas: Mapping[str, str]
) -> tuple[Outcome, list[tuple[str, str]]]:
    """The groups compared, the ones that differ, and those as exceptions (group, figures)."""
    rows = session.sql(quality_rules.control_total_sql(rule, schemas)).collect()
    failing = [(str(r[0]), str(r[2])) for r in rows if r[1]]
    detail = {"groups": len(rows), "differ": [f"{key}: {figures}" for key, figures in failing[:SAMPLE_KEYS]]}
    return Outcome(rule, len(rows), len(failing), detail), failing


def _control_exceptions(
    session: Any, table: str, run_id: str, rule: quality_rules.Rule, failing: list[tuple[str, str]], cap: int
) -> int:
    """The differing groups of a control total into the exceptions table: the group as the
    failing key, both sides' figures as the value (a few rows, as literals)."""
    rows = [
        f"({sql_literal(run_id)}, {sql_literal(rule.name)}, {sql_literal(key)}, NULL, NULL, "
        f"{sql_literal(figures)}, {sql_literal(rule.table)}, {sql_literal(rule.layer)}, SYSDATE())"
        for key, figures in failing[:cap]
    ]
    if rows:
        session.sql(
            f"INSERT INTO {table} (RUN_ID, RULE_NAME, FAILING_KEY, FILE_NAME, FILE_ROW_NUMBER, "
            f"FAILING_VALUE, TABLE_NAME, LAYER, CHECKED_AT) VALUES {', '.join(rows)}"
        ).collect()
    return len(rows)


def run(
    session: Any,
    layer: str = "all",
    batch_id: str = "",
    schemas: Mapping[str, str] | None = None,
    quality_schema: str = "QUALITY",
    audit_schema: str = "AUDIT",
    exception_cap: int = 100_000,
    fail_on_error: bool = True,
    gold_schema: str = "",
) -> Summary:
    """Validate the layer(s); returns the summary. Raises QualityGateError on a FAIL
    (after the results are written) unless ``fail_on_error`` is false. ``gold_schema``
    checks the gold tables there instead (the unpublished build, GOLD_PENDING)."""
    checked_batch_id(batch_id)
    wanted = quality_rules.layers_of(layer)
    schemas = checked_schemas(schemas, *quality_rules.LAYERS)
    if gold_schema:
        schemas["gold"] = checked_name(gold_schema, "gold_schema").upper()
    checked_name(quality_schema, "quality_schema")
    checked_name(audit_schema, "audit_schema")
    arguments = {"layer": layer, "batch_id": batch_id}
    if gold_schema:
        arguments["gold_schema"] = gold_schema.upper()
    with audited(session, PROCEDURE, arguments, f"{audit_schema}.PROCEDURE_RUNS") as audit:
        if batch_id:
            require_landed(session, schemas["landing"], batch_id)
        started = time.perf_counter()
        ruleset = quality_rules.load_rules()
        rules = [r for r in ruleset.rules if r.layer in wanted]
        quality_rules.validate(rules, warehouse_columns(session, rules, schemas))
        previous = _previous_counts(session, quality_schema, rules)
        outcomes: list[Outcome] = []
        by_table = quality_rules.by_table(rules)
        exceptions_table = f"{quote(quality_schema)}.{quality_rules.EXCEPTIONS_TABLE}"
        exceptions = 0
        for (_layer, table), table_rules in by_table.items():
            scanned = [r for r in table_rules if r.type not in quality_rules.QUERY_RULES]
            mine = _scan(session, table, scanned, schemas, batch_id, previous) if scanned else []
            mine += [_referential(session, r, schemas, batch_id) for r in table_rules if r.type == "referential"]
            mine += [_reconcile(session, r, schemas) for r in table_rules if r.type == "reconcile"]
            for rule in (r for r in table_rules if r.type == "control_total"):
                outcome, differing = _control_total(session, rule, schemas)
                mine.append(outcome)
                exceptions += _control_exceptions(
                    session, exceptions_table, audit.run_id, rule, differing, exception_cap
                )
            outcomes += mine
            failing = [o.rule for o in mine if o.rows_failed and (o.rule.row_level or o.rule.type == "referential")]
            if failing:
                sql = quality_rules.exceptions_sql(
                    failing, schemas, audit.run_id, batch_id, exceptions_table, exception_cap
                )
                exceptions += int(session.sql(sql).collect()[0][0])
        samples = _samples(session, exceptions_table, audit.run_id) if exceptions else {}
        _write_results(session, quality_schema, audit.run_id, batch_id, outcomes, samples)
        summary = _summary(outcomes, audit.run_id, wanted, batch_id, exceptions, time.perf_counter() - started)
        audit.rows_written = len(outcomes) + exceptions
        audit.result = {k: v for k, v in summary.items() if k != "rules"}
        failed = [o for o in outcomes if o.verdict == "FAIL"]
        if failed and fail_on_error:
            names = ", ".join(f"{o.rule.name} ({o.rows_failed} rows)" for o in failed)
            raise quality_rules.QualityGateError(
                f"{len(failed)} error-severity rule(s) failed in {'/'.join(wanted)}: {names}; "
                f"see {quality_schema}.{quality_rules.RESULTS_TABLE} and {quality_rules.EXCEPTIONS_TABLE} "
                f"for run {audit.run_id}"
            )
    return summary


def _samples(session: Any, exceptions_table: str, run_id: str) -> dict[str, list[str]]:
    rows = session.sql(
        "SELECT RULE_NAME, COALESCE(FAILING_KEY, FILE_NAME || '#' || FILE_ROW_NUMBER, '(null)') "
        f"FROM {exceptions_table} WHERE RUN_ID = {sql_literal(run_id)} "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY RULE_NAME ORDER BY FAILING_KEY) <= {SAMPLE_KEYS}"
    ).collect()
    samples: dict[str, list[str]] = {}
    for name, key in rows:
        samples.setdefault(str(name), []).append(str(key))
    return samples


def _write_results(
    session: Any, quality: str, run_id: str, batch: str, outcomes: list[Outcome], samples: dict[str, list[str]]
) -> None:
    """One INSERT of every verdict, as literals (quoted by ``sql_literal``): a statement
    with a bind per value costs a second here for a hundred rules."""
    if not outcomes:
        return

    def text(value: Any) -> str:
        return "NULL" if value is None else sql_literal(str(value))

    rows = []
    for o in outcomes:
        r = o.rule
        detail = json.dumps(o.detail, default=str) if o.detail else None
        fields = [run_id, r.name, r.layer, r.table, r.column, r.type, r.severity, r.owner, batch or None]
        rows.append(
            f"({', '.join(text(v) for v in fields)}, {int(o.rows_checked)}, {int(o.rows_failed)}, "
            f"{text(o.verdict)}, {text(json.dumps(samples.get(r.name, [])))}, {text(detail)}, "
            "SYSDATE())"
        )
    session.sql(
        f"INSERT INTO {quote(quality)}.{quality_rules.RESULTS_TABLE} "
        "(RUN_ID, RULE_NAME, LAYER, TABLE_NAME, COLUMN_NAME, "
        "RULE_TYPE, SEVERITY, OWNER, BATCH_ID, ROWS_CHECKED, ROWS_FAILED, VERDICT, SAMPLE_KEYS, DETAIL, CHECKED_AT) "
        f"VALUES {', '.join(rows)}"
    ).collect()


def _summary(
    outcomes: list[Outcome], run_id: str, layers: tuple[str, ...], batch: str, exceptions: int, seconds: float
) -> Summary:
    verdicts = [o.verdict for o in outcomes]
    return {
        "run_id": run_id,
        "layers": list(layers),
        "batch_id": batch,
        "rules": {o.rule.name: {"verdict": o.verdict, "rows_failed": o.rows_failed} for o in outcomes},
        "rules_run": len(outcomes),
        "passed": verdicts.count("PASS"),
        "warned": verdicts.count("WARN"),
        "failed": verdicts.count("FAIL"),
        "exceptions": exceptions,
        "seconds": round(seconds, 2),
        "control_totals": _control_totals(outcomes),
    }


def _control_totals(outcomes: list[Outcome]) -> ControlTotals:
    controls = [o for o in outcomes if o.rule.type == "control_total"]
    differ = [f"{o.rule.name}: {group}" for o in controls for group in o.detail.get("differ", [])]
    return {
        "rules": len(controls),
        "balanced": sum(1 for o in controls if not o.rows_failed),
        "differ": differ[:SAMPLE_KEYS],
    }


def main(session: Any, layer: str = "all", batch_id: str = "", gold_schema: str = "") -> Summary:
    """Stored procedure handler for VALIDATE_DATA.

    Args:
        layer: landing, vault, bronze, silver, gold, marts (bronze to gold) or all.
        batch_id: narrows the landing rules to one batch, e.g. ``B20260105``.
        gold_schema: where the gold tables to check are (default GOLD; the task graph
            checks its unpublished build in GOLD_PENDING before PUBLISH_GOLD).
    """
    return run(session, layer=layer, batch_id=batch_id, gold_schema=gold_schema)
