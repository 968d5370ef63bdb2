"""Right to erasure on the local engine: three days loaded and built, one client's contact
people erased, and what must hold afterwards (issue 22's done-when, for the tables)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lake import landing_erasure, pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import erasure, landing, spec, vault
from tests.conftest import land_files

pytestmark = pytest.mark.integration
LAKE = str(Path(sys.executable).with_name("lake"))


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()]


def checksum(conn: Any, table: str, others: str) -> tuple[int, str]:
    """(rows, content hash) of a table's rows that ``others`` selects (everyone but the subject)."""
    return rows(
        conn,
        f"SELECT COUNT(*), MD5(LISTAGG(MD5(TO_JSON(OBJECT_CONSTRUCT(*))), ',') WITHIN GROUP "
        f"(ORDER BY MD5(TO_JSON(OBJECT_CONSTRUCT(*))))) FROM {table} WHERE {others}",
    )[0]


@pytest.mark.unit
def test_the_marts_the_erasure_overwrites_are_every_mart_column_of_a_personal_class() -> None:
    from pathlib import Path

    import yaml

    declared = set()
    for path in sorted((Path(__file__).resolve().parents[2] / "dbt" / "models").glob("*/_*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            for column in model.get("columns", []):
                pii = column.get("config", {}).get("meta", {}).get("pii")
                if pii in spec.PERSONAL_CLASSES:
                    declared.add((model["name"].upper(), column["name"]))
    listed = {(model, column) for _, model, _, columns in erasure.MARTS for column in columns}
    assert listed == declared


def test_erasing_a_client_contact_forgets_them_everywhere_and_keeps_everything_else(
    settings: Settings, applied: Endpoints, conn: Any, built: dict[str, Any]
) -> None:
    # a client with contact people and accounts, delivered on more than one day
    customer_id, hk = rows(
        conn,
        "SELECT h.customer_id, h.customer_hk FROM VAULT.HUB_CUSTOMER h "
        "JOIN VAULT.MSAT_CUSTOMER_CONTACT m ON m.customer_hk = h.customer_hk "
        "JOIN VAULT.LINK_CUSTOMER_ACCOUNT l ON l.customer_hk = h.customer_hk "
        "JOIN VAULT.SAT_CUSTOMER_PII p ON p.customer_hk = h.customer_hk "
        "WHERE h.customer_id NOT IN (SELECT customer_id FROM AUDIT.ERASURE_REGISTER) "
        "GROUP BY 1, 2 HAVING COUNT(DISTINCT p.load_ts) >= 1 ORDER BY 1 LIMIT 1",
    )[0]
    email = rows(conn, f"SELECT MAX(email) FROM LANDING.CUSTOMERS WHERE customer_id = '{customer_id}'")[0][0]
    by_hk, by_id = f"customer_hk <> '{hk}'", f"UPPER(TRIM(customer_id)) <> '{customer_id}'"
    kept_tables = [
        ("LANDING.CUSTOMERS", by_id),
        ("LANDING.CONTACTS", by_id),
        ("VAULT.SAT_CUSTOMER_PII", by_hk),
        ("VAULT.MSAT_CUSTOMER_CONTACT", by_hk),
        ("VAULT.SAT_CUSTOMER", by_hk),
        ("BRONZE.BRONZE_CUSTOMERS", by_hk),
        ("SILVER.SILVER_CUSTOMERS", by_hk),
    ]
    before = {t: checksum(conn, t, others) for t, others in kept_tables}
    # the landing files holding the subject's rows (other tests may have landed some too)
    holding = {
        str(r[0])
        for table in ("LANDING.CUSTOMERS", "LANDING.CONTACTS")
        for r in rows(conn, f"SELECT DISTINCT file_name FROM {table} WHERE UPPER(TRIM(customer_id)) = '{customer_id}'")
    }
    descriptive = rows(conn, f"SELECT COUNT(*), MAX(hashdiff) FROM VAULT.SAT_CUSTOMER WHERE customer_hk = '{hk}'")
    links = rows(conn, f"SELECT COUNT(*) FROM VAULT.LINK_CUSTOMER_ACCOUNT WHERE customer_hk = '{hk}'")
    transactions = rows(
        conn,
        "SELECT COUNT(*) FROM VAULT.LINK_ACCOUNT_TRANSACTION t JOIN VAULT.LINK_CUSTOMER_ACCOUNT a "
        f"ON a.account_hk = t.account_hk WHERE a.customer_hk = '{hk}'",
    )

    # a delivery of the client that no ingestion has read yet
    names = spec.entity("customers").column_names
    subject_row = rows(
        conn, f"SELECT * FROM LANDING.CUSTOMERS WHERE UPPER(TRIM(customer_id)) = '{customer_id}' LIMIT 1"
    )
    columns = [c[0].lower() for c in conn.cursor().execute("SELECT * FROM LANDING.CUSTOMERS LIMIT 0").description]
    pending_row = dict(zip(columns, subject_row[0], strict=True))
    pending_table = pa.table(
        {c: pa.array([None if pending_row[c] is None else str(pending_row[c])], pa.string()) for c in names}
    )
    land_files(applied, "customers", "2044-01-01", {"part-0000.parquet": pending_table})
    pending = "crm/customers/load_date=2044-01-01/part-0000.parquet"

    # as a data protection officer's request is run: the command line, verification on
    env = {**os.environ, "LAKE_STATE_DIR": str(settings.local.state_dir)}
    done = subprocess.run(
        [LAKE, "erase", customer_id, "--request", "REQ-TEST-1"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^before: LANDING\.CUSTOMERS held the values in \d+ row", done.stdout, re.M), done.stdout
    assert re.search(r"^before: landing file crm/customers/\S+ held \d+ of the values", done.stdout, re.M)
    assert re.search(r"^verified: \d+ former value\(s\) searched .* 0 match\(es\) left$", done.stdout, re.M)
    status, rows_erased, verification, files_record = rows(
        conn, "SELECT status, rows_erased, verification, files FROM AUDIT.ERASURE_LOG WHERE request_id = 'REQ-TEST-1'"
    )[0]
    assert status == "ERASED" and rows_erased > 0
    result, files = json.loads(verification), json.loads(files_record)

    # the proof: where the values were, and that none is left in any table of any schema
    found = set(result["found_before"])
    assert {"LANDING.CUSTOMERS", "LANDING.CONTACTS", "VAULT.SAT_CUSTOMER_PII", "VAULT.MSAT_CUSTOMER_CONTACT"} <= found
    assert {"BRONZE.BRONZE_CUSTOMERS", "SILVER.SILVER_CUSTOMERS"} <= found
    assert result["values_checked"] > 0 and result["found_after"] == {}
    # what the marts derived from a personal value goes with it: the age from the birth date
    assert rows(conn, f"SELECT COUNT(age) FROM SILVER.SILVER_CUSTOMERS WHERE customer_id = '{customer_id}'") == [(0,)]
    # everyone else's rows unchanged (before the ingest below, which may land other tests' files)
    assert {t: checksum(conn, t, others) for t, others in kept_tables} == before
    # the landing files too: rewritten, the control files agreeing, nothing reported or re-loaded
    # every file holding the subject's rows, ingested or still waiting, and so every file
    # that held the values; each rewritten file holds the subject's rows, blanked
    rewritten = set(files["rewritten"])
    assert holding and holding | {pending} <= rewritten and set(files["found_before"]) <= rewritten
    assert files["found_after"] == {} and files["unreadable"] == []
    _, s3 = pipeline.aws_clients(applied)
    for name in rewritten:
        body = s3.get_object(Bucket=applied.bucket, Key=f"landing/{name}")["Body"].read()
        landed = landing.read_back(body, landing_erasure.FORMATS[name.rsplit(".", 1)[1]]).to_pylist()
        theirs = [r for r in landed if (r["customer_id"] or "").strip().upper() == customer_id]
        personal_columns = [c.name for c in spec.entity(name.split("/")[1]).columns if c.personal]
        assert theirs and all(r.get(c) is None for r in theirs for c in personal_columns), name
    assert {f.split("/")[1] for f in files["rewritten"]} == {"customers", "contacts"}
    problems = pipeline.landing_reconciliation(settings, applied).problems
    assert not [p for p in problems if f"{p.partition}/{p.file_name}" in files["rewritten"]]
    again = pipeline.ingest(settings, applied).detail
    assert not set(again.get("changed_after_load", [])) & set(files["rewritten"])
    # the subject's rows hold no e-mail, also those that ingest just landed; a row that
    # still holds the old e-mail is another client's (other tests' data may share it)
    subject_rows = f"UPPER(TRIM(customer_id)) = '{customer_id}'"
    assert rows(conn, f"SELECT COUNT(*) > 0, COUNT(email) FROM LANDING.CUSTOMERS WHERE {subject_rows}") == [(True, 0)]
    assert rows(conn, f"SELECT COUNT(*) FROM LANDING.CUSTOMERS WHERE email = '{email}' AND {subject_rows}") == [(0,)]
    personal = rows(
        conn,
        f"SELECT COUNT(*), COUNT(email), COUNT(first_name), MIN(hashdiff) FROM VAULT.SAT_CUSTOMER_PII "
        f"WHERE customer_hk = '{hk}'",
    )[0]
    assert personal[0] >= 1 and personal[1:] == (0, 0, erasure.ERASED_HASHDIFF)
    # the subject's keys, links, transactions and facts kept
    assert rows(conn, f"SELECT COUNT(*), MAX(hashdiff) FROM VAULT.SAT_CUSTOMER WHERE customer_hk = '{hk}'") == (
        descriptive
    )
    assert rows(conn, f"SELECT COUNT(*) FROM VAULT.HUB_CUSTOMER WHERE customer_hk = '{hk}'") == [(1,)]
    assert rows(conn, f"SELECT COUNT(*) FROM VAULT.LINK_CUSTOMER_ACCOUNT WHERE customer_hk = '{hk}'") == links
    assert (
        rows(
            conn,
            "SELECT COUNT(*) FROM VAULT.LINK_ACCOUNT_TRANSACTION t JOIN VAULT.LINK_CUSTOMER_ACCOUNT a "
            f"ON a.account_hk = t.account_hk WHERE a.customer_hk = '{hk}'",
        )
        == transactions
    )
    # a client the lake does not know: one line naming it, nothing changed
    unknown = subprocess.run(
        [LAKE, "erase", "C999999999", "--request", "REQ-TEST-2"], env=env, capture_output=True, text=True
    )
    assert unknown.returncode == 1
    said = [line for line in (unknown.stderr + unknown.stdout).splitlines() if line.strip()]
    assert said[-1:] == [
        "error: customer_id 'C999999999' is neither in VAULT.HUB_CUSTOMER nor in a landing table "
        "(customers, contacts): nothing to erase"
    ]

    # the marts rebuilt from the erased vault: the client is there, without personal values
    rebuilt = pipeline.dbt_build(settings, applied).detail
    assert not [p for p in rebuilt["problems"] if p["status"] in ("error", "fail")], rebuilt["problems"]
    assert rows(conn, "SELECT COUNT(*) FROM BRONZE.BRONZE_CUSTOMERS") == rows(
        conn, "SELECT COUNT(*) FROM SILVER.SILVER_CUSTOMERS"
    )
    for mart in ("BRONZE.BRONZE_CUSTOMERS", "SILVER.SILVER_CUSTOMERS"):
        assert rows(
            conn, f"SELECT COUNT(*), COUNT(email), COUNT(first_name) FROM {mart} WHERE customer_id = '{customer_id}'"
        ) == [(1, 0, 0)], mart

    # and every error rule still passes on an erased client (its absent values included)
    validated = pipeline.validate(settings, applied, layer="landing,vault,bronze,silver").detail
    assert not validated["failed"], validated

    # a re-delivered old row with the person's values brings nothing back
    names = spec.entity("customers").column_names
    old = {c: None for c in names} | {
        "customer_id": customer_id,
        "legal_name": "Re-delivered",
        "email": email,
        "first_name": "Erased",
        "updated_at": "2026-01-05 08:00:00",
    }
    table = pa.table({c: pa.array([old[c]], pa.string()) for c in names})
    batch = land_files(applied, "customers", "2043-01-01", {"part-0000.parquet": table})
    ingested = pipeline.ingest(settings, applied, batch_id=batch).detail
    assert ingested["erased_on_landing"] == 1
    loaded = pipeline.load(settings, applied, batch_id=batch).detail
    assert loaded["inserted"]["sat_customer_pii"] == 0
    redelivered = f"SELECT COUNT(*), COUNT(email), COUNT(first_name) FROM LANDING.CUSTOMERS WHERE batch_id = '{batch}'"
    assert rows(conn, redelivered) == [(1, 0, 0)]
    assert rows(conn, f"SELECT COUNT(*) FROM LANDING.CUSTOMERS WHERE email = '{email}' AND {subject_rows}") == [(0,)]
    assert rows(conn, f"SELECT COUNT(email) FROM VAULT.SAT_CUSTOMER_PII WHERE customer_hk = '{hk}'") == [(0,)]
    assert vault.hash_key(customer_id) == hk


def test_the_verification_searches_a_landing_file_ingestion_could_not_read(
    settings: Settings, applied: Endpoints
) -> None:
    """An empty or broken file in the landing zone (ingestion lists it as failed) neither
    stops the file scan nor hides a value: its bytes are searched."""
    from lake import landing_erasure
    from procedures import landing

    _, s3 = pipeline.aws_clients(applied)
    bucket, _ = landing.split_landing_url(settings.landing_url)
    prefix = "erasure-scan-test/"
    files = {
        "crm/customers/load_date=2031-01-01/empty.csv": b"",
        "crm/contacts/load_date=2031-01-01/truncated.jsonl": b'{"contact_id": "K1", "email": "ada@example.com"',
        "crm/contacts/load_date=2031-01-01/readable.jsonl": b'{"contact_id": "K2", "email": "bo@example.com"}\n',
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=prefix + key, Body=body)
    found = landing_erasure.scan(s3, bucket, prefix, {"ada@example.com", "bo@example.com", "cy@example.com"})
    assert found == {
        "crm/contacts/load_date=2031-01-01/truncated.jsonl": 1,
        "crm/contacts/load_date=2031-01-01/readable.jsonl": 1,
    }
