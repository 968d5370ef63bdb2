"""Governance generated from the specs: every PII column is tagged and so masked, masking
and row access behave per role (their bodies run on the local engine), the data metric
functions count what VALIDATE_DATA counts, and the alerts fire when they should."""

from __future__ import annotations

import datetime
import re
import textwrap
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlglot import exp

from lake import governance, snowsql, sqlfiles
from lake.config import Settings
from procedures import governance as governance_spec
from procedures import quality
from procedures import spec as entity_spec
from procedures.handlers import validate_data

SETTINGS = Settings()
PREFIX = SETTINGS.names.role_prefix


def shipped(name: str) -> list[exp.Expr]:
    path = sqlfiles.SQL_DIR / name
    text = sqlfiles.render(path.read_text(), sqlfiles.variables(SETTINGS), name)
    return [snowsql.parse(s, name) for s in sqlfiles.split(text)]


def in_session(function: str | None) -> set[str]:
    """The roles IS_ROLE_IN_SESSION is true for when ``function``'s role is the session's:
    itself and every role it inherits through the hierarchy."""
    if function is None:
        return set()
    found = {function}
    while True:
        more = {child for child, parent in governance_spec.PARENT.items() if parent in found}
        more |= {i for r in found for i in governance_spec.INHERITS.get(r, ())}
        if more <= found:
            return {f"{PREFIX}_{r}" for r in found}
        found |= more


def localise(tree: exp.Expr, roles: set[str], values: dict[str, exp.Expr]) -> exp.Expr:
    """A policy body or alert condition with the session's roles, the current column's tag
    and the policy's arguments filled in, so the local engine can run it."""

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.upper() == "IS_ROLE_IN_SESSION":
            (arg,) = node.expressions
            if isinstance(arg, exp.Literal):
                return exp.Boolean(this=arg.this in roles)
            return exp.In(this=arg.copy(), expressions=[exp.Literal.string(r) for r in sorted(roles)] or [exp.Null()])
        if isinstance(node, exp.Anonymous) and node.name.upper() in values:
            return values[node.name.upper()].copy()
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in values:
            return values[node.name.lower()].copy()
        return node

    return tree.copy().transform(swap)


def policy(name: str) -> snowsql.CreatePolicy:
    for statement in shipped("070_governance.sql"):
        if isinstance(statement, snowsql.CreatePolicy) and statement.this.name == name:
            return statement
    raise AssertionError(f"no policy {name}")


# --------------------------------------------------------------------------- coverage


@pytest.mark.unit
def test_every_pii_column_has_a_tag_and_so_a_masking_policy() -> None:
    statements = shipped("070_governance.sql")
    tagged = {
        (s.this.db, s.this.name, s.args["action"].args["column"].name): s.args["action"].args["expressions"][0]
        for s in statements
        if isinstance(s, snowsql.AlterObject) and s.args["action"].args["kind"] == "SET TAG"
    }
    schemas = SETTINGS.names.schemas
    expected = {(schemas[c.layer], c.table, c.column): c.pii for c in governance.warehouse_pii()}
    assert expected, "the entity spec classifies PII"
    for where, pii in expected.items():
        assert where in tagged, f"{'.'.join(where)} ({pii}) has no PII tag"
        assert tagged[where].args["value"].name == pii and tagged[where].this.name == "PII_CLASS"
    # every PII class of the spec reaches the landing tables and the satellites
    assert {c.pii for c in governance.warehouse_pii()} == set(entity_spec.PII_CLASSES)
    # the tag carries a masking policy for each data type PII columns have
    (tag_policies,) = [s for s in statements if isinstance(s, snowsql.AlterObject) and s.args["kind"] == "TAG"]
    attached = {p.name for p in tag_policies.args["action"].args["expressions"]}
    assert attached == {"MASK_PII_STRING", "MASK_PII_DATE", "MASK_PII_NUMBER"}
    types = {c.type.split("(")[0] for e in entity_spec.ENTITIES for c in e.columns if c.pii}
    assert types <= {"VARCHAR", "DATE"}, f"a PII type without a masking policy: {types}"
    # a mart column derived from personal data (the age from the birth date) is a NUMBER
    derived = {m.data_types[c].split("(")[0] for m in governance.dbt_models() for c in m.pii if c in m.data_types}
    assert derived <= {"VARCHAR", "DATE", "NUMBER"} and "NUMBER" in derived, derived
    # and every dbt model column carrying PII is tagged by its post-hook
    spec = governance.dbt_spec(governance.dbt_models(), quality.load_rules().rules)
    for model in governance.dbt_models():
        hooks = spec["models"][model.name]["statements"]
        for column, pii in model.pii.items():
            assert f"ALTER {{kind}} {{relation}} MODIFY COLUMN {column.upper()} SET TAG " in " ".join(hooks)
            assert any(h.endswith(f"PII_CLASS = '{pii}'") and column.upper() in h for h in hooks)
    assert sum(len(m.pii) for m in governance.dbt_models()) >= 18


@pytest.mark.unit
def test_a_mart_column_carrying_pii_must_declare_it(tmp_path: Path) -> None:
    layer = tmp_path / "silver"
    layer.mkdir()
    (layer / "_silver.yml").write_text(
        textwrap.dedent(
            """\
            version: 2
            models:
              - name: silver_contacts
                columns:
                  - name: email
                    description: copied without a classification
            """
        )
    )
    with pytest.raises(governance.GovernanceSpecError, match=r"silver_contacts\.email carries PII \(email\)"):
        governance.dbt_models(tmp_path)
    (layer / "_silver.yml").write_text(
        "version: 2\nmodels:\n  - name: silver_contacts\n    columns:\n"
        "      - name: email\n        config: {meta: {pii: e-mail}}\n"
    )
    with pytest.raises(governance.GovernanceSpecError, match=r"meta\.pii 'e-mail' is not one of name, email"):
        governance.dbt_models(tmp_path)


@pytest.mark.unit
def test_roles_and_grants_match_the_spec() -> None:
    statements = shipped("005_account.sql") + shipped("070_governance.sql")
    roles = {s.this.name for s in statements if isinstance(s, snowsql.CreateRole) and s.args["kind"] == "ROLE"}
    assert roles == {f"{PREFIX}_{r}" for r in (*governance_spec.FUNCTIONS, *governance_spec.REGION_ROLES)}
    edges = {(s.this.name, s.args["principal"].this.name) for s in statements if isinstance(s, snowsql.GrantRole)}
    for child, parent in governance_spec.PARENT.items():
        assert (f"{PREFIX}_{child}", parent if parent == "SYSADMIN" else f"{PREFIX}_{parent}") in edges
    # least privilege: the analyst reads gold and nothing else of the lake's tables (its future
    # grants cover GOLD_PENDING too, which the publishing swap turns into GOLD; USAGE on GOLD only)
    bulk = [s for s in statements if isinstance(s, snowsql.GrantBulk)]
    analyst = {s.args["container"].name for s in bulk if s.args["principals"][0].this.name == f"{PREFIX}_ANALYST"}
    assert analyst == {SETTINGS.names.gold, SETTINGS.names.gold_pending}
    text = (sqlfiles.SQL_DIR / "070_governance.sql").read_text()
    analyst_usage = set(
        re.findall(r"GRANT USAGE ON SCHEMA <% database %>\.<% (\w+)_schema %> TO ROLE <% role_prefix %>_ANALYST;", text)
    )
    assert analyst_usage == {"gold"}
    writes = {
        s.args["principals"][0].this.name for s in bulk if any(p.this.name != "SELECT" for p in s.args["privileges"])
    }
    assert writes == {f"{PREFIX}_ENGINEER"}


@pytest.mark.unit
def test_retention_per_layer_comes_from_the_spec() -> None:
    settings = {
        s.this.name: int(s.args["action"].args["expressions"][0].args["value"].name)
        for s in shipped("070_governance.sql")
        if isinstance(s, snowsql.AlterObject) and s.args["kind"] == "SCHEMA" and s.args["action"].args["kind"] == "SET"
    }
    assert settings == {SETTINGS.names.schemas[layer]: days for layer, days in governance_spec.TIME_TRAVEL_DAYS.items()}


@pytest.mark.unit
def test_every_monitored_rule_has_a_data_metric_function() -> None:
    rules = quality.load_rules().rules
    monitored = governance.monitored_rules(rules)
    created = {s.this.name for s in shipped("075_data_metrics.sql") if isinstance(s, snowsql.CreateDataMetricFunction)}
    for rule in monitored:
        metric = governance.metric(rule)
        assert metric is not None
        if not metric.function.startswith("SNOWFLAKE.CORE."):
            assert f"DMF_{rule.name.upper()}" in created, rule.name
        snowsql.parse(sqlfiles.render(metric.add("TABLE", "LAKE.X.Y"), sqlfiles.variables(SETTINGS)), rule.name)
    # rules a DMF cannot express are the VALIDATE_DATA-only kinds, nothing else
    unmonitored = {r.type for r in rules if r.layer != "landing"} - {r.type for r in monitored}
    assert unmonitored <= set(governance.VALIDATE_ONLY)
    assert {"not_null", "unique", "freshness", "referential", "range"} <= {r.type for r in monitored}


# --------------------------------------------------------------------------- behaviour, on the local engine


def evaluate(conn: Any, expression: exp.Expr) -> Any:
    cur = conn.cursor()
    cur.execute(exp.select(expression.as_("result")).sql(dialect="snowflake"))
    return cur.fetchone()[0]


SAMPLES = {
    "email": "jane.doe@bank.example",
    "phone": "+44 20 7946 0958",
    "name": "Jane",
    "account_number": "GB29NWBK60161331926819",
    "tax_id": "123-45-6789",
    "address": "1 Threadneedle St",
}


@pytest.mark.integration
@pytest.mark.parametrize(
    ("function", "expected"),
    [
        pytest.param("ADMIN", {k: v for k, v in SAMPLES.items()}, id="admin_clear"),
        pytest.param("ENGINEER", {k: v for k, v in SAMPLES.items()}, id="engineer_clear"),
        pytest.param("AUDITOR", dict.fromkeys(SAMPLES, "sha256"), id="auditor_hashed"),
        pytest.param(
            "ANALYST_EMEA",
            {
                "email": "*****@bank.example",
                "phone": "*****0958",
                "name": "J*****",
                "account_number": "GB*****6819",
                "tax_id": "*****",
                "address": "*****",
            },
            id="analyst_partial",
        ),
        pytest.param(None, dict.fromkeys(SAMPLES, "*****"), id="anyone_else_full"),
    ],
)
def test_masking_by_role_and_class(conn: Any, function: str | None, expected: dict[str, str]) -> None:
    body = policy("MASK_PII_STRING").args["body"]
    roles = in_session(function)
    for pii, value in SAMPLES.items():
        local = localise(
            body,
            roles,
            {"val": exp.Literal.string(value), "SYSTEM$GET_TAG_ON_CURRENT_COLUMN": exp.Literal.string(pii)},
        )
        masked = evaluate(conn, local)
        if expected[pii] == "sha256":
            assert re.fullmatch(r"[0-9a-f]{64}", masked) and masked != value, (pii, masked)
        else:
            assert masked == expected[pii], (function, pii)
    # dates: the analyst sees the birth year only, anyone else below the auditor nothing
    date_body = policy("MASK_PII_DATE").args["body"]
    born = exp.cast(exp.Literal.string("1984-07-19"), exp.DataType.build("DATE"))
    seen = evaluate(
        conn,
        localise(
            date_body, roles, {"val": born, "SYSTEM$GET_TAG_ON_CURRENT_COLUMN": exp.Literal.string("date_of_birth")}
        ),
    )
    want = {"ADMIN": "1984-07-19", "ENGINEER": "1984-07-19", "ANALYST_EMEA": "1984-01-01"}.get(function or "")
    assert (str(seen) if seen is not None else None) == want


@pytest.mark.integration
def test_row_access_follows_the_entitlement_table(conn: Any, built: dict[str, Any]) -> None:
    body = policy("CLIENT_REGION_ACCESS").args["body"]
    gold = SETTINGS.names.gold

    def visible(function: str | None) -> set[str]:
        predicate = localise(body, in_session(function), {"client_country": exp.column("COUNTRY_CODE", table="g")})
        cur = conn.cursor()
        cur.execute(
            f"SELECT DISTINCT g.COUNTRY_CODE FROM {gold}.GOLD_CUSTOMER_SUMMARY AS g WHERE "
            + predicate.sql(dialect="snowflake")
        )
        return {r[0] for r in cur.fetchall()}

    everyone = visible("ADMIN")
    assert len(everyone) >= 10
    assert visible("AUDITOR") == everyone
    regions = {region: visible(f"ANALYST_{region}") for region in governance_spec.REGIONS}
    for region, countries in regions.items():
        assert countries and countries <= set(governance_spec.REGIONS[region]), region
    assert set().union(*regions.values()) == everyone  # every client is in some analyst's region
    assert visible("ANALYST") == set()  # an analyst without an entitlement reads no client rows
    assert visible(None) == set()
    # an admin grants a region by inserting a row; the policy reads it at once
    cur = conn.cursor()
    cur.execute(
        f"INSERT INTO {SETTINGS.names.governance}.ENTITLEMENTS (ROLE_NAME, REGION) VALUES ('{PREFIX}_ANALYST', 'APAC')"
    )
    try:
        assert visible("ANALYST") == regions["APAC"]
    finally:
        cur.execute(f"DELETE FROM {SETTINGS.names.governance}.ENTITLEMENTS WHERE ROLE_NAME = '{PREFIX}_ANALYST'")


@pytest.mark.integration
def test_custom_dmfs_count_what_validate_data_counts(conn: Any, session: Any, built: dict[str, Any]) -> None:
    schemas = SETTINGS.names.schemas
    rules = [
        r
        for r in governance.monitored_rules(quality.load_rules().rules)
        if r.type in ("range", "pattern", "accepted_values", "referential")
    ]
    summary = validate_data.run(session, layer="vault,bronze,silver,gold", fail_on_error=False)
    cur = conn.cursor()
    cur.execute(
        f"SELECT RULE_NAME, ROWS_FAILED FROM {SETTINGS.names.quality}.RULE_RESULTS WHERE RUN_ID = %s",
        (summary["run_id"],),
    )
    gate = {name: int(failed) for name, failed in cur.fetchall()}
    dmfs = {s.this.name: s for s in shipped("075_data_metrics.sql") if isinstance(s, snowsql.CreateDataMetricFunction)}
    compared = 0
    for rule in rules:
        body = dmfs[f"DMF_{rule.name.upper()}"].args["body"]
        table = exp.to_table(f"{schemas[rule.layer]}.{rule.table}")

        def bind(node: exp.Expr, table: exp.Table = table, rule: quality.Rule = rule) -> exp.Expr:
            # the DMF's table arguments are the table it is attached to and, for a
            # referential rule, the parent table
            if isinstance(node, exp.Table) and node.name.lower() == "t":
                return table.copy().as_("t")
            if isinstance(node, exp.Table) and node.name.lower() == "p" and rule.parent:
                return exp.to_table(f"{schemas[rule.parent.layer]}.{rule.parent.table}").as_("p")
            return node

        cur.execute(body.transform(bind).sql(dialect="snowflake"))
        assert int(cur.fetchone()[0]) == gate[rule.name], rule.name
        compared += 1
    assert compared >= 8 and any(gate[r.name] > 0 for r in rules), "some monitored rule should fail on the sample"


@pytest.mark.integration
def test_freshness_alert_fires_only_when_an_sla_is_missed(conn: Any, built: dict[str, Any]) -> None:
    (alert,) = [
        s
        for s in shipped("080_alerts.sql")
        if isinstance(s, snowsql.CreateAlert) and s.this.name == "FRESHNESS_SLA_MISSED"
    ]
    condition = alert.args["condition"]
    assert evaluate(conn, condition) is False  # everything was loaded moments ago
    later = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(days=3)
    at = exp.cast(exp.Literal.string(later.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP_NTZ"))
    three_days_on = condition.transform(lambda n: at.copy() if isinstance(n, exp.CurrentTimestamp) else n)
    assert evaluate(conn, three_days_on) is True


@pytest.mark.unit
def test_freshness_is_measured_by_a_dmf_that_takes_the_utc_load_timestamps() -> None:
    # SNOWFLAKE.CORE.FRESHNESS takes DATE, TIMESTAMP_LTZ or TIMESTAMP_TZ only
    # (https://docs.snowflake.com/en/sql-reference/functions/dmf_freshness); LOAD_TS is TIMESTAMP_NTZ
    fresh = [r for r in quality.load_rules().rules if r.type == "freshness" and r.layer != "landing"]
    assert fresh
    for rule in fresh:
        found = governance.metric(rule)
        assert found is not None and found.function != "SNOWFLAKE.CORE.FRESHNESS"
        assert "TIMESTAMP_NTZ" in governance.custom_dmf(rule) and "SYSDATE()" in governance.custom_dmf(rule)
    shipped = (sqlfiles.SQL_DIR / "075_data_metrics.sql").read_text().splitlines()
    assert not [line for line in shipped if "SNOWFLAKE.CORE.FRESHNESS" in line and not line.startswith("--")]


@pytest.mark.unit
def test_every_mart_analysts_read_with_client_rows_has_the_row_access_policy() -> None:
    """Analysts read gold; a gold model with a row per client, or per account of a client,
    carries the region row access policy on a country column (gold_order_metrics is per
    month and has none)."""
    readable = set(governance_spec.ACCESS["ANALYST"])
    for model in governance.dbt_models():
        if model.layer in readable and "customer_id" in model.columns:
            assert model.row_access == "country_code", model.name


def _custom_dmfs() -> dict[str, snowsql.CreateDataMetricFunction]:
    return {s.this.name: s for s in shipped("075_data_metrics.sql") if isinstance(s, snowsql.CreateDataMetricFunction)}


@pytest.mark.integration
def test_every_custom_dmf_returns_a_number_on_an_empty_table_and_takes_its_columns_type(
    conn: Any, built: dict[str, Any]
) -> None:
    """A DMF declared RETURNS NUMBER NOT NULL must return a number on an empty table (a
    MAX over no rows is NULL), and its signature declares the monitored column's own type
    (https://docs.snowflake.com/en/sql-reference/sql/create-data-metric-function): each
    body runs here on an empty copy of its table, and each declared type is compared with
    the built column's."""
    schemas = SETTINGS.names.schemas
    dmfs = _custom_dmfs()
    cur = conn.cursor()
    checked = 0
    for rule in governance.monitored_rules(quality.load_rules().rules):
        if rule.type in governance.SYSTEM_DMFS:
            continue
        dmf = dmfs[f"DMF_{rule.name.upper()}"]
        empty = exp.select("*").from_(f"{schemas[rule.layer]}.{rule.table}").where("1 = 0").subquery("t")

        def bind(node: exp.Expr, empty: exp.Expr = empty, rule: quality.Rule = rule) -> exp.Expr:
            if isinstance(node, exp.Table) and node.name.lower() == "t":
                return empty.copy()
            if isinstance(node, exp.Table) and node.name.lower() == "p" and rule.parent:
                return exp.to_table(f"{schemas[rule.parent.layer]}.{rule.parent.table}").as_("p")
            return node

        cur.execute(dmf.args["body"].transform(bind).sql(dialect="snowflake"))
        assert cur.fetchone()[0] is not None, f"{dmf.this.name} returns NULL on an empty table"
        declared = re.search(
            rf"t TABLE\({(rule.column or '').upper()} ([A-Z_]+(?:\(\d+,\d+\))?)\)", governance.custom_dmf(rule)
        )
        assert declared, dmf.this.name
        if declared[1] == "VARCHAR":
            continue
        cur.execute(
            "SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            (schemas[rule.layer], rule.table.upper(), (rule.column or "").upper()),
        )
        data_type, precision, scale = cur.fetchone()
        built_type = f"{data_type}({precision},{scale})" if data_type == "NUMBER" else data_type
        assert declared[1] == built_type, f"{dmf.this.name} declares {declared[1]}; the column is {built_type}"
        checked += 1
    assert checked >= 10


# --------------------------------------------------------------------------- alerts, run on the local engine


def _error_rule_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    """VALIDATE_DATA with one error-severity rule that the loaded rates break."""
    rule = quality.parse_rule(
        {
            "name": "alert_test_rate_below_zero",
            "table": "SAT_EXCHANGE_RATE",
            "type": "range",
            "column": "RATE",
            "max": -1,
            "severity": "error",
            "owner": "data-platform",
        },
        "vault",
        {},
        "tests/lake/test_governance.py",
    )
    monkeypatch.setattr(quality, "load_rules", lambda: quality.RuleSet([rule]))


@pytest.mark.integration
def test_the_error_rule_alert_fires_once_in_its_window(
    settings: Settings,
    applied: Any,
    session: Any,
    conn: Any,
    built: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """sql/080's alert, evaluated on its schedule as Snowflake evaluates it (the alert
    functions as TIMESTAMP_LTZ in the Los Angeles session time zone): a failed error rule
    notifies once, at the first scheduled time after it, and not again."""
    from lake.local import alerts

    (alert,) = [a for a in alerts.shipped(settings) if a.name.endswith(".ERROR_RULE_FAILED")]
    record = tmp_path / alerts.RECORD
    before = alerts.latest_tick(alert.schedule, datetime.datetime.now(datetime.UTC))
    alerts.evaluate(settings, applied, now=before, record=record, alerts=[alert])  # whatever failed before
    _error_rule_failing(monkeypatch)
    summary = validate_data.run(session, layer="vault", fail_on_error=False)
    try:
        assert summary["failed"] == 1
        fired = []
        for minutes in (15, 30, 45):
            fired += alerts.evaluate(
                settings, applied, now=before + datetime.timedelta(minutes=minutes), record=record, alerts=[alert]
            )
        states = [(e.scheduled_time, e.state) for e in fired]
        first = (before + datetime.timedelta(minutes=15)).isoformat()
        assert [s for s in states if s[1] == "TRIGGERED"] == [(first, "TRIGGERED")], states
        (sent,) = alerts.notifications(record)
        assert sent.integration == sqlfiles.variables(settings)["notification_integration"]
        assert "error-severity rule failed" in sent.message
    finally:
        cur = conn.cursor()
        for table in ("RULE_RESULTS", "RULE_EXCEPTIONS"):
            cur.execute(f"DELETE FROM {settings.names.quality}.{table} WHERE RUN_ID = %s", (summary["run_id"],))


@pytest.mark.unit
def test_alerts_read_only_what_the_shipped_ddl_creates() -> None:
    """An alert is created by sql/080 before any dbt build: a condition reading a mart
    would fail to compile at every evaluation and never notify."""
    created = {(SETTINGS.names.schemas[layer], name) for layer, name in governance.relation_kinds()}
    for alert in (s for s in shipped("080_alerts.sql") if isinstance(s, snowsql.CreateAlert)):
        read = {(t.db, t.name) for t in alert.args["condition"].find_all(exp.Table)}
        assert read and read <= created, f"{alert.this.name} reads {sorted(read - created)}"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("now", "tick"),
    [
        ("2026-12-07 20:14:59", "2026-12-07 20:00:00"),
        ("2026-12-07 20:15:00", "2026-12-07 20:15:00"),
        ("2026-12-08 00:07:00", "2026-12-08 00:00:00"),
    ],
)
def test_an_alert_is_evaluated_at_its_latest_scheduled_time(now: str, tick: str) -> None:
    from lake.local import alerts

    at = datetime.datetime.fromisoformat(now).replace(tzinfo=datetime.UTC)
    expected = datetime.datetime.fromisoformat(tick).replace(tzinfo=datetime.UTC)
    assert alerts.latest_tick(governance_spec.ALERT_SCHEDULE, at) == expected
    daily = alerts.latest_tick("USING CRON 30 3 * * * America/Los_Angeles", at)
    assert daily.astimezone(ZoneInfo("America/Los_Angeles")).strftime("%H:%M") == "03:30" and daily <= at
