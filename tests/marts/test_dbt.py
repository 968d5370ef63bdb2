"""The dbt marts: every model builds and every dbt test passes on the local warehouse,
the next batch takes the incremental path, the brief's example queries answer, lineage
runs from the vault to gold, and the project lints clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lake import dbt, pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import spec
from tests.conftest import land_files

PROJECT = dbt.PROJECT_DIR


@pytest.mark.unit
def test_value_sets_in_the_dbt_project_are_the_specs() -> None:
    project_vars = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]
    seeded = {table.codes for table in spec.REFERENCE_TABLES}  # reference seeds, not vars
    for column in (c for e in spec.ENTITIES for c in e.columns if c.values and c.values not in seeded):
        named = [k for k, v in project_vars.items() if isinstance(v, list) and v == list(column.values or ())]
        assert named, f"{column.name}: value set {column.values} is not a var in dbt/dbt_project.yml"


@pytest.mark.unit
def test_value_tiers_in_the_dbt_project_are_the_specs() -> None:
    """dbt's gold model and the gold quality rule tier clients by the same thresholds."""
    tiers = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]["value_tiers"]
    assert [(t["name"], t["min"]) for t in tiers] == list(spec.VALUE_TIERS)


def compiled_model(settings: Settings, layer: str, model: str) -> str:
    """The SQL dbt last ran for a model (its materialisation: incremental or full)."""
    return (dbt.state_dir(settings) / "target" / "run" / "lake" / "models" / layer / f"{model}.sql").read_text()


def run_results(settings: Settings) -> dict[str, Any]:
    return json.loads((dbt.state_dir(settings) / "target" / "run_results.json").read_text())


@pytest.mark.integration
def test_every_model_builds_and_every_test_passes(built: dict[str, Any]) -> None:
    statuses = {status for kinds in built["counts"].values() for status in kinds}
    assert statuses <= {"success", "pass", "warn"}, built["problems"]
    assert built["counts"]["model"] == {"success": 24}  # silver_exchange_rates among them
    assert "unit_test" not in built["counts"]  # CI runs them, below; scheduled builds do not
    assert built["counts"]["test"].get("pass", 0) >= 100
    # only the documented gap warns: rows referring to a key whose own row was quarantined
    assert all(p["node"].startswith("test.lake.relationships_") and p["status"] == "warn" for p in built["problems"])
    assert all(n > 0 for n in built["marts"].values()), built["marts"]


@pytest.mark.integration
def test_the_dbt_unit_tests_pass(built: dict[str, Any], settings: Settings, applied: Endpoints) -> None:
    dbt.run(settings, applied, ["test", "--select", "test_type:unit"])
    # and the governance hook re-attaches the vault's data metric functions after it
    assert dbt.results(settings)["counts"] == {"unit_test": {"pass": 4}, "hook": {"success": 1}}


@pytest.mark.integration
def test_the_briefs_example_queries_answer(built: dict[str, Any], conn: Any) -> None:
    cur = conn.cursor()
    cur.execute(
        "SELECT customer_id, value_tier, interaction_count FROM GOLD.gold_cross_domain_analytics "
        "WHERE engagement_level = 'HIGHLY_ENGAGED' AND churn_risk = 'LOW_RISK'"
    )
    customer_360 = cur.fetchall()
    assert customer_360 and all(n >= 3 for _, _, n in customer_360)
    cur.execute(
        "SELECT account_id, current_balance FROM GOLD.gold_transaction_summary "
        "WHERE is_dormant = TRUE AND current_balance > 10000"
    )
    dormant = cur.fetchall()
    assert dormant and all(balance > 10000 for _, balance in dormant)
    cur.execute(
        "SELECT order_year, order_month, fulfillment_rate_pct, cancellation_rate_pct FROM GOLD.gold_order_metrics "
        "ORDER BY order_year DESC, order_month DESC"
    )
    months = cur.fetchall()
    assert len(months) >= 2 and all(0 <= f <= 100 and 0 <= c <= 100 for _, _, f, c in months)
    assert months == sorted(months, reverse=True)


@pytest.mark.integration
def test_lineage_runs_from_the_vault_to_every_gold_model(built: dict[str, Any], settings: Settings) -> None:
    manifest = json.loads((dbt.state_dir(settings) / "target" / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest["sources"]}

    def sources_of(unique_id: str) -> set[str]:
        if unique_id.startswith("source."):
            return {unique_id}
        # a seed (reference data) depends on nothing
        return set().union(*(sources_of(d) for d in nodes[unique_id]["depends_on"].get("nodes", [])))

    def ancestors(unique_id: str) -> set[str]:
        parents = set(nodes[unique_id].get("depends_on", {}).get("nodes", []))
        return parents.union(*(ancestors(p) for p in parents))

    gold = [n for n in manifest["nodes"] if n.startswith("model.lake.gold_")]
    assert len(gold) == 5
    for model in gold:
        assert sources_of(model), model
        assert all(s.startswith("source.lake.vault.") for s in sources_of(model))
    # the customer marts walk the point-in-time table and the bridge over the effectivity satellite
    for model in ("model.lake.gold_customer_summary", "model.lake.gold_cross_domain_analytics"):
        assert {"model.lake.pit_customer", "model.lake.bridge_customer_account_transaction"} <= ancestors(model)
        assert "source.lake.vault.EFF_SAT_CUSTOMER_ACCOUNT" in sources_of(model)
    assert "source.lake.vault.STS_PRODUCT_CURRENT" in sources_of("model.lake.gold_order_metrics")
    for model in manifest["nodes"].values():
        if model["resource_type"] == "model":
            assert model["description"], model["name"]
            undocumented = [c for c, v in model["columns"].items() if not v["description"]]
            assert not undocumented, (model["name"], undocumented)


@pytest.mark.integration
def test_the_next_batch_takes_the_incremental_path(
    built: dict[str, Any], settings: Settings, applied: Endpoints, conn: Any
) -> None:
    import pyarrow as pa

    cur = conn.cursor()
    cur.execute("SELECT account_id FROM SILVER.silver_transactions ORDER BY account_id LIMIT 1")
    (account,) = cur.fetchone()
    cur.execute(f"SELECT transaction_count FROM GOLD.gold_transaction_summary WHERE account_id = '{account}'")
    (before,) = cur.fetchone()
    columns = spec.entity("transactions").column_names
    rows = [
        ("TNEXT000001", account, "DEPOSIT", "CREDIT", "125.50", "USD", "BOOKED", "2026-01-09 10:00:00"),
        ("TNEXT000002", account, "FEE", "DEBIT", "5.25", "USD", "BOOKED", "2026-01-09 11:00:00"),
    ]
    table = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
    batch = land_files(applied, "transactions", "2026-01-09", {"part-0000.parquet": table})
    pipeline.ingest(settings, applied, batch_id=batch)
    pipeline.load(settings, applied, batch_id=batch)

    cur.execute(
        "SELECT CAST(snapshot_date AS VARCHAR), MAX(dbt_loaded_at), COUNT(*) FROM VAULT.pit_customer GROUP BY 1"
    )
    snapshots = {d: (str(at), n) for d, at, n in cur.fetchall()}

    again = pipeline.dbt_build(settings, applied).detail
    assert {s for kinds in again["counts"].values() for s in kinds} <= {"success", "pass", "warn"}
    compiled = compiled_model(settings, "silver", "silver_transactions")
    assert "delete from" in compiled.lower(), "silver_transactions did not take the incremental path"
    bronze = compiled_model(settings, "bronze", "bronze_transactions")
    assert "delete from" in bronze.lower(), "bronze_transactions did not take the incremental path"
    cur.execute(f"SELECT transaction_count FROM GOLD.gold_transaction_summary WHERE account_id = '{account}'")
    assert cur.fetchone()[0] == before + 2
    # the point-in-time table took the incremental path and holds every retained snapshot,
    # the new date's included; a run with nothing new rewrites none of them
    assert "delete from" in compiled_model(settings, "business_vault", "pit_customer").lower()
    pit = "SELECT CAST(snapshot_date AS VARCHAR), MAX(dbt_loaded_at), COUNT(*) FROM VAULT.pit_customer GROUP BY 1"
    cur.execute(pit)
    after = {d: (str(at), n) for d, at, n in cur.fetchall()}
    cur.execute("SELECT CAST(snapshot_date AS VARCHAR) FROM VAULT.as_of_dates WHERE is_retained")
    assert set(after) == {r[0] for r in cur.fetchall()} and after != snapshots
    dbt.run(settings, applied, ["build", "--select", "pit_customer"])
    cur.execute(pit)
    assert {d: (str(at), n) for d, at, n in cur.fetchall()} == after
    cur.execute("SELECT signed_amount FROM SILVER.silver_transactions WHERE transaction_id LIKE 'TNEXT%' ORDER BY 1")
    assert [float(r[0]) for r in cur.fetchall()] == [-5.25, 125.5]


def failed_tests(settings: Settings) -> dict[str, int]:
    """The last dbt invocation's failed tests (name without its hash) and their failures."""
    return {p["node"].split(".")[2]: p["failures"] for p in dbt.results(settings)["problems"] if p["status"] == "fail"}


@pytest.mark.integration
def test_dbt_test_on_its_own_reads_an_incremental_models_latest_rows(
    built: dict[str, Any], settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """`dbt test` alone checks the rows of each incremental model's latest run
    (macros/test_scope.sql): an earlier run's duplicate is out of scope, a bad row of the
    latest run is caught."""
    cur = conn.cursor()
    table = "SILVER.silver_transactions"
    unique, not_null = "unique_silver_transactions_transaction_hk", "not_null_silver_transactions_amount"
    try:
        cur.execute(
            f"INSERT INTO {table} (transaction_hk, transaction_id, amount, dbt_loaded_at) SELECT transaction_hk,"
            f" transaction_id, amount, CAST('2000-01-01' AS TIMESTAMP_NTZ) FROM {table} LIMIT 1"
        )
        cur.execute(
            f"INSERT INTO {table} (transaction_hk, transaction_id, dbt_loaded_at)"
            f" SELECT 'scope-test', 'scope-test', MAX(dbt_loaded_at) FROM {table}"
        )
        with pytest.raises(dbt.DbtError):
            dbt.run(settings, applied, ["test", "--select", unique, not_null])
        assert failed_tests(settings) == {not_null: 1}
    finally:
        cur.execute(f"DELETE FROM {table} WHERE dbt_loaded_at < '2001-01-01' OR transaction_hk = 'scope-test'")


@pytest.mark.integration
def test_a_build_tests_the_rows_it_wrote_and_after_a_failure_every_row(
    built: dict[str, Any], settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """A build tests the rows it wrote to an incremental model, so an earlier duplicate goes
    unseen while a duplicate the build derives fails it; the next build then tests every
    row, and keeps doing so until one passes (lake.dbt.test_scope)."""
    cur = conn.cursor()
    unique = "unique_bronze_transactions_transaction_hk"
    only = ("--select", "bronze_transactions")
    cur.execute("SELECT transaction_hk FROM VAULT.SAT_TRANSACTION WHERE batch_id <> 'SYSTEM' ORDER BY 1 LIMIT 2")
    earlier, changed = (r[0] for r in cur.fetchall())
    columns = "transaction_hk, transaction_type, direction, amount, currency, status, transaction_at, record_source"
    try:
        # a duplicate an earlier run left in bronze ...
        cur.execute(
            f"INSERT INTO BRONZE.bronze_transactions ({columns}, transaction_id, dbt_loaded_at) SELECT {columns},"
            f" transaction_id, CAST('2000-01-01' AS TIMESTAMP_NTZ) FROM BRONZE.bronze_transactions"
            f" WHERE transaction_hk = '{earlier}'"
        )
        # ... and a vault that gives one changed transaction two business keys
        cur.execute(
            f"INSERT INTO VAULT.SAT_TRANSACTION (hashdiff, load_ts, batch_id, {columns}) SELECT hashdiff,"
            f" SYSDATE(), 'SCOPE-TEST', {columns} FROM VAULT.SAT_TRANSACTION"
            f" WHERE transaction_hk = '{changed}' LIMIT 1"
        )
        cur.execute(
            "INSERT INTO VAULT.HUB_TRANSACTION (transaction_hk, transaction_id, load_ts, record_source, batch_id)"
            f" SELECT '{changed}', 'SCOPE-TEST', SYSDATE(), 'test', 'SCOPE-TEST'"
        )
        with pytest.raises(dbt.DbtError):
            pipeline.dbt_build(settings, applied, only)
        assert failed_tests(settings) == {unique: 1}  # the derived duplicate only
        assert unique in {n.split(".")[2] for n in dbt.failed_tests_file(settings).read_text().split()}

        for vault_table in ("SAT_TRANSACTION", "HUB_TRANSACTION"):
            cur.execute(f"DELETE FROM VAULT.{vault_table} WHERE batch_id = 'SCOPE-TEST'")
        with pytest.raises(dbt.DbtError):  # nothing new, but every row is tested now
            pipeline.dbt_build(settings, applied, only)
        assert failed_tests(settings)[unique] == 2  # and the earlier one
    finally:
        for vault_table in ("SAT_TRANSACTION", "HUB_TRANSACTION"):
            cur.execute(f"DELETE FROM VAULT.{vault_table} WHERE batch_id = 'SCOPE-TEST'")
        cur.execute(
            "DELETE FROM BRONZE.bronze_transactions WHERE dbt_loaded_at < '2001-01-01' OR transaction_id = 'SCOPE-TEST'"
        )
    pipeline.dbt_build(settings, applied, only)
    assert not dbt.failed_tests_file(settings).exists()


@pytest.mark.integration
def test_an_incremental_build_moves_ages_on_after_a_birthday(
    built: dict[str, Any], settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """silver_customers is incremental, yet every age is as of the latest build: a client
    whose stored age is a year behind (a birthday since the last run) is derived again."""
    cur = conn.cursor()
    cur.execute("SELECT customer_id, age FROM SILVER.silver_customers WHERE age IS NOT NULL ORDER BY 1 LIMIT 1")
    customer, age = cur.fetchone()
    cur.execute(f"UPDATE SILVER.silver_customers SET age = age - 1 WHERE customer_id = '{customer}'")
    pipeline.dbt_build(settings, applied, ("--select", "silver_customers"))
    compiled = compiled_model(settings, "silver", "silver_customers")
    assert "delete from" in compiled.lower(), "silver_customers did not take the incremental path"
    cur.execute(f"SELECT age FROM SILVER.silver_customers WHERE customer_id = '{customer}'")
    assert cur.fetchone()[0] == age


@pytest.mark.integration
def test_docs_generate_and_sqlfluff(built: dict[str, Any], settings: Settings, applied: Endpoints) -> None:
    dbt.run(settings, applied, ["docs", "generate"])
    catalog = json.loads((dbt.state_dir(settings) / "target" / "catalog.json").read_text())
    # the local engine's information_schema.tables leaves views out, so the catalog lists
    # the table models (silver, gold); on Snowflake it lists the bronze views too
    tables = {m for layer in ("silver", "gold") for m in pipeline.marts()[layer]}
    assert {n.split(".")[-1] for n in catalog["nodes"]} >= tables
    assert (dbt.state_dir(settings) / "target" / "index.html").exists()
    linted = dbt.lint(settings, applied)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.unit
def test_shipped_dbt_files_hold_no_hand_edited_profile_secret() -> None:
    profile = yaml.safe_load((PROJECT / "profiles.yml").read_text())
    snowflake = profile["lake"]["outputs"]["snowflake"]
    assert all("env_var(" in str(v) for k, v in snowflake.items() if k in ("account", "user", "password"))
    assert not list(Path(PROJECT).glob("**/target/manifest.json")), "dbt's target/ belongs under the state folder"
