"""The vault's special structures on crafted inputs, each in a vault of its own: the
effectivity satellite (an account moved, then closed; late changes), the multi-active
satellite (a contact set compared as a set) and status tracking (a product missing from a
complete snapshot is deleted, from an incomplete one it is not) and the personal satellite
(a person's data changes apart from the descriptive attributes)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import spec
from procedures.handlers import load_vault
from tests.conftest import fresh_vault, land_files

pytestmark = pytest.mark.integration
END = "9999-12-31 00:00:00"


def table(entity: str, rows: list[dict[str, str]]) -> pa.Table:
    """Rows as a producer lands them: every spec column, as text."""
    names = spec.entity(entity).column_names
    return pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in names})


def deliver(
    settings: Settings,
    endpoints: Endpoints,
    session: Any,
    vault: str,
    entity: str,
    load_date: str,
    rows: list[dict[str, str]] | tuple[bytes, int],
    delivery: str | None = None,
) -> load_vault.Summary:
    """Land one file, ingest its batch, load it into ``vault``; the load's summary."""
    body = rows if isinstance(rows, tuple) else table(entity, rows)
    batch = land_files(endpoints, entity, load_date, {"part-0000.parquet": body}, delivery=delivery)
    pipeline.ingest(settings, endpoints, batch_id=batch)
    return load_vault.run(session, batch_id=batch, schemas={"vault": vault})


def fetch(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(str(v) if v is not None and not isinstance(v, int | bool) else v for v in r) for r in cur.fetchall()]


def account(account_id: str, customer_id: str, status: str, updated_at: str) -> dict[str, str]:
    return {
        "account_id": account_id,
        "customer_id": customer_id,
        "account_number": "LU00LAKE" + account_id,
        "account_type": "CUSTODY",
        "currency": "EUR",
        "balance": "100.00",
        "status": status,
        "opened_at": "2039-06-01",
        "updated_at": updated_at,
    }


def periods(conn: Any, vault: str, account_id: str) -> list[tuple[Any, ...]]:
    """(client, start, end) of each relationship of one account: its link key's latest row."""
    return fetch(
        conn,
        f"SELECT h.customer_id, e.start_at, e.end_at FROM {vault}.EFF_SAT_CUSTOMER_ACCOUNT e "
        f"JOIN {vault}.HUB_CUSTOMER h ON h.customer_hk = e.customer_hk "
        f"JOIN {vault}.HUB_ACCOUNT a ON a.account_hk = e.account_hk WHERE a.account_id = '{account_id}' "
        "QUALIFY ROW_NUMBER() OVER (PARTITION BY e.customer_account_hk ORDER BY e.load_ts DESC) = 1 ORDER BY 2",
    )


def test_an_account_moved_then_closed_has_two_periods_and_late_changes_follow_the_rule(
    settings: Settings, applied: Endpoints, session: Any, conn: Any, loaded: dict[str, Any]
) -> None:
    vault = fresh_vault(settings, conn, "VAULT_EFFECTIVITY")

    def load(day: str, *rows: dict[str, str]) -> load_vault.Summary:
        return deliver(settings, applied, session, vault, "accounts", day, list(rows))

    load(
        "2040-01-01",
        account("AEFF1", "CEFFA", "ACTIVE", "2040-01-01 10:00:00"),
        account("AEFF2", "CEFFA", "ACTIVE", "2040-01-01 10:00:00"),
    )
    load("2040-01-02", account("AEFF1", "CEFFB", "ACTIVE", "2040-01-02 10:00:00"))
    load("2040-01-03", account("AEFF1", "CEFFB", "CLOSED", "2040-01-03 10:00:00"))
    assert periods(conn, vault, "AEFF1") == [
        ("CEFFA", "2040-01-01 10:00:00", "2040-01-02 10:00:00"),
        ("CEFFB", "2040-01-02 10:00:00", "2040-01-03 10:00:00"),
    ]
    # closed: no open relationship is left for it
    assert fetch(
        conn,
        f"SELECT COUNT(*) FROM {vault}.EFF_SAT_CUSTOMER_ACCOUNT_CURRENT c JOIN {vault}.HUB_ACCOUNT a "
        "ON a.account_hk = c.account_hk WHERE a.account_id = 'AEFF1'",
    ) == [(0,)]

    # delivered on the 4th: AEFF1 back with CEFFA as of the 1st, older than its latest
    # change (superseded, nothing inserted); AEFF2 moved to CEFFB as of the 2nd, late yet
    # its newest change (inserted, with the business time as the boundary)
    summary = load(
        "2040-01-04",
        account("AEFF1", "CEFFA", "ACTIVE", "2040-01-01 12:00:00"),
        account("AEFF2", "CEFFB", "ACTIVE", "2040-01-02 08:00:00"),
    )
    assert summary["inserted"]["eff_sat_customer_account"] == 2  # AEFF2's old period ends, its new one starts
    assert periods(conn, vault, "AEFF1")[-1] == ("CEFFB", "2040-01-02 10:00:00", "2040-01-03 10:00:00")
    assert periods(conn, vault, "AEFF2") == [
        ("CEFFA", "2040-01-01 10:00:00", "2040-01-02 08:00:00"),
        ("CEFFB", "2040-01-02 08:00:00", END),
    ]
    superseded = fetch(
        conn,
        f"SELECT rows_superseded FROM {settings.names.audit}.VAULT_LOAD_RUNS WHERE run_id = '{summary['run_id']}' "
        "AND table_name = 'eff_sat_customer_account'",
    )
    assert superseded == [(1,)]
    # loading the 4th again changes nothing
    again = load_vault.run(session, batch_id="B20400104", schemas={"vault": vault})
    assert again["already_loaded"] == ["B20400104"]


def contact(contact_id: str, name: str, updated_at: str) -> dict[str, str]:
    return {
        "contact_id": contact_id,
        "customer_id": "CMA01",
        "contact_name": name,
        "contact_role": "OPERATIONS",
        "email": f"{name.lower()}@example.com",
        "phone": "+441234567890",
        "updated_at": updated_at,
    }


def test_a_contact_set_is_compared_as_a_set(
    settings: Settings, applied: Endpoints, session: Any, conn: Any, loaded: dict[str, Any]
) -> None:
    """A,B then A,C then A,C (re-sent with a new timestamp, in another order): two changes."""
    vault = fresh_vault(settings, conn, "VAULT_MULTI_ACTIVE")
    a, b, c = ("KMA0A", "Ada"), ("KMA0B", "Bo"), ("KMA0C", "Cy")

    def send(day: str, at: str, members: list[tuple[str, str]]) -> load_vault.Summary:
        rows = [contact(*member, f"{day} {at}") for member in members]
        return deliver(settings, applied, session, vault, "contacts", day, rows)

    send("2041-01-01", "09:00:00", [a, b])
    second = send("2041-01-02", "09:00:00", [a, c])
    third = send("2041-01-03", "11:00:00", [c, a])
    assert second["inserted"]["msat_customer_contact"] == 2  # the whole new set
    assert third["inserted"]["msat_customer_contact"] == 0
    changes = fetch(
        conn,
        f"SELECT m.batch_id, LISTAGG(m.contact_id, ',') WITHIN GROUP (ORDER BY m.contact_id) "
        f"FROM {vault}.MSAT_CUSTOMER_CONTACT m JOIN {vault}.HUB_CUSTOMER h ON h.customer_hk = m.customer_hk "
        "WHERE h.customer_id = 'CMA01' GROUP BY m.batch_id ORDER BY 1",
    )
    assert changes == [("B20410101", "KMA0A,KMA0B"), ("B20410102", "KMA0A,KMA0C")]
    current = fetch(conn, f"SELECT contact_id, contact_name FROM {vault}.MSAT_CUSTOMER_CONTACT_CURRENT ORDER BY 1")
    assert current == [("KMA0A", "Ada"), ("KMA0C", "Cy")]


def product(product_id: str) -> dict[str, str]:
    return {
        "product_id": product_id,
        "product_name": f"Fund {product_id}",
        "asset_class": "FUND",
        "currency": "EUR",
        "list_price": "10.00",
        "is_active": "true",
        "launched_at": "2030-01-01",
        "updated_at": "2041-12-01 09:00:00",
    }


def test_a_product_missing_from_a_complete_snapshot_is_deleted_and_from_an_incomplete_one_not(
    settings: Settings, applied: Endpoints, session: Any, conn: Any, loaded: dict[str, Any]
) -> None:
    vault = fresh_vault(settings, conn, "VAULT_STATUS")

    def snapshot(day: str, ids: list[str], delivery: str = "full") -> None:
        deliver(settings, applied, session, vault, "products", day, [product(p) for p in ids], delivery)

    def statuses() -> list[tuple[Any, ...]]:
        return fetch(
            conn,
            f"SELECT h.product_id, c.status FROM {vault}.STS_PRODUCT_CURRENT c "
            f"JOIN {vault}.HUB_PRODUCT h ON h.product_hk = c.product_hk ORDER BY 1",
        )

    snapshot("2042-01-01", ["PST1", "PST2", "PST3"])
    assert statuses() == [("PST1", "PRESENT"), ("PST2", "PRESENT"), ("PST3", "PRESENT")]
    snapshot("2042-01-02", ["PST1", "PST2"], delivery="partial")  # the producer says it is incomplete
    assert statuses() == [("PST1", "PRESENT"), ("PST2", "PRESENT"), ("PST3", "PRESENT")]
    snapshot("2042-01-03", ["PST1", "PST2"])
    assert statuses() == [("PST1", "PRESENT"), ("PST2", "PRESENT"), ("PST3", "DELETED")]
    deleted = fetch(
        conn,
        f"SELECT h.product_id, s.is_deleted FROM {vault}.SAT_PRODUCT_CURRENT s JOIN {vault}.HUB_PRODUCT h "
        "ON h.product_hk = s.product_hk WHERE s.is_current ORDER BY 1",
    )
    assert deleted == [("PST1", False), ("PST2", False), ("PST3", True)]
    snapshot("2042-01-04", ["PST1", "PST2", "PST3"])
    assert statuses() == [("PST1", "PRESENT"), ("PST2", "PRESENT"), ("PST3", "REAPPEARED")]
    # a complete delivery whose file came short of what its control file promised: reconciliation
    # flags it, so nothing is read as deleted
    short = table("products", [product("PST1")])
    from procedures import landing

    deliver(settings, applied, session, vault, "products", "2042-01-05", (landing.serialise(short, "parquet"), 3))
    assert statuses() == [("PST1", "PRESENT"), ("PST2", "PRESENT"), ("PST3", "REAPPEARED")]
    history = fetch(
        conn,
        f"SELECT t.batch_id, t.status FROM {vault}.STS_PRODUCT t JOIN {vault}.HUB_PRODUCT h "
        "ON h.product_hk = t.product_hk WHERE h.product_id = 'PST3' ORDER BY t.load_ts",
    )
    assert history == [("B20420101", "PRESENT"), ("B20420103", "DELETED"), ("B20420104", "REAPPEARED")]


def test_the_generated_events_reach_the_structures(loaded: dict[str, Any], conn: Any, applied: Endpoints) -> None:
    """On the generated batches: the products the manifest says left the catalogue are
    DELETED at that batch, unless a row of that day's catalogue had no key (then nothing
    is); a closed account has no open relationship; a moved one belongs to its new client."""
    from tests.procedures.test_staging import manifest_rows

    rows = manifest_rows(applied)
    events = [r for r in rows if r["category"] == "event"]
    defective = {(r["file_name"], r["row_number"]) for r in rows if r["category"] == "defect"}
    keyless_days = {r["batch_id"] for r in rows if r["entity"] == "products" and r["kind"] == "null_key"}
    for batch in ("B20260106", "B20260107"):
        withdrawn = {r["business_key"] for r in events if r["kind"] == "product_withdrawn" and r["batch_id"] == batch}
        deleted = {
            p
            for (p,) in fetch(
                conn,
                "SELECT h.product_id FROM VAULT.STS_PRODUCT t JOIN VAULT.HUB_PRODUCT h ON h.product_hk = t.product_hk "
                f"WHERE t.status = 'DELETED' AND t.batch_id = '{batch}'",
            )
        }
        assert deleted == (set() if batch in keyless_days else withdrawn), batch
    assert any(r["kind"] == "product_withdrawn" for r in events)

    # what the generated batches wrote (other tests load more batches into this vault)
    ended = set(
        fetch(
            conn,
            "SELECT e.batch_id, a.account_id FROM VAULT.EFF_SAT_CUSTOMER_ACCOUNT e "
            "JOIN VAULT.HUB_ACCOUNT a ON a.account_hk = e.account_hk WHERE e.end_at <> '9999-12-31'",
        )
    )
    started = set(
        fetch(
            conn,
            "SELECT e.batch_id, a.account_id, c.customer_id FROM VAULT.EFF_SAT_CUSTOMER_ACCOUNT e "
            "JOIN VAULT.HUB_ACCOUNT a ON a.account_hk = e.account_hk "
            "JOIN VAULT.HUB_CUSTOMER c ON c.customer_hk = e.customer_hk WHERE e.end_at = '9999-12-31'",
        )
    )
    clean = [r for r in events if (r["file_name"], r["row_number"]) not in defective]
    closed = {(r["batch_id"], r["business_key"]) for r in clean if r["kind"] == "account_closed"}
    moved = {(r["batch_id"], r["business_key"], r["injected_value"]) for r in clean if r["kind"] == "account_moved"}
    assert closed and moved
    assert closed <= ended  # the relationship ended in the batch the account closed
    assert moved <= started  # and the new one started in the batch it moved


def client(customer_id: str, email: str, segment: str, updated_at: str) -> dict[str, str]:
    return {
        "customer_id": customer_id,
        "legal_name": "Personal Test Holdings",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email,
        "phone": "+441234567890",
        "date_of_birth": "1980-12-10",
        "tax_id": "GB123",
        "address_line": "1 Test Street",
        "city": "London",
        "postal_code": "N1 1AA",
        "domicile_country": "GB",
        "client_segment": segment,
        "lifecycle_stage": "ACTIVE",
        "risk_rating": "LOW",
        "kyc_status": "APPROVED",
        "onboarded_at": "2030-01-01",
        "updated_at": updated_at,
    }


def test_personal_attributes_change_apart_from_the_descriptive_ones(
    settings: Settings, applied: Endpoints, session: Any, conn: Any, loaded: dict[str, Any]
) -> None:
    """A new e-mail adds a personal row; a new segment or a re-stamp with the same
    personal values does not, and no personal value is in the descriptive satellite."""
    vault = fresh_vault(settings, conn, "VAULT_PERSONAL")

    def send(day: str, email: str, segment: str) -> dict[str, int]:
        row = client("CPII01", email, segment, f"{day} 09:00:00")
        inserted: dict[str, int] = deliver(settings, applied, session, vault, "customers", day, [row])["inserted"]
        return {t: inserted[t] for t in ("sat_customer", "sat_customer_pii")}

    assert send("2042-01-01", "ada@example.com", "ASSET_MANAGER") == {"sat_customer": 1, "sat_customer_pii": 1}
    assert send("2042-01-02", "ada@example.com", "PENSION_FUND") == {"sat_customer": 1, "sat_customer_pii": 0}
    assert send("2042-01-03", "ada.l@example.com", "PENSION_FUND") == {"sat_customer": 1, "sat_customer_pii": 1}
    emails = fetch(conn, f"SELECT email, batch_id FROM {vault}.SAT_CUSTOMER_PII ORDER BY load_ts")
    assert emails == [("ada@example.com", "B20420101"), ("ada.l@example.com", "B20420103")]
    columns = fetch(
        conn,
        "SELECT LOWER(column_name) FROM information_schema.columns "
        f"WHERE table_schema = '{vault}' AND table_name = 'SAT_CUSTOMER'",
    )
    descriptive = {c[0] for c in columns}
    assert "legal_name" in descriptive and not descriptive & {"first_name", "last_name", "email", "tax_id"}
