"""The lake's dashboard: the Native App's default Streamlit, and `lake ui` locally.

Five pages, each one or a few SQL queries on the warehouse: pipeline runs and audit,
rows in the raw vault over time, data-quality results with their failing keys, the gold
KPIs of the brief, and governance coverage (PII columns and their masking).

In Snowflake the page runs on the app's active session. Locally, `lake ui` starts it
with ``LAKE_UI_LOCAL=1``, and it connects to the local warehouse as every other part of
the lake does (``lake.session``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

PAGES = ("Pipeline runs", "Raw vault", "Data quality", "Gold KPIs", "Governance")
SCHEMAS = {
    name: os.environ.get(f"LAKE_UI_{name.upper()}_SCHEMA", name.upper())
    for name in ("audit", "vault", "quality", "gold")
}


@st.cache_resource
def _connection(where: str = "") -> Any:
    """One connection per configuration: ``where`` (the local database and state folder)
    keys the cache, so a process showing the lake and then an installed app reads each."""
    if os.environ.get("LAKE_UI_LOCAL"):
        from lake.config import load_settings
        from lake.local.stack import LocalStack
        from lake.session import connect

        settings = load_settings()
        endpoints = LocalStack(settings.local).running() if settings.target == "local" else None
        if settings.target == "local" and endpoints is None:
            raise RuntimeError("the local servers are not running: start them with `lake up`")
        return connect(settings, endpoints)
    from snowflake.snowpark.context import get_active_session

    return get_active_session()


def query(sql: str) -> pd.DataFrame:
    """One query's rows, with lower-case column names."""
    conn = _connection(f"{os.environ.get('LAKE_DATABASE', '')}@{os.environ.get('LAKE_STATE_DIR', '')}")
    if hasattr(conn, "cursor"):
        cur = conn.cursor()
        cur.execute(sql)
        names = [d[0].lower() for d in cur.description or []]
        return pd.DataFrame(cur.fetchall(), columns=names)
    frame = conn.sql(sql).to_pandas()
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


def _table(schema: str, name: str) -> str:
    return f"{SCHEMAS[schema]}.{name}"


def pipeline_page() -> None:
    st.header("Pipeline runs")
    runs = query(
        f"SELECT graph_run_id, started_at, finished_at, status, failed_task, error, batches, published, notified "
        f"FROM {_table('audit', 'PIPELINE_RUNS')} ORDER BY finished_at DESC LIMIT 50"
    )
    procedures = query(
        f"SELECT procedure_name, status, started_at, finished_at, rows_written, error, "
        f"DATEDIFF('millisecond', started_at, finished_at) / 1000.0 AS seconds "
        f"FROM {_table('audit', 'PROCEDURE_RUNS')} ORDER BY started_at DESC LIMIT 200"
    )
    # SUCCEEDED, FAILED (a task failed) or INTERRUPTED (a task was cancelled): told apart
    counts = runs["status"].value_counts() if len(runs) else {}
    left, middle, right, calls, last = st.columns(5)
    left.metric("Graph runs", len(runs))
    middle.metric("Failed graph runs", int(counts.get("FAILED", 0)))
    right.metric("Interrupted graph runs", int(counts.get("INTERRUPTED", 0)))
    calls.metric("Procedure calls", len(procedures))
    published = runs[runs["published"] == True] if len(runs) else runs  # noqa: E712 (a pandas mask)
    last.metric("Gold published", str(published["finished_at"].iloc[0])[:16] if len(published) else "never")
    if len(procedures):
        st.subheader("Seconds per procedure call")
        st.bar_chart(procedures.groupby("procedure_name")["seconds"].mean())
    st.subheader("Task graph runs")
    st.dataframe(runs, hide_index=True)
    st.subheader("Procedure audit (AUDIT.PROCEDURE_RUNS)")
    st.dataframe(procedures, hide_index=True)


def vault_page() -> None:
    st.header("Raw vault")
    tables = query(
        "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES "
        f"WHERE UPPER(TABLE_SCHEMA) = '{SCHEMAS['vault']}' AND TABLE_TYPE = 'BASE TABLE' "
        "AND REGEXP_LIKE(TABLE_NAME, '(HUB|LINK|SAT)_[A-Z_]+') "
        "ORDER BY TABLE_NAME"
    )["table_name"].tolist()
    if not tables:
        st.info("The vault is empty: run `lake run` (or CALL LOAD_VAULT) first.")
        return
    counts = query(
        " UNION ALL ".join(
            f"SELECT '{t}' AS table_name, CAST(LOAD_TS AS DATE) AS load_date, COUNT(*) AS row_count "
            f"FROM {_table('vault', t)} WHERE RECORD_SOURCE <> 'SYSTEM.ghost' GROUP BY 2"
            for t in tables
        )
    )
    counts["kind"] = counts["table_name"].str.split("_").str[0]
    totals = counts.groupby("table_name")["row_count"].sum().sort_values(ascending=False)
    st.metric("Rows in the vault", f"{int(totals.sum()):,}")
    st.subheader("Rows per table")
    st.bar_chart(totals)
    st.subheader("Rows loaded per day, by kind")
    st.line_chart(counts.pivot_table(index="load_date", columns="kind", values="row_count", aggfunc="sum"))


def quality_page() -> None:
    st.header("Data quality")
    results = query(
        "SELECT rule_name, layer, table_name, column_name, rule_type, severity, owner, rows_checked, "
        f"rows_failed, verdict, sample_keys, checked_at, run_id FROM {_table('quality', 'RULE_RESULTS')} "
        f"WHERE run_id = (SELECT MAX_BY(run_id, checked_at) FROM {_table('quality', 'RULE_RESULTS')}) "
        "ORDER BY verdict, layer, rule_name"
    )
    if results.empty:
        st.info("No VALIDATE_DATA run yet: run `lake quality` (or CALL VALIDATE_DATA('all', '')).")
        return
    verdicts = results["verdict"].value_counts()
    cols = st.columns(4)
    cols[0].metric("Rules run", len(results))
    for col, verdict in zip(cols[1:], ("PASS", "WARN", "FAIL"), strict=True):
        col.metric(verdict.title(), int(verdicts.get(verdict, 0)))
    st.subheader("Verdicts per layer")
    st.bar_chart(results.pivot_table(index="layer", columns="verdict", values="rule_name", aggfunc="count"))
    st.subheader("Rules of the latest run")
    st.dataframe(results.drop(columns=["run_id"]), hide_index=True)
    st.subheader("Control totals: landing to gold")
    st.caption(
        "Rows and amounts per batch and currency, landing to vault to silver to gold, and each "
        "standardised value's count in silver against landing: the latest verdict of every control rule."
    )
    controls = query(
        "SELECT rule_name, layer, table_name, verdict, rows_checked AS groups, rows_failed AS groups_differing, "
        f"detail, checked_at FROM {_table('quality', 'RULE_RESULTS')} WHERE rule_type = 'control_total' "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY rule_name ORDER BY checked_at DESC) = 1 ORDER BY verdict, rule_name"
    )
    if controls.empty:
        st.info("No control total has run yet.")
    else:
        balanced = int((controls["verdict"] == "PASS").sum())
        st.metric("Control totals that balance", f"{balanced} of {len(controls)}")
        st.dataframe(controls, hide_index=True)
    failing = results.loc[results["verdict"] != "PASS", "rule_name"].tolist()
    if failing:
        rule = st.selectbox("Failing keys of rule", failing)
        keys = query(
            "SELECT failing_key, failing_value, file_name, file_row_number "
            f"FROM {_table('quality', 'RULE_EXCEPTIONS')} WHERE run_id = '{results['run_id'].iloc[0]}' "
            f"AND rule_name = '{rule}' ORDER BY failing_key LIMIT 500"
        )
        st.dataframe(keys, hide_index=True)


def gold_page() -> None:
    st.header("Gold KPIs")
    try:
        query(f"SELECT 1 FROM {_table('gold', 'gold_order_metrics')} LIMIT 1")
    except Exception as err:  # the connector's or Snowpark's "does not exist", whatever its class
        st.info(
            f"The gold marts are not in schema {SCHEMAS['gold']} yet: build them with dbt (`lake dbt build`). {err}"
        )
        return
    st.subheader("Customer 360: highly engaged, low churn risk")
    st.dataframe(
        query(
            f"SELECT * FROM {_table('gold', 'gold_cross_domain_analytics')} "
            "WHERE engagement_level = 'HIGHLY_ENGAGED' AND churn_risk = 'LOW_RISK' LIMIT 500"
        ),
        hide_index=True,
    )
    st.subheader("Dormant accounts holding more than 10,000 in the reporting currency")
    st.dataframe(
        query(
            f"SELECT * FROM {_table('gold', 'gold_transaction_summary')} "
            "WHERE is_dormant = TRUE AND current_balance_reporting > 10000 "
            "ORDER BY current_balance_reporting DESC LIMIT 500"
        ),
        hide_index=True,
    )
    st.subheader("Order performance by month")
    orders = query(
        "SELECT order_year, order_month, fulfillment_rate_pct, cancellation_rate_pct "
        f"FROM {_table('gold', 'gold_order_metrics')} ORDER BY order_year, order_month"
    )
    if not orders.empty:
        orders["month"] = orders["order_year"].astype(str) + "-" + orders["order_month"].astype(str).str.zfill(2)
        st.line_chart(orders.set_index("month")[["fulfillment_rate_pct", "cancellation_rate_pct"]])
    st.dataframe(orders, hide_index=True)


def governance_page() -> None:
    st.header("Governance")
    from procedures import governance, spec

    rows = [
        {"table": f"LANDING.{e.name.upper()}", "column": c.name.upper(), "pii_class": c.pii}
        for e in spec.ENTITIES
        for c in e.columns
        if c.pii
    ]
    coverage = pd.DataFrame(rows)
    treatments = {role: dict(by_class) for role, by_class in governance.MASKING}
    for role, by_class in treatments.items():
        coverage[role.lower()] = coverage["pii_class"].map(lambda pii, t=by_class: str(t.get(pii, "full")))
    st.metric("PII columns tagged and masked", len(coverage))
    st.subheader("Columns per PII class")
    st.bar_chart(coverage["pii_class"].value_counts())
    st.subheader("What each role sees")
    st.dataframe(coverage, hide_index=True)
    st.subheader("Region entitlements (row access)")
    st.dataframe(pd.DataFrame(governance.ENTITLEMENTS, columns=["role", "region"]), hide_index=True)


RENDER: dict[str, Callable[[], None]] = dict(
    zip(PAGES, (pipeline_page, vault_page, quality_page, gold_page, governance_page), strict=True)
)


def main() -> None:
    st.set_page_config(page_title="Institutional client data lake", layout="wide")
    st.title("Institutional client data lake")
    page = st.sidebar.radio("Page", PAGES)
    RENDER[page]()


main()
