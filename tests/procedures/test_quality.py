"""Data quality: the rule spec, its compiled SQL, and VALIDATE_DATA on the local warehouse
(verdicts, exceptions that name the failing rows, the gate that fails a run, and every
defect the generator injected caught)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from sqlglot import exp

from lake import pipeline, snowsql
from lake.config import Settings
from lake.local.stack import Endpoints
from lake.steps import Built
from procedures import quality, spec
from procedures.audit import ArgumentError
from procedures.handlers import validate_data
from tests.procedures.test_staging import manifest_rows

SCHEMAS = {layer: layer.upper() for layer in quality.LAYERS}
RULES = quality.load_rules()
# which landing rule catches each kind of defect the generator injects
CATCHES = {
    "null_key": "not_null",
    "null_reference": "not_null",
    "bad_email": "pattern",
    "negative_amount": "range",
    "unknown_status": "accepted_values",
    "unparseable_date": "parseable",
    "duplicate": "unique",
}


# --------------------------------------------------------------------------- the spec


@pytest.mark.unit
def test_the_spec_has_the_briefs_rules_each_with_severity_and_owner() -> None:
    rules = RULES.rules
    assert len(rules) >= 25
    assert all(r.severity in ("warn", "error") and r.owner for r in rules)
    kinds = {(r.layer, r.type) for r in rules}
    # bronze: keys unique and present, email format, status value sets
    assert {("bronze", "unique"), ("bronze", "not_null"), ("bronze", "pattern"), ("bronze", "accepted_values")} <= kinds
    # silver: age 18 to 120, non-negative amounts, standardised value sets, type consistency
    age = next(r for r in RULES.layer("silver") if r.column == "age")
    assert (age.type, age.min, age.max) == ("range", 18, 120)
    assert {("silver", "range"), ("silver", "accepted_values"), ("silver", "expression")} <= kinds
    # gold: metric non-negativity, lifecycle values, value tier consistency, aggregation accuracy
    # the brief's reconciliation of gold with silver: exact control totals per currency
    assert {("gold", "range"), ("gold", "accepted_values"), ("gold", "value_tier"), ("gold", "control_total")} <= kinds
    # and freshness, row-count change and referential integrity from links to hubs
    assert {("vault", "freshness"), ("vault", "row_count_change"), ("vault", "referential")} <= kinds
    links = [r for r in RULES.layer("vault") if r.type == "referential" and r.table.startswith("link_")]
    assert links and all(r.parent and r.parent.table.startswith("hub_") for r in links)


@pytest.mark.unit
def test_every_entity_gets_its_landing_rules_from_the_spec() -> None:
    for e in spec.ENTITIES:
        mine = {(r.type, r.column) for r in RULES.layer("landing") if r.table == e.name}
        assert ("not_null", e.key) in mine and ("unique", e.key) in mine
        assert {("not_null", ref.column) for ref in e.references} <= mine
        assert {("accepted_values", c.name) for c in e.columns if c.values} <= mine
        assert {("parseable", c.name) for c in e.columns if c.type != "VARCHAR"} <= mine


GOOD = {"name": "silver_x_rule", "table": "silver_customers", "type": "not_null", "column": "email"}


@pytest.mark.unit
@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"type": "not_a_rule"}, r"rule 'silver_x_rule': unknown rule type 'not_a_rule'", id="unknown_type"
        ),
        pytest.param(
            {"type": "pattern", "pattern": "^[a-z"}, r"rule 'silver_x_rule': invalid regular expression", id="bad_regex"
        ),
        pytest.param({"colour": "red"}, r"unknown key\(s\) \['colour'\]", id="unknown_key"),
        pytest.param({"type": "range"}, r"a range rule needs min, max or both", id="range_without_bounds"),
        pytest.param({"column": None}, r"a not_null rule needs column", id="missing_column"),
        pytest.param({"severity": "fatal"}, r"severity must be 'warn' or 'error'", id="bad_severity"),
        pytest.param({"name": "Bad Name"}, r"rule name 'Bad Name' must be lower_snake_case", id="bad_name"),
        pytest.param({"column": "email; drop table x"}, r"'column' must be a column name", id="sql_in_column"),
    ],
)
def test_a_bad_rule_fails_at_load_naming_file_and_rule(change: dict[str, Any], message: str) -> None:
    raw = {k: v for k, v in (GOOD | change).items() if v is not None}
    with pytest.raises(quality.RuleSpecError, match=message) as info:
        quality.parse_rule(raw, "silver", {"owner": "team"}, "procedures/rules/silver.yml")
    assert "procedures/rules/silver.yml" in str(info.value)


@pytest.mark.unit
def test_a_rule_without_an_owner_or_a_file_without_a_layer_is_refused() -> None:
    with pytest.raises(quality.RuleSpecError, match="has no owner"):
        quality.parse_rule(GOOD, "silver", {}, "x.yml")
    with pytest.raises(quality.RuleSpecError, match=r"x\.yml: 'layer' must be one of"):
        quality.parse_file("layer: platinum\nrules: []\n", "x.yml")


@pytest.mark.unit
def test_unknown_tables_and_columns_are_named_against_the_warehouse() -> None:
    rule = quality.parse_rule(GOOD, "silver", {"owner": "team"}, "silver.yml")
    with pytest.raises(quality.RuleSpecError, match=r"unknown table 'silver_customers' in layer silver"):
        quality.validate([rule], {})
    with pytest.raises(quality.RuleSpecError, match=r"unknown column 'email' in silver table 'silver_customers'"):
        quality.validate([rule], {("silver", "silver_customers"): {"customer_id"}})


def _parses(sql: str) -> None:
    snowsql.parse(sql, "compiled rule")


@pytest.mark.unit
def test_every_compiled_statement_parses_as_snowflake_sql() -> None:
    for rules in quality.by_table(RULES.rules).values():
        for sql in quality.counting_sql(rules, SCHEMAS, "B20260105"):
            _parses(sql)
        failing = [r for r in rules if r.row_level or r.type == "referential"]
        if failing:
            _parses(quality.exceptions_sql(failing, SCHEMAS, "run", "B20260105", "QUALITY.RULE_EXCEPTIONS", 10))


@pytest.mark.unit
def test_layer_argument() -> None:
    assert quality.layers_of("silver,bronze") == ("bronze", "silver")
    assert quality.layers_of("marts") == ("bronze", "silver", "gold")
    assert quality.layers_of("all") == quality.LAYERS
    with pytest.raises(ArgumentError, match=r"layer must be one of .* got 'platinum'"):
        quality.layers_of("platinum")


# --------------------------------------------------------------------------- on the warehouse


@pytest.fixture(scope="module")
def validated(settings: Settings, built: Built, applied: Endpoints) -> validate_data.Summary:
    return pipeline.validate(settings, applied, "all").detail


def _rows(session: Any, sql: str) -> list[Any]:
    return session.sql(sql).collect()


@pytest.mark.integration
def test_every_layer_passes_its_error_rules_and_the_results_are_kept(validated: dict[str, Any], session: Any) -> None:
    assert validated["failed"] == 0, {k: v for k, v in validated["rules"].items() if v["verdict"] == "FAIL"}
    assert validated["rules_run"] == len(RULES.rules) and validated["passed"] > len(RULES.rules) / 2
    results = _rows(
        session,
        f"SELECT RULE_NAME, VERDICT, ROWS_CHECKED, OWNER, SEVERITY FROM QUALITY.RULE_RESULTS "
        f"WHERE RUN_ID = '{validated['run_id']}'",
    )
    assert {r[0] for r in results} == {r.name for r in RULES.rules}
    assert all(r[2] is not None and r[3] for r in results)
    # the generator's defects reach the landing tables: landing rules warn about them
    assert validated["rules"]["landing_customers_email_format"]["verdict"] == "WARN"


@pytest.mark.integration
def test_every_injected_defect_is_caught_by_the_rule_for_its_kind(
    validated: dict[str, Any], session: Any, applied: Endpoints
) -> None:
    defects = [r for r in manifest_rows(applied) if r["category"] == "defect"]
    assert {d["kind"] for d in defects} == set(CATCHES)
    flagged: dict[tuple[str, int], set[str]] = {}
    for rule_name, file_name, row in _rows(
        session,
        "SELECT RULE_NAME, FILE_NAME, FILE_ROW_NUMBER FROM QUALITY.RULE_EXCEPTIONS "
        f"WHERE RUN_ID = '{validated['run_id']}' AND LAYER = 'landing'",
    ):
        flagged.setdefault((str(file_name), int(row)), set()).add(str(rule_name))
    by_name = {r.name: r for r in RULES.rules}
    for d in defects:
        rules = flagged.get((d["file_name"], d["row_number"]), set())
        assert any(by_name[n].type == CATCHES[d["kind"]] for n in rules), d


@pytest.mark.integration
def test_an_error_rule_failure_fails_the_run_and_names_the_failing_key(built: dict[str, Any], session: Any) -> None:
    """A silver row breaking an error rule: VALIDATE_DATA writes its verdict and the key,
    then raises, which fails its task and stops the graph before gold."""
    session.sql("CREATE SCHEMA IF NOT EXISTS QT_SILVER").collect()
    for table in (
        "silver_customers",
        "silver_transactions",
        "silver_orders",
        "silver_interactions",
        "silver_opportunities",
    ):
        session.sql(f"CREATE OR REPLACE TABLE QT_SILVER.{table} AS SELECT * FROM SILVER.{table}").collect()
    victim = str(
        # a plain key: the vault tests land a customer whose id is SQL-shaped, and it may be in silver
        _rows(
            session,
            "SELECT customer_id FROM QT_SILVER.silver_customers WHERE REGEXP_LIKE(customer_id, '^[A-Z0-9]+$') "
            "ORDER BY customer_id LIMIT 1",
        )[0][0]
    )
    session.sql(f"UPDATE QT_SILVER.silver_customers SET age = 150 WHERE customer_id = '{victim}'").collect()
    schemas = SCHEMAS | {"silver": "QT_SILVER"}
    with pytest.raises(quality.QualityGateError, match=r"silver_customers_age_plausible \(1 rows\)"):
        validate_data.run(session, layer="silver", schemas=schemas)
    run_id, verdict, failed = _rows(
        session,
        "SELECT RUN_ID, VERDICT, ROWS_FAILED FROM QUALITY.RULE_RESULTS "
        "WHERE RULE_NAME = 'silver_customers_age_plausible' ORDER BY CHECKED_AT DESC LIMIT 1",
    )[0]
    assert (verdict, failed) == ("FAIL", 1)
    keys = _rows(
        session,
        f"SELECT FAILING_KEY, FAILING_VALUE FROM QUALITY.RULE_EXCEPTIONS WHERE RUN_ID = '{run_id}' "
        "AND RULE_NAME = 'silver_customers_age_plausible'",
    )
    assert [(str(k), str(v)) for k, v in keys] == [(victim, "150")]
    status, error = _rows(
        session,
        f"SELECT status, error FROM AUDIT.PROCEDURE_RUNS WHERE run_id = '{run_id}'",
    )[0]
    assert status == "FAILED" and "QualityGateError" in error
    # and the alert on failed error rules fires for the check after it, not for a check before
    checked_at = _rows(session, f"SELECT MAX(CHECKED_AT) FROM QUALITY.RULE_RESULTS WHERE RUN_ID = '{run_id}'")[0][0]
    assert _error_alert_fires(session, since=checked_at - datetime.timedelta(minutes=15), until=checked_at)
    assert not _error_alert_fires(session, since=checked_at, until=checked_at + datetime.timedelta(minutes=15))


def _error_alert_fires(session: Any, since: datetime.datetime, until: datetime.datetime) -> bool:
    """sql/080's ERROR_RULE_FAILED condition, run locally for a schedule window: the alert
    functions as Snowflake returns them, TIMESTAMP_LTZ (lake/local/alerts.py); ``since`` and
    ``until`` are UTC, as CHECKED_AT is."""
    from lake.local import alerts

    (alert,) = [a for a in alerts.shipped(Settings()) if a.name.endswith(".ERROR_RULE_FAILED")]
    condition = alerts.localised(
        alert.condition, until.replace(tzinfo=datetime.UTC), since.replace(tzinfo=datetime.UTC)
    )
    return bool(_rows(session, exp.select(condition.as_("fires")).sql(dialect="snowflake"))[0][0])


@pytest.mark.integration
def test_row_count_change_is_judged_against_the_previous_run(validated: dict[str, Any], session: Any) -> None:
    again = validate_data.run(session, layer="vault", schemas=SCHEMAS)
    assert again["failed"] == 0
    previous, change = _rows(
        session,
        "SELECT PARSE_JSON(DETAIL):previous_rows, PARSE_JSON(DETAIL):change_pct FROM QUALITY.RULE_RESULTS "
        f"WHERE RUN_ID = '{again['run_id']}' AND RULE_NAME = 'vault_hub_customer_row_count_change'",
    )[0]
    assert int(previous) > 0 and float(change) == 0.0


@pytest.mark.integration
def test_a_spec_naming_a_missing_column_fails_before_any_query(session: Any, built: dict[str, Any]) -> None:
    rule = quality.parse_rule(GOOD | {"column": "e_mail"}, "silver", {"owner": "team"}, "procedures/rules/silver.yml")
    columns = validate_data.warehouse_columns(session, [rule], SCHEMAS)
    with pytest.raises(quality.RuleSpecError, match=r"silver\.yml: rule 'silver_x_rule': unknown column 'e_mail'"):
        quality.validate([rule], columns)
    assert "email" in columns[("silver", "silver_customers")]
    missing = dataclasses.replace(rule, table="silver_nothing")
    with pytest.raises(quality.RuleSpecError, match="unknown table 'silver_nothing'"):
        quality.validate([missing], validate_data.warehouse_columns(session, [missing], SCHEMAS))


@pytest.mark.integration
def test_lake_quality_reports_the_rules_and_exits_by_verdict(
    settings: Settings, validated: dict[str, Any], session: Any
) -> None:
    from typer.testing import CliRunner

    from lake.cli import app

    env = {"LAKE_STATE_DIR": str(settings.local.state_dir), "COLUMNS": "200"}
    ok = CliRunner().invoke(app, ["quality", "--layer", "gold"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "Data quality (VALIDATE_DATA)" in ok.output and "gold" in ok.output
    bad = CliRunner().invoke(app, ["quality", "--layer", "platinum"], env=env)
    assert bad.exit_code == 2 and "layer must be one of" in bad.output  # a usage error, before any server


@pytest.mark.integration
def test_great_expectations_gives_the_same_verdicts_and_counts(
    settings: Settings, built: dict[str, Any], applied: Endpoints, session: Any
) -> None:
    """The same spec as a GX checkpoint through its Snowflake data source, pushed down to
    the same local server: every rule's verdict agrees with VALIDATE_DATA, the native
    expectations count the same failing rows, and every defect kind the generator
    injected fails a GX expectation too."""
    from lake import gx

    previous = gx.previous_row_counts(settings, applied)
    ours = validate_data.run(session, layer="all", schemas=SCHEMAS, fail_on_error=False)
    theirs = gx.run(settings, applied, "all", previous=previous)
    assert set(theirs.verdicts) == set(ours["rules"])
    disagree = {
        n: (r["verdict"], theirs.verdicts[n]) for n, r in ours["rules"].items() if r["verdict"] != theirs.verdicts[n]
    }
    assert not disagree
    by_name = {r.name: r for r in RULES.rules}
    for name, r in ours["rules"].items():
        if by_name[name].type in ("not_null", "accepted_values", "range", "pattern"):
            assert theirs.unexpected[name] == r["rows_failed"], name
    failing_kinds = {by_name[n].type for n, v in theirs.verdicts.items() if v != "PASS" and n.startswith("landing_")}
    assert set(CATCHES.values()) <= failing_kinds
    assert theirs.docs is not None and theirs.docs.is_file() and "Data Docs" in theirs.docs.read_text()
