"""LOAD_VAULT: hubs, links and satellites from the staged batches; idempotent; changes
historised; every landed row loaded or quarantined."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import spec, staging, vault
from procedures.audit import ArgumentError
from procedures.handlers.load_vault import run as load_vault_run
from tests.conftest import SMALL_BATCHES, land_files

pytestmark = pytest.mark.integration
BATCHES = ", ".join(f"'{b}'" for b in SMALL_BATCHES)


def one(conn: Any, sql: str) -> Any:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchone()[0]


def test_every_table_is_populated_without_duplicate_keys(loaded: dict[str, Any], conn: Any) -> None:
    for hub in vault.HUBS:
        total, distinct = (
            conn.cursor().execute(f"SELECT COUNT(*), COUNT(DISTINCT {hub.hash_key}) FROM VAULT.{hub.name}").fetchone()
        )
        assert total > 1 and total == distinct, hub.name
    for link in vault.LINKS:
        total, distinct = (
            conn.cursor().execute(f"SELECT COUNT(*), COUNT(DISTINCT {link.hash_key}) FROM VAULT.{link.name}").fetchone()
        )
        assert total > 0 and total == distinct, link.name
    for sat in vault.SATELLITES:
        total, distinct = (
            conn.cursor()
            .execute(f"SELECT COUNT(*), COUNT(DISTINCT {sat.hub.hash_key} || load_ts) FROM VAULT.{sat.name}")
            .fetchone()
        )
        assert total > 0 and total == distinct, sat.name


def test_generated_equals_loaded_plus_quarantined(generated: dict[str, Any], loaded: dict[str, Any], conn: Any) -> None:
    for ent in spec.ENTITIES:
        clean = one(
            conn,
            f"SELECT COUNT(*) FROM LANDING.{staging.view_name(ent)} "
            f"WHERE batch_id IN ({BATCHES}) AND quarantine_reason IS NULL",
        )
        quarantined = one(
            conn, f"SELECT COUNT(*) FROM VAULT.QUARANTINE WHERE entity = '{ent.name}' AND batch_id IN ({BATCHES})"
        )
        assert clean + quarantined == generated["rows"][ent.name], ent.name
        # every clean row's key reached its hub (a contact's: its client's)
        hub = vault.hub_of(ent)
        missing = one(
            conn,
            f"SELECT COUNT(*) FROM LANDING.{staging.view_name(ent)} s WHERE batch_id IN ({BATCHES}) "
            f"AND quarantine_reason IS NULL AND NOT EXISTS (SELECT 1 FROM VAULT.{hub.name} h "
            f"WHERE h.{hub.hash_key} = s.{hub.hash_key})",
        )
        assert missing == 0, ent.name


def test_a_customer_changed_on_day_two_has_history(loaded: dict[str, Any], conn: Any) -> None:
    cur = conn.cursor()
    cur.execute(
        "SELECT s.customer_hk, COUNT(*), COUNT(DISTINCT s.hashdiff), MAX(s.batch_id) FROM VAULT.SAT_CUSTOMER s "
        "WHERE s.customer_hk IN (SELECT customer_hk FROM VAULT.SAT_CUSTOMER WHERE batch_id = 'B20260106') "
        "GROUP BY 1 HAVING MIN(s.batch_id) = 'B20260105'"
    )
    changed = cur.fetchall()
    assert len(changed) > 10
    assert all(n == distinct and n >= 2 for _, n, distinct, _ in changed)


def test_rerunning_a_batch_inserts_nothing(settings: Settings, loaded: dict[str, Any], applied: Endpoints) -> None:
    again = pipeline.load(settings, applied, batch_id="B20260106").detail
    assert {t: n for t, n in again["inserted"].items() if n} == {}


def test_null_references_link_to_the_ghost_row(loaded: dict[str, Any], conn: Any) -> None:
    ghost = one(conn, f"SELECT customer_id FROM VAULT.HUB_CUSTOMER WHERE customer_hk = '{vault.ZERO_KEY}'")
    assert ghost == vault.GHOST_BUSINESS_KEY
    assert one(conn, f"SELECT COUNT(*) FROM VAULT.LINK_CUSTOMER_ACCOUNT WHERE customer_hk = '{vault.ZERO_KEY}'") > 0


def test_every_load_is_audited(loaded: dict[str, Any], conn: Any) -> None:
    cur = conn.cursor()
    for batch, detail in loaded.items():
        # the run that loaded the batch into VAULT wrote one row per table, with what it inserted
        first_run = one(conn, f"SELECT run_id FROM VAULT.LOADED_BATCHES WHERE batch_id = '{batch}'")
        cur.execute(
            "SELECT table_name, rows_inserted, status FROM AUDIT.VAULT_LOAD_RUNS "
            f"WHERE batch_id = '{batch}' AND run_id = '{first_run}'"
        )
        rows = cur.fetchall()
        assert {r[0] for r in rows} >= {t.name for t in vault.SATELLITES} and {r[2] for r in rows} == {"SUCCEEDED"}
        inserted = {r[0]: r[1] for r in rows}
        in_vault = one(conn, f"SELECT COUNT(*) FROM VAULT.SAT_CUSTOMER WHERE batch_id = '{batch}'")
        assert in_vault == inserted["sat_customer"], batch
        # the batch's quarantined rows are filed under the quarantine, not under a hub
        quarantined = one(
            conn,
            "SELECT COALESCE(SUM(rows_quarantined), 0) FROM AUDIT.VAULT_LOAD_RUNS "
            f"WHERE batch_id = '{batch}' AND run_id = '{first_run}' AND table_name <> 'quarantine'",
        )
        assert quarantined == 0, batch
        assert inserted["quarantine"] == one(
            conn,
            f"SELECT COUNT(*) FROM VAULT.QUARANTINE WHERE batch_id = '{batch}' AND load_ts = "
            f"(SELECT load_ts FROM VAULT.LOADED_BATCHES WHERE batch_id = '{batch}')",
        ), batch
        # a later run of a loaded batch is audited as such
        cur.execute(f"SELECT DISTINCT status FROM AUDIT.VAULT_LOAD_RUNS WHERE run_id = '{detail['run_id']}'")
        assert {r[0] for r in cur.fetchall()} <= {"SUCCEEDED", "ALREADY_LOADED"}


def test_batch_id_shaped_like_sql_is_refused(session: Any) -> None:
    with pytest.raises(ArgumentError, match="batch_id must look like B20260105"):
        load_vault_run(session, batch_id="B1'; DROP TABLE VAULT.HUB_CUSTOMER; --")


def test_current_views_give_each_row_its_validity(loaded: dict[str, Any], conn: Any) -> None:
    """(The point-in-time tables are dbt's: tests/marts/test_business_vault.py.)"""
    cur = conn.cursor()
    cur.execute(
        "SELECT customer_hk FROM VAULT.SAT_CUSTOMER GROUP BY 1 "
        "HAVING MIN(batch_id) = 'B20260105' AND MAX(batch_id) = 'B20260106' AND COUNT(*) = 2 LIMIT 1"
    )
    (hk,) = cur.fetchone()
    cur.execute(
        "SELECT batch_id, load_ts, valid_from, valid_to, is_current FROM VAULT.SAT_CUSTOMER_CURRENT "
        f"WHERE customer_hk = '{hk}' ORDER BY load_ts"
    )
    first, second = cur.fetchall()
    assert (first[4], second[4]) == (False, True)
    assert first[3] == second[2] and second[3] == datetime(9999, 12, 31)
    # one current row per customer
    assert one(conn, "SELECT COUNT(*) FROM VAULT.SAT_CUSTOMER_CURRENT WHERE is_current") == one(
        conn, "SELECT COUNT(DISTINCT customer_hk) FROM VAULT.SAT_CUSTOMER"
    )


def test_out_of_order_changes_never_become_current(loaded: dict[str, Any], conn: Any, applied: Endpoints) -> None:
    """Day 3 re-sends some of day 2's changes with older business timestamps: they are
    superseded (counted), and every key's current row is its latest business change."""
    superseded = one(
        conn,
        "SELECT SUM(rows_superseded) FROM AUDIT.VAULT_LOAD_RUNS WHERE batch_id = 'B20260107' AND status = 'SUCCEEDED'",
    )
    assert superseded > 0
    for sat in vault.SATELLITES:
        event = sat.entity.event_column
        older = one(
            conn,
            f"SELECT COUNT(*) FROM VAULT.{sat.name}_CURRENT c WHERE c.is_current AND EXISTS ("
            f"SELECT 1 FROM VAULT.{sat.name} s WHERE s.{sat.hub.hash_key} = c.{sat.hub.hash_key} "
            f"AND s.{event} > c.{event})",
        )
        assert older == 0, sat.name


def test_values_shaped_like_sql_travel_as_data(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """A producer's text is data all the way: landing, staging, hub and satellite."""
    import pyarrow as pa

    ent = spec.entity("customers")
    hostile = {c: f'x\'; DROP TABLE VAULT.HUB_CUSTOMER; -- {c} "quoted" $$ \\ ' for c in ent.column_names}
    hostile.update(
        customer_id="C'||'1; DELETE FROM VAULT.SAT_CUSTOMER --",
        date_of_birth="1980-01-01",
        onboarded_at="2020-01-01",
        updated_at="2031-01-01 09:00:00",
    )
    land_files(applied, "customers", "2031-01-01", {"part-0000.csv": pa.table({c: [v] for c, v in hostile.items()})})
    hubs_before = one(conn, "SELECT COUNT(*) FROM VAULT.HUB_CUSTOMER")
    assert pipeline.ingest(settings, applied, batch_id="B20310101").detail["total_rows"] == 1
    pipeline.load(settings, applied, batch_id="B20310101")
    cur = conn.cursor()
    cur.execute(
        "SELECT h.customer_id, s.legal_name, p.email FROM VAULT.HUB_CUSTOMER h JOIN VAULT.SAT_CUSTOMER s "
        "ON s.customer_hk = h.customer_hk JOIN VAULT.SAT_CUSTOMER_PII p ON p.customer_hk = h.customer_hk "
        "WHERE s.batch_id = 'B20310101' AND p.batch_id = 'B20310101'"
    )
    assert cur.fetchall() == [(hostile["customer_id"], hostile["legal_name"].strip(), hostile["email"].strip())]
    assert one(conn, "SELECT COUNT(*) FROM VAULT.HUB_CUSTOMER") == hubs_before + 1


def test_schema_drift_extra_columns_load_missing_columns_quarantine(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """Columns are matched by name: an extra column is recorded and ignored, a reordered
    CSV loads by header, a file lacking a spec column lands but every row is quarantined
    with the column named."""
    import pyarrow as pa

    ent = spec.entity("customers")
    extra = landed_table(conn, "customers", "B20260105", "CXTRA", 3).append_column(
        "desk_note", pa.array(["internal"] * 3)
    )
    reordered = landed_table(conn, "customers", "B20260105", "CREORD", 3).select(list(reversed(ent.column_names)))
    lacking = landed_table(conn, "customers", "B20260105", "CLACK", 3).drop_columns(["email"])
    batch = land_files(
        applied,
        "customers",
        "2032-01-01",
        {"part-0000.parquet": extra, "part-0001.csv": reordered, "part-0002.jsonl": lacking},
    )
    ingested = pipeline.ingest(settings, applied, batch_id=batch).detail
    assert ingested["total_rows"] == 9 and ingested["reconciliation_issues"] == 0
    cur = conn.cursor()
    assert sorted(
        (d["file"].rsplit("/", 1)[1], d["extra_columns"], d["missing_columns"]) for d in ingested["schema_drift"]
    ) == [
        ("part-0000.parquet", ["desk_note"], []),
        ("part-0002.jsonl", [], ["email"]),
    ]
    cur.execute(
        f"SELECT file_name, column_name, change FROM LANDING.SCHEMA_DRIFT WHERE batch_id = '{batch}' ORDER BY 1"
    )
    assert [(f.rsplit("/", 1)[1], c, k) for f, c, k in cur.fetchall()] == [
        ("part-0000.parquet", "desk_note", "extra_column"),
        ("part-0002.jsonl", "email", "missing_column"),
    ]

    detail = pipeline.load(settings, applied, batch_id=batch).detail
    assert detail["inserted"]["quarantined"] == 3
    cur.execute(f"SELECT business_key, reason FROM VAULT.QUARANTINE WHERE batch_id = '{batch}' ORDER BY 1")
    assert cur.fetchall() == [(f"CLACK{i:03d}", "file lacks required column(s): email") for i in range(3)]
    cur.execute(
        "SELECT h.customer_id, s.legal_name, p.email, s.domicile_country FROM VAULT.HUB_CUSTOMER h "
        "JOIN VAULT.SAT_CUSTOMER s ON s.customer_hk = h.customer_hk "
        "JOIN VAULT.SAT_CUSTOMER_PII p ON p.customer_hk = h.customer_hk AND p.batch_id = s.batch_id "
        f"WHERE s.batch_id = '{batch}' ORDER BY 1"
    )
    loaded_rows = cur.fetchall()
    expected = sorted(
        (r["customer_id"], r["legal_name"], r["email"], r["domicile_country"])
        for table in (extra, reordered)
        for r in table.to_pylist()
    )
    assert loaded_rows == expected


def landed_table(conn: Any, entity: str, batch: str, prefix: str, n: int) -> Any:
    """``n`` clean landed rows of ``entity`` from ``batch`` as text, with new business keys."""
    import pyarrow as pa

    ent = spec.entity(entity)
    cur = conn.cursor()
    cur.execute(
        f"SELECT {', '.join(ent.column_names)} FROM LANDING.{ent.name} l WHERE batch_id = '{batch}' AND EXISTS ("
        f"SELECT 1 FROM LANDING.{staging.view_name(ent)} s WHERE s.file_name = l.file_name "
        f"AND s.file_row_number = l.file_row_number AND s.quarantine_reason IS NULL) ORDER BY {ent.key} LIMIT {n}"
    )
    rows = [dict(zip(ent.column_names, r, strict=True)) for r in cur.fetchall()]
    for i, r in enumerate(rows):
        r[ent.key] = f"{prefix}{i:03d}"
    return pa.table({c: [r[c] for r in rows] for c in ent.column_names})


def test_a_batch_completed_by_a_later_delivery_loads_only_the_new_rows(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """Producers deliver one load date at different times: the batch is loaded with what
    has landed, and loaded again when the rest lands; the second load runs in full (it is
    not skipped as already loaded) and inserts only the late producer's rows."""
    customers = landed_table(conn, "customers", "B20260105", "CPART", 4)
    batch = land_files(applied, "customers", "2033-01-01", {"part-0000.parquet": customers})
    pipeline.ingest(settings, applied, batch_id=batch)
    first = pipeline.load(settings, applied, batch_id=batch).detail
    assert first["inserted"]["hub_customer"] == 4 and first["already_loaded"] == []

    import pyarrow as pa

    accounts = landed_table(conn, "accounts", "B20260105", "APART", 5)
    # the late delivery's accounts belong to the first delivery's customers
    owners = pa.array([f"CPART{i % 4:03d}" for i in range(5)])
    accounts = accounts.set_column(accounts.column_names.index("customer_id"), "customer_id", owners)
    land_files(applied, "accounts", "2033-01-01", {"part-0000.parquet": accounts})
    pipeline.ingest(settings, applied, batch_id=batch)
    second = pipeline.load(settings, applied, batch_id=batch).detail
    assert second["already_loaded"] == []
    assert {t: n for t, n in second["inserted"].items() if n} == {
        "hub_account": 5,
        "sat_account": 5,
        "link_customer_account": 5,
        "eff_sat_customer_account": 5,  # five relationships start
    }
    assert one(conn, f"SELECT landed_rows FROM VAULT.LOADED_BATCHES WHERE batch_id = '{batch}'") == 9
    third = pipeline.load(settings, applied, batch_id=batch).detail
    assert third["already_loaded"] == [batch] and not any(third["inserted"].values())


def test_duplicates_within_a_batch_give_one_hub_row_and_the_latest_satellite_row(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """The same client three times in one batch, across two files: an exact duplicate and
    a later change. One hub row; one satellite row, the latest by business timestamp."""
    import pyarrow as pa

    base = landed_table(conn, "customers", "B20260105", "CDUP", 1).to_pylist()[0]
    first = {**base, "email": "first@example.com", "updated_at": "2034-01-01 09:00:00"}
    later = {**base, "email": "later@example.com", "updated_at": "2034-01-01 17:30:00"}
    names = list(base)

    def table(rows: list[dict[str, Any]]) -> pa.Table:
        return pa.table({c: [r[c] for r in rows] for c in names})

    batch = land_files(
        applied,
        "customers",
        "2034-01-01",
        {"part-0000.parquet": table([later, first]), "part-0001.csv": table([first])},
    )
    pipeline.ingest(settings, applied, batch_id=batch)
    detail = pipeline.load(settings, applied, batch_id=batch).detail
    assert detail["inserted"]["hub_customer"] == 1 and detail["inserted"]["sat_customer"] == 1
    assert detail["inserted"]["sat_customer_pii"] == 1
    cur = conn.cursor()
    cur.execute(
        "SELECT s.email, s.updated_at FROM VAULT.SAT_CUSTOMER_PII s JOIN VAULT.HUB_CUSTOMER h "
        "ON h.customer_hk = s.customer_hk WHERE h.customer_id = 'CDUP000'"
    )
    assert [(e, str(t)) for e, t in cur.fetchall()] == [("later@example.com", "2034-01-01 17:30:00")]


def test_one_hub_row_per_key_whatever_the_spelling(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """The entity and two references spell one business key three ways (case, spaces):
    the recipe makes them one hash key, and the hub holds one row for it."""
    import pyarrow as pa

    customers = landed_table(conn, "customers", "B20260105", "CSPELL", 1)
    accounts = landed_table(conn, "accounts", "B20260105", "ASPELL", 1)
    orders = landed_table(conn, "orders", "B20260105", "OSPELL", 1)
    accounts = accounts.set_column(
        accounts.schema.get_field_index("customer_id"), "customer_id", pa.array([" cspell000 "])
    )
    orders = orders.set_column(orders.schema.get_field_index("customer_id"), "customer_id", pa.array(["Cspell000"]))
    for entity, table in (("customers", customers), ("accounts", accounts), ("orders", orders)):
        batch = land_files(applied, entity, "2032-02-02", {"part-0000.parquet": table})
    pipeline.ingest(settings, applied, batch_id=batch)
    pipeline.load(settings, applied, batch_id=batch)
    cur = conn.cursor()
    cur.execute(
        "SELECT customer_id, record_source FROM VAULT.HUB_CUSTOMER WHERE customer_hk = "
        "(SELECT customer_hk FROM VAULT.HUB_CUSTOMER WHERE customer_id = 'CSPELL000')"
    )
    assert [r[0] for r in cur.fetchall()] == ["CSPELL000"]  # one row, the entity's own spelling
    for table, key in [(h.name, h.hash_key) for h in vault.HUBS] + [(k.name, k.hash_key) for k in vault.LINKS]:
        total, distinct = cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT {key}) FROM VAULT.{table}").fetchone()
        assert total == distinct, table


def test_lake_repair_keeps_the_first_row_of_a_doubled_hub_key(
    settings: Settings, loaded: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """A lake loaded before one row per key was enforced: a second spelling under one hash
    key is removed, the first row kept, and a clean lake is left as it is."""
    cur = conn.cursor()
    hk, bk, source = cur.execute(
        "SELECT customer_hk, customer_id, record_source FROM VAULT.HUB_CUSTOMER ORDER BY customer_hk LIMIT 1"
    ).fetchone()
    cur.execute(
        "INSERT INTO VAULT.HUB_CUSTOMER (customer_hk, customer_id, load_ts, record_source, batch_id) "
        "SELECT %s, %s, DATEADD(DAY, 1, MAX(load_ts)), %s, 'B20991231' FROM VAULT.HUB_CUSTOMER",
        (hk, f" {bk.lower()} ", source),
    )
    report = pipeline.repair(settings, applied)
    assert report.detail["removed"]["hub_customer"] == 1 and sum(report.detail["removed"].values()) == 1
    assert cur.execute("SELECT customer_id FROM VAULT.HUB_CUSTOMER WHERE customer_hk = %s", (hk,)).fetchall() == [(bk,)]
    assert sum(pipeline.repair(settings, applied).detail["removed"].values()) == 0
