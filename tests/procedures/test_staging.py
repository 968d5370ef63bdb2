"""Staging views: typed rows, hash keys, and every row either clean or quarantined with
its reason; the generator's typing defects are exactly the quarantined rows."""

from __future__ import annotations

import io
from typing import Any

import pyarrow.parquet as pq
import pytest

from lake.local.stack import Endpoints
from procedures import spec, staging, vault
from tests.conftest import SMALL_BATCHES

BATCHES = ", ".join(f"'{b}'" for b in SMALL_BATCHES)


def manifest_rows(endpoints: Endpoints) -> list[dict[str, Any]]:
    from lake.local.serve import s3_client

    s3 = s3_client(endpoints.s3_endpoint)
    rows: list[dict[str, Any]] = []
    for day in ("2026-01-05", "2026-01-06", "2026-01-07"):
        key = f"landing/_generator/manifest/load_date={day}/manifest.parquet"
        rows += pq.read_table(io.BytesIO(s3.get_object(Bucket=endpoints.bucket, Key=key)["Body"].read())).to_pylist()
    return rows


def query(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


@pytest.mark.integration
def test_rows_landed_equal_clean_plus_quarantined(ingested: dict[str, Any], conn: Any) -> None:
    quarantined = 0
    for ent in spec.ENTITIES:
        view = staging.view_name(ent)
        landed = query(conn, f"SELECT COUNT(*) FROM LANDING.{ent.name} WHERE batch_id IN ({BATCHES})")[0][0]
        split = query(
            conn,
            f"SELECT COUNT_IF(quarantine_reason IS NULL), COUNT_IF(quarantine_reason IS NOT NULL) "
            f"FROM LANDING.{view} WHERE batch_id IN ({BATCHES})",
        )[0]
        assert split[0] + split[1] == landed, ent.name
        quarantined += split[1]
    assert quarantined > 0


@pytest.mark.integration
def test_quarantine_is_exactly_the_typing_defects(ingested: dict[str, Any], conn: Any, applied: Endpoints) -> None:
    manifest = manifest_rows(applied)
    # a set member without its parent cannot join a set: quarantined too
    sets = {e.name for e in spec.ENTITIES if e.multi_active}
    expected = {
        (r["file_name"], r["row_number"])
        for r in manifest
        if r["kind"] in ("null_key", "unparseable_date") or (r["kind"] == "null_reference" and r["entity"] in sets)
    }
    got: dict[tuple[str, int], str] = {}
    for ent in spec.ENTITIES:
        for file_name, row, reason in query(
            conn,
            f"SELECT file_name, file_row_number, quarantine_reason FROM LANDING.{staging.view_name(ent)} "
            f"WHERE batch_id IN ({BATCHES}) AND quarantine_reason IS NOT NULL",
        ):
            got[(file_name, int(row))] = reason
    assert set(got) == expected
    by_kind = {(r["file_name"], r["row_number"]): r for r in manifest if r["category"] == "defect"}
    for place, reason in got.items():
        defect = by_kind[place]
        if defect["kind"] == "null_key":
            assert reason.startswith("null or blank business key"), reason
        elif defect["kind"] == "null_reference":
            assert reason == f"null or blank parent key {defect['column_name']}", reason
        else:
            assert f"in {defect['column_name']}: {defect['injected_value']}" in reason, reason


@pytest.mark.integration
def test_null_references_map_to_the_zero_key(ingested: dict[str, Any], conn: Any, applied: Endpoints) -> None:
    nulled = [r for r in manifest_rows(applied) if r["kind"] == "null_reference" and r["entity"] == "accounts"]
    assert nulled
    for r in nulled:
        hk, reason = query(
            conn,
            f"SELECT customer_hk, quarantine_reason FROM LANDING.STG_ACCOUNTS "
            f"WHERE file_name = '{r['file_name']}' AND file_row_number = {r['row_number']}",
        )[0]
        assert hk == vault.ZERO_KEY and reason is None


@pytest.mark.integration
def test_staged_keys_follow_the_recipe(ingested: dict[str, Any], conn: Any) -> None:
    sample = query(
        conn,
        "SELECT account_hk, account_id, customer_hk, customer_id, customer_account_hk FROM LANDING.STG_ACCOUNTS "
        f"WHERE batch_id IN ({BATCHES}) AND quarantine_reason IS NULL AND customer_id IS NOT NULL LIMIT 50",
    )
    assert len(sample) == 50
    for account_hk, account_id, customer_hk, customer_id, link_hk in sample:
        assert account_hk == vault.hash_key(account_id)
        assert customer_hk == vault.hash_key(customer_id)
        assert link_hk == vault.hash_key(customer_id, account_id)
