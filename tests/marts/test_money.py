"""Money in the marts: every amount in one reporting currency at its own date's fixing,
computed by hand here and compared with what the pipeline builds; decimal on both engines
(no FLOAT money column anywhere in the marts); rounding half away from zero, as Snowflake's
ROUND does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import quality, spec
from tests.conftest import land_files

pytestmark = pytest.mark.integration

D = Decimal
DAY1, DAY2 = "2026-03-02", "2026-03-03"  # a Monday and a Tuesday


def _table(entity: str, rows: list[dict[str, str]]) -> pa.Table:
    """Rows as a producer's file: every spec column, as text ('' where not given)."""
    names = spec.entity(entity).column_names
    return pa.table({n: pa.array([r.get(n, "") for r in rows], pa.string()) for n in names})


def _customer(cid: str, segment: str) -> dict[str, str]:
    return {
        "customer_id": cid,
        "legal_name": f"{cid} Holdings",
        "domicile_country": "GB",
        "client_segment": segment,
        "lifecycle_stage": "ACTIVE",
        "risk_rating": "LOW",
        "kyc_status": "VERIFIED",
        "onboarded_at": "2020-01-01",
        "updated_at": f"{DAY1} 09:00:00",
    }


def _account(aid: str, cid: str, currency: str, balance: str) -> dict[str, str]:
    return {
        "account_id": aid,
        "customer_id": cid,
        "account_number": f"GB00{aid}",
        "account_type": "CASH",
        "currency": currency,
        "balance": balance,
        "status": "ACTIVE",
        "opened_at": "2024-01-01",
        "updated_at": f"{DAY1} 09:00:00",
    }


def _rate(currency: str, day: str, rate: str) -> dict[str, str]:
    return {
        "rate_id": f"{currency}USD-{day}",
        "currency": currency,
        "quote_currency": "USD",
        "rate_date": day,
        "rate": rate,
        "updated_at": f"{day} 16:00:00",
    }


def _order(oid: str, cid: str, qty: str, price: str, currency: str, status: str, day: str) -> dict[str, str]:
    at = f"{day} 10:00:00"
    return {
        "order_id": oid,
        "customer_id": cid,
        "product_id": "P000001",
        "quantity": qty,
        "unit_price": price,
        "currency": currency,
        "order_status": status,
        "channel": "API",
        "ordered_at": at,
        "updated_at": at,
    }


def _transaction(tid: str, aid: str, direction: str, amount: str, currency: str) -> dict[str, str]:
    return {
        "transaction_id": tid,
        "account_id": aid,
        "transaction_type": "DEPOSIT" if direction == "CREDIT" else "WITHDRAWAL",
        "direction": direction,
        "amount": amount,
        "currency": currency,
        "status": "BOOKED",
        "transaction_at": f"{DAY2} 11:00:00",
    }


# Three clients, three currencies (USD, EUR, JPY), two days. Fixings in USD per unit:
#   EUR 1.10000000 on day 1 and none on day 2 (carried: 1.10, flagged);
#   JPY 0.00660000 on day 1, 0.00670000 on day 2; GBP never (an order in GBP stays unconverted).
DELIVERIES: dict[str, dict[str, list[dict[str, str]]]] = {
    DAY1: {
        "customers": [_customer("C1", "BANK"), _customer("C2", "HEDGE_FUND"), _customer("C3", "PENSION_FUND")],
        "accounts": [
            _account("A1", "C1", "USD", "1000.00"),
            _account("A2", "C2", "EUR", "2000.00"),
            _account("A3", "C3", "JPY", "1000000.00"),
        ],
        "exchange_rates": [_rate("EUR", DAY1, "1.10000000"), _rate("JPY", DAY1, "0.00660000")],
        "orders": [
            _order("O1", "C2", "10", "333.33", "EUR", "FULFILLED", DAY1),
            _order("O2", "C3", "3", "1000000.00", "JPY", "FULFILLED", DAY1),
        ],
    },
    DAY2: {
        "exchange_rates": [_rate("JPY", DAY2, "0.00670000")],
        "orders": [
            _order("O3", "C2", "1", "1234.55", "EUR", "FULFILLED", DAY2),
            _order("O4", "C1", "2", "500.00", "USD", "FULFILLED", DAY2),
            _order("O5", "C3", "1", "150000.00", "JPY", "CANCELLED", DAY2),
            _order("O6", "C1", "1", "100.00", "GBP", "PENDING", DAY2),
        ],
        "transactions": [
            _transaction("T1", "A1", "CREDIT", "10.00", "USD"),
            _transaction("T2", "A2", "DEBIT", "5.00", "EUR"),
        ],
    },
}


@pytest.fixture(scope="module")
def fixture_lake(settings: Settings, applied: Endpoints) -> Settings:
    """A lake of its own (database LAKE_FX_FIXTURE, landing prefix fx-fixture/) on the
    shared servers, with the two days above ingested, loaded and built by dbt."""
    own = settings.model_copy(
        update={
            "names": settings.names.model_copy(update={"database": "LAKE_FX_FIXTURE"}),
            "local": settings.local.model_copy(update={"landing_prefix": "fx-fixture/"}),
        }
    )
    pipeline.setup(own, applied)
    for day, entities in DELIVERIES.items():
        for entity, rows in entities.items():
            land_files(applied, entity, day, {"part-0000.csv": _table(entity, rows)}, landing_prefix="fx-fixture/")
    for day in DELIVERIES:
        batch = "B" + day.replace("-", "")
        pipeline.ingest(own, applied, batch_id=batch)
        pipeline.load(own, applied, batch_id=batch)
    pipeline.dbt_build(own, applied)
    return own


def _rows(own: Settings, endpoints: Endpoints, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in pipeline.fetch(own, endpoints, sql)]


def test_gold_in_the_reporting_currency_matches_the_hand_computed_figures(
    fixture_lake: Settings, applied: Endpoints
) -> None:
    gold = fixture_lake.names.gold
    # gold_customer_summary, as of the latest snapshot (day 2):
    #   C1: balance 1000.00 USD; lifetime O4 2 x 500.00 = 1000.00 USD.
    #   C2: balance 2000.00 EUR x 1.10 (day 1's fixing, carried) = 2200.00;
    #       lifetime O1 10 x 333.33 = 3333.30 EUR x 1.10 = 3666.63
    #              + O3 1234.55 EUR x 1.10 = 1358.005 -> 1358.01 (half away from zero) = 5024.64.
    #   C3: balance 1,000,000 JPY x 0.0067 = 6700.00; lifetime O2 3,000,000 JPY x 0.0066 = 19800.00
    #       (O5 is cancelled).
    assert _rows(
        fixture_lake,
        applied,
        f"SELECT customer_id, client_segment, reporting_currency, account_count, total_balance_reporting, "
        f"lifetime_value_reporting, value_tier, unrated_amounts FROM {gold}.gold_customer_summary ORDER BY 1",
    ) == [
        ("C1", "BANK", "USD", 1, D("1000.00"), D("1000.00"), "BRONZE", 0),
        ("C2", "HEDGE_FUND", "USD", 1, D("2200.00"), D("5024.64"), "BRONZE", 0),
        ("C3", "PENSION_FUND", "USD", 1, D("6700.00"), D("19800.00"), "BRONZE", 0),
    ]
    # gold_order_metrics, March 2026: six orders, four fulfilled, one cancelled; value of the
    # five converted: 3666.63 + 19800.00 + 1358.01 + 1000.00 + O5 150000 JPY x 0.0067 = 1005.00
    # = 26829.64, average 26829.64 / 5 = 5365.928 -> 5365.93. O6 (GBP, no fixing) is unrated:
    # counted, never added at a made-up rate.
    assert _rows(
        fixture_lake,
        applied,
        "SELECT order_year, order_month, order_count, fulfilled_count, cancelled_count, fulfillment_rate_pct, "
        "cancellation_rate_pct, total_order_value_reporting, average_order_value_reporting, unrated_orders "
        f"FROM {gold}.gold_order_metrics",
    ) == [(2026, 3, 6, 4, 1, D("66.67"), D("16.67"), D("26829.64"), D("5365.93"), 1)]
    # gold_customer_snapshots: day 1 at day 1's fixings (C3: 1,000,000 x 0.0066 = 6600.00),
    # day 2 at day 2's (EUR carried)
    assert _rows(
        fixture_lake,
        applied,
        f"SELECT CAST(snapshot_date AS VARCHAR), customer_id, total_balance_reporting "
        f"FROM {gold}.gold_customer_snapshots ORDER BY 1, 2",
    ) == [
        (DAY1, "C1", D("1000.00")),
        (DAY1, "C2", D("2200.00")),
        (DAY1, "C3", D("6600.00")),
        (DAY2, "C1", D("1000.00")),
        (DAY2, "C2", D("2200.00")),
        (DAY2, "C3", D("6700.00")),
    ]
    # gold_cross_domain_analytics: balances of the held accounts at the as-of date (day 2)
    assert _rows(
        fixture_lake,
        applied,
        f"SELECT customer_id, total_balance_reporting, lifetime_value_reporting "
        f"FROM {gold}.gold_cross_domain_analytics ORDER BY 1",
    ) == [("C1", D("1000.00"), D("1000.00")), ("C2", D("2200.00"), D("5024.64")), ("C3", D("6700.00"), D("19800.00"))]


def test_a_day_without_a_fixing_carries_the_last_one_and_says_so(fixture_lake: Settings, applied: Endpoints) -> None:
    silver = fixture_lake.names.silver
    assert _rows(
        fixture_lake,
        applied,
        "SELECT currency, CAST(rate_day AS VARCHAR), rate_to_reporting, CAST(fixing_date AS VARCHAR), is_carried "
        f"FROM {silver}.silver_exchange_rates WHERE rate_day = '{DAY2}' ORDER BY 1",
    ) == [
        ("EUR", DAY2, D("1.10000000"), DAY1, True),
        ("JPY", DAY2, D("0.00670000"), DAY2, False),
        ("USD", DAY2, D("1.00000000"), DAY2, False),
    ]
    assert _rows(
        fixture_lake,
        applied,
        f"SELECT order_id, order_value, currency, order_value_reporting, is_rate_carried "
        f"FROM {silver}.silver_orders WHERE order_id IN ('O3', 'O6') ORDER BY 1",
    ) == [("O3", D("1234.55"), "EUR", D("1358.01"), True), ("O6", D("100.00"), "GBP", None, None)]


def test_an_amount_without_any_fixing_is_an_error_rules_exception(fixture_lake: Settings, applied: Endpoints) -> None:
    with pytest.raises(quality.QualityGateError) as raised:
        pipeline.validate(fixture_lake, applied, layer="silver,gold")
    quality_schema = fixture_lake.names.quality
    (run_id,) = _rows(
        fixture_lake, applied, f"SELECT MAX(run_id) FROM {quality_schema}.RULE_RESULTS WHERE layer = 'gold'"
    )[0]
    assert run_id in str(raised.value)
    failed = _rows(
        fixture_lake,
        applied,
        f"SELECT rule_name FROM {quality_schema}.RULE_RESULTS "
        f"WHERE run_id = '{run_id}' AND verdict = 'FAIL' ORDER BY 1",
    )
    assert failed == [
        ("gold_order_metrics_amounts_converted",),
        ("gold_order_metrics_order_count_reconciles",),
        ("silver_orders_converted",),
    ]
    assert _rows(
        fixture_lake,
        applied,
        f"SELECT failing_key, failing_value FROM {quality_schema}.RULE_EXCEPTIONS "
        f"WHERE run_id = '{run_id}' AND rule_name IN ('silver_orders_converted', "
        "'gold_order_metrics_order_count_reconciles') ORDER BY 1",
    ) == [
        # the unrated order is in silver's group without a reporting currency, not in gold's
        (
            "(none)",
            "SUM(order_count): 0 vs 1; SUM(fulfilled_count): 0 vs 0; SUM(total_order_value_reporting): 0.00 vs 0.00",
        ),
        ("O6", None),
        (
            "USD",
            "SUM(order_count): 6 vs 5; SUM(fulfilled_count): 4 vs 4; "
            "SUM(total_order_value_reporting): 26829.64 vs 26829.64",
        ),
    ]


def test_no_money_column_of_any_mart_is_float(built: Any, conn: Any, settings: Settings) -> None:
    """Snowflake keeps NUMBER with a derived scale through arithmetic; the local engine's
    DuckDB turned sums, averages and divisions into DOUBLE. Every mart column is read here,
    and none may be FLOAT (no mart has a float that is not money)."""
    names = settings.names
    cur = conn.cursor()
    cur.execute(
        "SELECT table_schema, table_name, column_name, data_type, numeric_scale FROM information_schema.columns "
        f"WHERE table_catalog = '{names.database}' AND table_schema IN ('{names.silver}', '{names.gold}')"
    )
    columns = cur.fetchall()
    assert len(columns) > 100
    floats = [c[:3] for c in columns if c[3] in ("FLOAT", "DOUBLE", "REAL", "DECFLOAT")]
    assert floats == []
    # converted amounts: cents, as NUMBER (the rate itself has eight places)
    money = [c for c in columns if c[2].endswith("_REPORTING") and c[3] != "TEXT" and c[2] != "RATE_TO_REPORTING"]
    assert len(money) >= 12
    assert [c for c in money if (c[3], c[4]) != ("NUMBER", 2)] == []


def test_rounding_is_half_away_from_zero_as_snowflakes_round(conn: Any) -> None:
    # https://docs.snowflake.com/en/sql-reference/functions/round: the default rounding mode
    # is HALF_AWAY_FROM_ZERO; dbt/macros/reporting.sql (in_reporting) rounds a converted amount so
    cur = conn.cursor()
    cur.execute(
        "SELECT ROUND(CAST(1234.55 AS NUMBER(38, 2)) * CAST(1.10000000 AS NUMBER(18, 8)), 2), "
        "ROUND(CAST(-1234.55 AS NUMBER(38, 2)) * CAST(1.10000000 AS NUMBER(18, 8)), 2), "
        "ROUND(CAST(0.125 AS NUMBER(10, 3)), 2), ROUND(CAST(2.5 AS NUMBER(10, 1)), 0)"
    )
    assert cur.fetchone() == (D("1358.01"), D("-1358.01"), D("0.13"), D("3"))


@pytest.mark.unit
def test_money_is_declared_decimal_in_the_spec() -> None:
    money = {(e.name, c.name) for e in spec.ENTITIES for c in e.money}
    assert money == {
        ("accounts", "balance"),
        ("transactions", "amount"),
        ("orders", "unit_price"),
        ("products", "list_price"),
        ("opportunities", "amount"),
    }
    assert all(e.currency_column for e in spec.ENTITIES if e.money)
    assert "NUMBER(18,8)" in quality.PARSE_TYPES  # exchange rates parse to eight places


@pytest.mark.parametrize(
    ("column", "refused"),
    [
        pytest.param("client_segment", True, id="bare_name_refused"),
        pytest.param("b.client_segment", False, id="qualified_name_compiles"),
    ],
)
def test_standardised_code_takes_qualified_columns_only(
    built: Any, settings: Settings, applied: Endpoints, column: str, refused: bool
) -> None:
    """A bare name inside the macro's subquery resolved to the reference seed's own column
    of the same name, and every client got the seed's last segment."""
    from lake import dbt

    inline = f"select {{{{ standardised_code('{column}', 'ref_client_segments', 'client_segment') }}}} from t as b"
    log = dbt.log_file(settings)
    before = log.stat().st_size if log.exists() else 0
    if refused:
        with pytest.raises(dbt.DbtError):
            dbt.run(settings, applied, ["compile", "--inline", inline], capture=True)
        assert "qualify the column with its relation's alias" in log.read_text()[before:]
    else:
        dbt.run(settings, applied, ["compile", "--inline", inline], capture=True)
