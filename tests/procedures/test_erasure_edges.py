"""Right to erasure at its edges, as a privacy officer's test plan tries it: a subject
known only from landing, a value another client holds elsewhere, a request run twice, a
re-delivered file, a contact's later non-personal change, no former value in any
statement, the local database file, and a relationship that reopens. On a lake of this
module's own (erasing subjects and reopening relationships there touches no other test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lake import pipeline
from lake.config import LocalTarget, Settings
from lake.local.stack import Endpoints, LocalStack
from lake.session import connect, snowpark_session
from procedures import erasure, landing, spec, vault
from procedures.handlers import erase_subject
from procedures.sample_data import Plan
from tests.conftest import land_files

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Endpoints]]:
    settings = Settings(local=LocalTarget(state_dir=tmp_path_factory.mktemp("erasure-edges")))
    with LocalStack(settings.local).ensure() as endpoints:
        pipeline.setup(settings, endpoints)
        pipeline.generate(settings, endpoints, Plan.build(scale=40, days=1, seed=5, formats="crm=csv"))
        pipeline.ingest(settings, endpoints)
        pipeline.load(settings, endpoints)
        yield settings, endpoints


@pytest.fixture()
def conn(lake: tuple[Settings, Endpoints]) -> Iterator[Any]:
    c = connect(*lake)
    try:
        yield c
    finally:
        c.close()


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()]


def customer_row(**values: str | None) -> pa.Table:
    names = spec.entity("customers").column_names
    row = {c: None for c in names} | {"legal_name": "Edge Holdings", "updated_at": "2030-01-01 09:00:00"} | values
    return pa.table({c: pa.array([row[c]], pa.string()) for c in names})


def contacts(rows_: list[dict[str, str]]) -> pa.Table:
    names = spec.entity("contacts").column_names
    return pa.table({c: pa.array([r.get(c) for r in rows_], pa.string()) for c in names})


def with_contacts(conn: Any, n: int = 1, skip: int = 0) -> list[str]:
    """Clients of the generated day that have contact people and are not erased."""
    return [
        str(r[0])
        for r in rows(
            conn,
            "SELECT DISTINCT customer_id FROM LANDING.CONTACTS WHERE customer_id NOT IN "
            f"(SELECT customer_id FROM AUDIT.ERASURE_REGISTER) ORDER BY 1 LIMIT {n} OFFSET {skip}",
        )
    ]


def test_a_subject_known_only_from_landing_is_erased_and_stays_erased(
    lake: tuple[Settings, Endpoints], conn: Any
) -> None:
    """A client whose first delivery is ingested but not loaded, and one whose only row
    was quarantined, used to be refused ("not in VAULT.HUB_CUSTOMER"); both are erased
    where they are, registered, and the pending one's load brings no value into the vault."""
    settings, endpoints = lake
    fresh = customer_row(customer_id="C800000001", email="first.only@edge.example", tax_id="EDGE-TAX-1")
    batch = land_files(endpoints, "customers", "2030-02-01", {"part-0000.parquet": fresh})
    pipeline.ingest(settings, endpoints, batch_id=batch)
    done = pipeline.erase(settings, endpoints, "C800000001", "REQ-EDGE-1").detail
    assert done["erased"]["LANDING.CUSTOMERS"] == 1 and done["found_after"] == {}
    assert rows(conn, "SELECT COUNT(email), COUNT(tax_id) FROM LANDING.CUSTOMERS WHERE customer_id = 'C800000001'") == [
        (0, 0)
    ]
    pipeline.load(settings, endpoints, batch_id=batch)
    hk = vault.hash_key("C800000001")
    assert rows(conn, f"SELECT COUNT(*), COUNT(email) FROM VAULT.SAT_CUSTOMER_PII WHERE customer_hk = '{hk}'") == [
        (1, 0)
    ]

    # a row the loader quarantined (its birth date cannot be read): no hub row, known all the same
    bad = customer_row(customer_id="C800000002", email="quarantined@edge.example", date_of_birth="31/02/1970")
    batch = land_files(endpoints, "customers", "2030-02-02", {"part-0000.parquet": bad})
    pipeline.ingest(settings, endpoints, batch_id=batch)
    pipeline.load(settings, endpoints, batch_id=batch)
    held = "SELECT COUNT(*) FROM VAULT.QUARANTINE WHERE business_key = 'C800000002'"
    assert rows(conn, held) == [(1,)]
    assert rows(
        conn, f"SELECT COUNT(*) FROM VAULT.HUB_CUSTOMER WHERE customer_hk = '{vault.hash_key('C800000002')}'"
    ) == [(0,)]
    quarantined = pipeline.erase(settings, endpoints, "C800000002", "REQ-EDGE-2").detail
    assert quarantined["found_after"] == {} and quarantined["values_checked"] >= 1
    assert rows(conn, "SELECT COUNT(email) FROM LANDING.CUSTOMERS WHERE customer_id = 'C800000002'") == [(0,)]

    with pytest.raises(erase_subject.ErasureError, match=r"neither in VAULT\.HUB_CUSTOMER nor in a landing table"):
        pipeline.erase(settings, endpoints, "C899999999", "REQ-EDGE-3")


def test_a_value_another_client_holds_elsewhere_stays_theirs(lake: tuple[Settings, Endpoints], conn: Any) -> None:
    """The subject's phone is also the phone of another client's contact person (another
    table): the erasure used to roll back ("values ... still in"); the value is not the
    subject's alone, so it is not searched for and stays where the other client has it."""
    settings, endpoints = lake
    subject, other = with_contacts(conn, 2, skip=3)
    phone = rows(conn, f"SELECT MAX(phone) FROM LANDING.CUSTOMERS WHERE customer_id = '{subject}'")[0][0]
    assert phone
    member = {"contact_id": "K90000000001", "customer_id": other, "contact_name": "Sam Shared"}
    member |= {"contact_role": "FINANCE", "phone": phone, "updated_at": "2030-03-01 09:00:00"}
    batch = land_files(endpoints, "contacts", "2030-03-01", {"part-0000.parquet": contacts([member])})
    pipeline.ingest(settings, endpoints, batch_id=batch)
    done = pipeline.erase(settings, endpoints, subject, "REQ-EDGE-SHARED").detail
    assert done["found_after"] == {}
    assert rows(conn, f"SELECT COUNT(*) FROM LANDING.CONTACTS WHERE customer_id = '{other}' AND phone = '{phone}'") == [
        (1,)
    ]


def test_every_run_of_a_request_keeps_its_own_proof(lake: tuple[Settings, Endpoints], conn: Any) -> None:
    """Running a request id again (a re-delivery arrived since) adds a proof row of its own,
    marked as a repeat; the first row's record of the files is never overwritten."""
    settings, endpoints = lake
    (subject,) = with_contacts(conn, 1, skip=6)
    first = pipeline.erase(settings, endpoints, subject, "REQ-EDGE-TWICE").detail
    second = pipeline.erase(settings, endpoints, subject, "REQ-EDGE-TWICE").detail
    assert first["run_id"] != second["run_id"] and (first["repeat_of"], second["repeat_of"]) == (0, 1)
    logged = rows(
        conn,
        "SELECT run_id, repeat_of, files FROM AUDIT.ERASURE_LOG WHERE request_id = 'REQ-EDGE-TWICE' ORDER BY repeat_of",
    )
    assert [r[:2] for r in logged] == [(first["run_id"], 0), (second["run_id"], 1)]
    assert json.loads(logged[0][2])["found_before"], "the first run's proof of the files was overwritten"
    assert json.loads(logged[0][2])["rewritten"] == first["files"]["rewritten"]


def test_a_redelivered_file_of_an_erased_subject_is_rewritten_as_it_is_ingested(
    lake: tuple[Settings, Endpoints], conn: Any
) -> None:
    settings, endpoints = lake
    (subject,) = with_contacts(conn, 1, skip=9)
    email = rows(conn, f"SELECT MAX(email) FROM LANDING.CUSTOMERS WHERE customer_id = '{subject}'")[0][0]
    pipeline.erase(settings, endpoints, subject, "REQ-EDGE-REDELIVERED", verify=False)
    again = customer_row(customer_id=subject, email=email, tax_id="EDGE-TAX-9", first_name="Again")
    member = {"contact_id": "K90000000009", "customer_id": subject, "contact_name": "Cora Again"}
    member |= {"contact_role": "TRADING", "email": "cora.again@edge.example", "updated_at": "2030-04-01 09:00:00"}
    batch = land_files(endpoints, "customers", "2030-04-01", {"part-0000.csv": (_csv(again), 1)})
    land_files(endpoints, "contacts", "2030-04-01", {"part-0000.csv": (_csv(contacts([member])), 1)})
    ingested = pipeline.ingest(settings, endpoints, batch_id=batch).detail
    assert ingested["erased_on_landing"] == 2
    assert ingested["rewritten_on_landing"] == [
        "crm/contacts/load_date=2030-04-01/part-0000.csv",
        "crm/customers/load_date=2030-04-01/part-0000.csv",
    ]
    _, s3 = pipeline.aws_clients(endpoints)
    for name in ingested["rewritten_on_landing"]:
        body = s3.get_object(Bucket=endpoints.bucket, Key=f"landing/{name}")["Body"].read().decode()
        assert email.lower() not in body.lower() and "EDGE-TAX-9" not in body and "cora.again" not in body, name
    reconciled = pipeline.landing_reconciliation(settings, endpoints, batch)
    assert reconciled.ok, reconciled.problems  # the control files name the rewritten files' size and MD5
    assert pipeline.ingest(settings, endpoints, batch_id=batch).detail["changed_after_load"] == []


def _csv(table: pa.Table) -> bytes:
    return landing.serialise(table, "csv")


def test_a_contacts_kept_attribute_changes_after_the_erasure(lake: tuple[Settings, Endpoints], conn: Any) -> None:
    """After erasure a member's hashdiff covered its key and a constant only, so a later
    change of its role (not personal) was no change and the current set kept the old
    role; the kept attributes are in it now, and the change is a new set version."""
    settings, endpoints = lake
    (subject,) = with_contacts(conn, 1, skip=12)
    pipeline.erase(settings, endpoints, subject, "REQ-EDGE-ROLE", verify=False)
    members = [
        {
            "contact_id": str(r[0]),
            "customer_id": subject,
            "contact_role": str(r[1]),
            "updated_at": "2030-05-01 09:00:00",
        }
        for r in rows(
            conn,
            f"SELECT contact_id, contact_role FROM LANDING.CONTACTS WHERE customer_id = '{subject}' "
            "QUALIFY ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY updated_at DESC) = 1",
        )
    ]
    roles = [r for r in spec.CONTACT_ROLES if r != members[0]["contact_role"]]
    members[0]["contact_role"] = roles[0]
    members[0] |= {"contact_name": "Rolf Changed", "email": "rolf.changed@edge.example"}
    batch = land_files(endpoints, "contacts", "2030-05-01", {"part-0000.parquet": contacts(members)})
    pipeline.ingest(settings, endpoints, batch_id=batch)
    pipeline.load(settings, endpoints, batch_id=batch)
    hk = vault.hash_key(subject)
    current = rows(
        conn,
        "SELECT m.contact_id, m.contact_role, m.contact_name, m.email FROM VAULT.MSAT_CUSTOMER_CONTACT_CURRENT m "
        f"WHERE m.customer_hk = '{hk}' AND m.contact_id = '{members[0]['contact_id']}'",
    )
    assert current == [(members[0]["contact_id"], roles[0], None, None)]


def test_no_former_value_is_written_into_a_statement(lake: tuple[Settings, Endpoints], conn: Any) -> None:
    """The verification used to build its queries with the former values as literals,
    which Snowflake keeps in its query history; every statement ERASE_SUBJECT sends, and
    every value it binds, is free of them."""
    settings, endpoints = lake
    (subject,) = with_contacts(conn, 1, skip=15)
    hk = vault.hash_key(subject)
    sent: list[str] = []

    class Recording:
        def __init__(self, session: Any) -> None:
            self.session = session

        def sql(self, query: str, params: Any = None) -> Any:
            sent.append(query + " " + json.dumps(params, default=str))
            return self.session.sql(query, params=params)

    with snowpark_session(settings, endpoints) as session:
        values = erase_subject.former_values(session, hk, settings.names.schemas)
        assert len(values) >= 2
        done = erase_subject.run(Recording(session), subject, "REQ-EDGE-TEXT", schemas=settings.names.schemas)
    assert done["values_checked"] == len(values) and done["found_before"] and done["found_after"] == {}
    text = "\n".join(sent).upper()
    assert not [v for v in values if v.upper() in text]
    assert not [t for t in rows(conn, "SHOW TABLES IN SCHEMA AUDIT") if "ERASURE_VALUES" in str(t)]


def test_the_documented_periods_of_an_account_include_a_reopened_one(
    lake: tuple[Settings, Endpoints], conn: Any
) -> None:
    """An account moves from one client to another and back: three periods, the first one
    reopened. The query of docs/data-model.md returns all three (it kept only the latest
    row per relationship and dropped a period)."""
    import re

    settings, endpoints = lake
    first, second = with_contacts(conn, 2, skip=20)
    names = spec.entity("accounts").column_names
    base = {"account_id": "A9000000001", "account_type": "CUSTODY", "currency": "USD", "status": "ACTIVE"}
    for day, holder in (("2030-06-01", first), ("2030-06-02", second), ("2030-06-03", first)):
        row = {c: None for c in names} | base | {"customer_id": holder, "updated_at": f"{day} 10:00:00"}
        table = pa.table({c: pa.array([row[c]], pa.string()) for c in names})
        batch = land_files(endpoints, "accounts", day, {"part-0000.parquet": table})
        pipeline.ingest(settings, endpoints, batch_id=batch)
        pipeline.load(settings, endpoints, batch_id=batch)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-model.md").read_text()
    query = re.search(r"-- the periods of one account, oldest first\n(.*?);\n```", doc, re.DOTALL)
    assert query is not None
    periods = rows(conn, query.group(1).replace("A0000000042", "A9000000001"))
    assert [p[0] for p in periods] == [first, second, first]
    assert [str(p[2])[:4] for p in periods] == ["2030", "2030", "9999"]


def test_the_local_database_file_keeps_no_erased_value(tmp_path: Path) -> None:
    """DuckDB leaves an UPDATE's freed blocks in the file until they are reused: after an
    erasure the former values were still in the local database file's bytes. The file is
    compacted when the servers stop after an erasure."""
    settings = Settings(local=LocalTarget(state_dir=tmp_path / "state"))
    with pipeline.target(settings) as endpoints:
        assert endpoints is not None
        pipeline.setup(settings, endpoints)
        pipeline.generate(settings, endpoints, Plan.build(scale=20, days=1, seed=8))
        pipeline.ingest(settings, endpoints)
        pipeline.load(settings, endpoints)
        with snowpark_session(settings, endpoints) as session:
            subject = str(session.sql("SELECT MIN(customer_id) FROM LANDING.CUSTOMERS").collect()[0][0])
            values = erase_subject.former_values(session, vault.hash_key(subject), settings.names.schemas)
    warehouse = settings.local.state_dir / "warehouse"

    def held() -> list[str]:
        found = b"".join(f.read_bytes() for f in warehouse.glob("*.db")).upper()
        return [v for v in values if v.upper().encode() in found]

    assert held(), "the values are in the file before the erasure"
    with pipeline.target(settings) as endpoints:
        pipeline.erase(settings, endpoints, subject, "REQ-EDGE-FILE", verify=False)
    assert held() == []
    assert erasure.REGISTER_TABLE  # the lake still opens and holds the register after compaction
    with pipeline.target(settings) as endpoints:
        assert pipeline.fetch(settings, endpoints, "SELECT COUNT(*) FROM AUDIT.ERASURE_REGISTER") == [(1,)]


def test_a_withdrawn_copy_is_erased_too(lake: tuple[Settings, Endpoints], conn: Any, tmp_path: Path) -> None:
    """A file superseded by a correction is kept under _withdrawn/: it holds the subject's
    values as much as the file in place, and the erasure rewrites it too."""
    from lake import corrections

    settings, endpoints = lake
    wrong = customer_row(customer_id="C800000003", email="old.address@edge.example")
    batch = land_files(endpoints, "customers", "2030-02-03", {"part-0000.csv": (_csv(wrong), 1)})
    pipeline.ingest(settings, endpoints, batch_id=batch)
    fixed = tmp_path / "part-0000.csv"
    fixed.write_bytes(_csv(customer_row(customer_id="C800000003", email="new.address@edge.example")))
    path = "crm/customers/load_date=2030-02-03/part-0000.csv"
    corrections.supersede(settings, endpoints, path, fixed, "the e-mail was wrong")
    done = pipeline.erase(settings, endpoints, "C800000003", "REQ-EDGE-WITHDRAWN").detail
    kept = [f for f in done["files"]["rewritten"] if f.startswith("_withdrawn/")]
    assert len(kept) == 1 and kept[0].endswith(path) and done["files"]["found_after"] == {}
    _, s3 = pipeline.aws_clients(endpoints)
    body = s3.get_object(Bucket=endpoints.bucket, Key=f"landing/{kept[0]}")["Body"].read().decode()
    assert "old.address" not in body
