"""Control totals and distributions: what producers sent balances with the vault, silver
and gold, and each check fails, naming the group and both figures, when a layer loses a
row, changes an amount or maps a value wrongly (each fault put in inside a transaction
that is rolled back, so the shared lake stays as built)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import controls, quality, spec

pytestmark = pytest.mark.integration


def schemas(settings: Settings) -> dict[str, str]:
    return {layer: getattr(settings.names, layer) for layer in quality.LAYERS}


def rule(name: str) -> quality.Rule:
    return next(r for r in quality.load_rules().rules if r.name == name)


def differing(cur: Any, settings: Settings, name: str) -> dict[str, str]:
    """The groups of one control rule whose figures differ: group -> both figures."""
    cur.execute(quality.control_total_sql(rule(name), schemas(settings)))
    return {str(key): str(detail) for key, failed, detail in cur.fetchall() if failed}


@pytest.fixture()
def faulty(built: Any, conn: Any) -> Iterator[Any]:
    """A cursor inside a transaction that is rolled back afterwards: the fault stays local."""
    cur = conn.cursor()
    cur.execute("BEGIN")
    try:
        yield cur
    finally:
        cur.execute("ROLLBACK")


def test_every_control_total_and_distribution_balances_on_the_sample(built: Any, conn: Any, settings: Settings) -> None:
    names = [r.name for r in quality.load_rules().rules if r.type == "control_total"]
    # generated from the spec: one landing-to-vault total per entity with a satellite of its
    # own, one distribution per value-set column of an entity with a silver model
    assert {f"vault_{e.name}_control_totals" for e in controls.controlled()} <= set(names)
    assert "silver_customers_client_segment_distribution" in names
    assert "silver_customers_country_code_distribution" in names
    cur = conn.cursor()
    for name in names:
        cur.execute(quality.control_total_sql(rule(name), schemas(settings)))
        groups = cur.fetchall()
        assert groups, f"{name} compared nothing"
        assert not [g for g in groups if g[1]], f"{name}: {[g for g in groups if g[1]]}"


def test_silver_keeps_the_landing_segments(built: Any, conn: Any, settings: Settings) -> None:
    """The outcome the segment bug broke: gold's segments are landing's latest rows'."""
    cur = conn.cursor()
    cur.execute(
        f"SELECT client_segment, COUNT(*) FROM {settings.names.gold}.gold_customer_summary GROUP BY 1 ORDER BY 1"
    )
    gold = dict(cur.fetchall())
    cur.execute(
        f"SELECT UPPER(client_segment), COUNT(*) FROM {settings.names.landing}.STG_CUSTOMERS_LATEST "
        f"WHERE customer_id IN (SELECT customer_id FROM {settings.names.gold}.gold_customer_summary) "
        "GROUP BY 1 ORDER BY 1"
    )
    assert gold == dict(cur.fetchall())
    assert len(gold) >= 6  # the sample spreads clients over the segments


def test_a_row_the_vault_lost_fails_its_batch_and_currency(faulty: Any, settings: Settings) -> None:
    vault = settings.names.vault
    faulty.execute(
        f"SELECT transaction_hk, batch_id, UPPER(currency), amount FROM {vault}.SAT_TRANSACTION "
        "WHERE amount IS NOT NULL ORDER BY transaction_hk LIMIT 1"
    )
    hk, batch, currency, amount = faulty.fetchone()
    faulty.execute(f"DELETE FROM {vault}.SAT_TRANSACTION WHERE transaction_hk = '{hk}'")
    found = differing(faulty, settings, "vault_transactions_control_totals")
    assert list(found) == [f"{batch}|{currency}"]
    rows, total = found[f"{batch}|{currency}"].split("; ")
    vault_rows, landed_rows = (int(n) for n in rows.removeprefix("COUNT(*): ").split(" vs "))
    assert landed_rows - vault_rows == 1
    vault_sum, landed_sum = (Decimal(n) for n in total.removeprefix("SUM(AMOUNT): ").split(" vs "))
    assert landed_sum - vault_sum == amount
    faulty.execute(f"SELECT COUNT(*) FROM {vault}.CTL_TRANSACTIONS WHERE DISPOSITION = 'MISSING'")
    assert faulty.fetchone()[0] == 1


def test_an_amount_the_vault_changed_fails_the_sum_to_the_cent(faulty: Any, settings: Settings) -> None:
    vault = settings.names.vault
    faulty.execute(
        f"SELECT account_hk, batch_id, UPPER(currency) FROM {vault}.SAT_ACCOUNT "
        "WHERE balance IS NOT NULL ORDER BY account_hk LIMIT 1"
    )
    hk, batch, currency = faulty.fetchone()
    faulty.execute(f"UPDATE {vault}.SAT_ACCOUNT SET balance = balance + 0.01 WHERE account_hk = '{hk}'")
    found = differing(faulty, settings, "vault_accounts_control_totals")
    assert f"{batch}|{currency}" in found
    rows, total = found[f"{batch}|{currency}"].split("; ")
    assert len(set(rows.removeprefix("COUNT(*): ").split(" vs "))) == 1  # no row lost
    vault_sum, landed_sum = (Decimal(n) for n in total.removeprefix("SUM(BALANCE): ").split(" vs "))
    assert vault_sum - landed_sum >= Decimal("0.01")


def test_every_client_in_one_segment_fails_the_distribution(faulty: Any, settings: Settings) -> None:
    """The bug gold shipped: silver gave every client the reference table's last segment."""
    faulty.execute(f"UPDATE {settings.names.silver}.silver_customers SET client_segment = 'SOVEREIGN_WEALTH'")
    found = differing(faulty, settings, "silver_customers_client_segment_distribution")
    assert "ASSET_MANAGER" in found and "SOVEREIGN_WEALTH" in found
    assert found["ASSET_MANAGER"].startswith("COUNT(*): 0 vs ")


def test_a_gold_total_a_cent_off_fails_its_control_total(faulty: Any, settings: Settings) -> None:
    faulty.execute(
        f"UPDATE {settings.names.gold}.gold_order_metrics "
        "SET total_order_value_reporting = total_order_value_reporting + 0.01 "
        "WHERE order_month = (SELECT MAX(order_month) FROM "
        f"{settings.names.gold}.gold_order_metrics)"
    )
    found = differing(faulty, settings, "gold_order_metrics_order_count_reconciles")
    assert list(found) == ["USD"]


def test_a_silver_row_doubled_by_a_join_fails_the_vault_to_silver_total(faulty: Any, settings: Settings) -> None:
    silver = settings.names.silver
    faulty.execute(f"INSERT INTO {silver}.silver_transactions SELECT * FROM {silver}.silver_transactions LIMIT 1")
    assert len(differing(faulty, settings, "silver_transactions_control_totals")) == 1  # its batch and currency


@pytest.mark.unit
def test_a_control_total_names_its_groups_and_both_figures() -> None:
    sql = quality.control_total_sql(
        rule("vault_orders_control_totals"), {layer: layer.upper() for layer in quality.LAYERS}
    )
    assert "FULL OUTER JOIN" in sql and "'COUNT(*): '" in sql and "'SUM(UNIT_PRICE): '" in sql
    assert "DISPOSITION <> 'MISSING'" in sql


@pytest.mark.unit
def test_a_control_rule_needs_aligned_groups_and_measures() -> None:
    raw = {
        "name": "gold_bad_total",
        "table": "gold_order_metrics",
        "type": "control_total",
        "owner": "x",
        "by": ["reporting_currency"],
        "measures": ["SUM(order_count)"],
        "other": {"table": "silver_orders", "layer": "silver", "measures": ["COUNT(*)"]},
    }
    with pytest.raises(quality.RuleSpecError, match="as many 'by' and 'measures'"):
        quality.parse_rule(raw, "gold", {}, "gold.yml")


@pytest.mark.unit
def test_the_mapping_is_the_silver_macros() -> None:
    segment = next(c for c in spec.entity("customers").columns if c.name == "client_segment")
    assert controls.mapped(segment) == (
        "CASE WHEN CLIENT_SEGMENT IS NULL THEN NULL WHEN UPPER(TRIM(CLIENT_SEGMENT)) IN ("
        + ", ".join(f"'{v}'" for v in spec.CLIENT_SEGMENTS)
        + ") THEN UPPER(TRIM(CLIENT_SEGMENT)) ELSE 'UNKNOWN' END"
    )


def test_a_transaction_whose_correction_is_invalid_leaves_silver(
    built: Any, conn: Any, settings: Settings, applied: Endpoints
) -> None:
    """The control totals found it: silver's delete+insert kept a transaction's old row when
    its newer version was left out (a negative amount), so silver no longer matched the vault.
    The corrected transaction now leaves silver, and the totals balance."""
    import pyarrow as pa

    from lake import pipeline
    from tests.conftest import land_files

    cur = conn.cursor()
    cur.execute(
        f"SELECT transaction_id, account_id, transaction_type, direction, CAST(amount AS VARCHAR), currency, status "
        f"FROM {settings.names.silver}.silver_transactions ORDER BY transaction_id LIMIT 1"
    )
    tid, account, kind, direction, amount, currency, status = cur.fetchone()
    row = {
        "transaction_id": tid,
        "account_id": account,
        "transaction_type": kind,
        "direction": direction,
        "amount": "-" + amount,
        "currency": currency,
        "status": status,
        "transaction_at": "2043-01-01 09:00:00",
    }
    names = spec.entity("transactions").column_names
    table = pa.table({n: pa.array([row[n]], pa.string()) for n in names})
    batch = land_files(applied, "transactions", "2043-01-01", {"part-0000.csv": table})
    pipeline.ingest(settings, applied, batch_id=batch)
    pipeline.load(settings, applied, batch_id=batch)
    # silver and what is built on it (gold too: other tests validate every layer afterwards)
    pipeline.dbt_build(settings, applied, ("--select", "bronze_transactions", "silver_transactions+"))
    cur.execute(f"SELECT COUNT(*) FROM {settings.names.silver}.silver_transactions WHERE transaction_id = '{tid}'")
    assert cur.fetchone()[0] == 0
    assert differing(cur, settings, "silver_transactions_control_totals") == {}
    assert differing(cur, settings, "silver_transactions_transaction_type_distribution") == {}
    assert differing(cur, settings, "gold_transaction_summary_volume_reconciles") == {}
