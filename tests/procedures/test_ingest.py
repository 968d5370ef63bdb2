"""INGEST_LANDING: every landed row as text with its file and row number, reconciled
with the producers' control files; unreadable files recorded, the batch goes on."""

from __future__ import annotations

from typing import Any

import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import spec
from procedures.audit import ArgumentError
from procedures.handlers import generate_sample_data, ingest_landing
from procedures.ingest import IngestSummary
from procedures.sample_data import Plan
from tests.conftest import SMALL_BATCHES


@pytest.mark.unit
@pytest.mark.parametrize("batch_id", ["2026-01-05", "B2026", "B20260105'; DROP TABLE x; --"])
def test_batch_id_argument_is_checked(batch_id: str) -> None:
    with pytest.raises(ArgumentError, match="batch_id must look like B20260105"):
        ingest_landing.run(session=None, batch_id=batch_id)


def count(conn: Any, sql: str) -> int:
    cur = conn.cursor()
    cur.execute(sql)
    return int(cur.fetchone()[0])


@pytest.mark.integration
def test_every_generated_row_lands(generated: dict[str, Any], ingested: dict[str, Any], conn: Any) -> None:
    batches = ", ".join(f"'{b}'" for b in SMALL_BATCHES)
    for ent in spec.ENTITIES:
        landed = count(conn, f"SELECT COUNT(*) FROM LANDING.{ent.name} WHERE batch_id IN ({batches})")
        assert landed == generated["rows"][ent.name], ent.name
    assert all(r["reconciliation_issues"] == 0 and not r["failed_files"] for r in ingested.values())
    untraced = count(conn, "SELECT COUNT(*) FROM LANDING.customers WHERE file_name IS NULL OR file_row_number IS NULL")
    assert untraced == 0


@pytest.mark.integration
def test_a_file_is_not_loaded_twice(
    settings: Settings, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    before = count(conn, "SELECT COUNT(*) FROM LANDING.transactions")
    again = pipeline.ingest(settings, applied, batch_id="B20260106").detail
    assert again["total_rows"] == 0 and set(again["files"]) == {"LOAD_SKIPPED"}
    assert count(conn, "SELECT COUNT(*) FROM LANDING.transactions") == before


@pytest.mark.integration
def test_setup_run_again_keeps_what_copy_loaded(
    settings: Settings, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """`lake setup` re-runs CREATE TABLE IF NOT EXISTS over the landing tables; that changes
    nothing, so COPY's load history stays and a batch ingested again loads no file twice
    (a replay relies on it). fakesnow used to clear the history on every CREATE TABLE."""
    before = count(conn, "SELECT COUNT(*) FROM LANDING.customers")
    pipeline.setup(settings, applied)
    again = pipeline.ingest(settings, applied, batch_id="B20260105").detail
    assert again["total_rows"] == 0 and set(again["files"]) == {"LOAD_SKIPPED"}
    assert count(conn, "SELECT COUNT(*) FROM LANDING.customers") == before


@pytest.mark.integration
def test_an_unreadable_file_is_recorded_and_the_batch_goes_on(
    settings: Settings, session: Any, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    from lake.local.serve import s3_client

    generate_sample_data.run(session, Plan.build(scale=20, start_date="2030-01-01"))
    broken = "operations/products/load_date=2030-01-01/part-0000.parquet"
    s3_client(applied.s3_endpoint).put_object(Bucket=applied.bucket, Key=f"landing/{broken}", Body=b"not parquet")
    result = pipeline.ingest(settings, applied, batch_id="B20300101").detail
    assert [f["file"] for f in result["failed_files"]] == [broken]
    assert result["files"]["LOADED"] == len(spec.ENTITIES) - 1
    assert result["rows"]["customers"] == count(
        conn, "SELECT COUNT(*) FROM LANDING.customers WHERE batch_id = 'B20300101'"
    )
    cur = conn.cursor()
    cur.execute("SELECT file_name, reason FROM LANDING.INGEST_ERRORS WHERE batch_id = 'B20300101'")
    errors = cur.fetchall()
    assert [e[0] for e in errors] == [broken] and errors[0][1]
    cur.execute("SELECT file_name, issue, landed_rows FROM LANDING.RECONCILIATION WHERE batch_id = 'B20300101'")
    assert cur.fetchall() == [(broken, "missing_or_unreadable", 0)]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "body"),
    [
        pytest.param("part-0000.csv", None, id="header_only_csv"),
        pytest.param("part-0000.csv", b"", id="empty_csv"),
        pytest.param("part-0000.jsonl", b"", id="empty_jsonl"),
    ],
)
def test_a_quiet_day_reconciles_clean(
    settings: Settings, ingested: dict[str, Any], applied: Endpoints, conn: Any, name: str, body: bytes | None
) -> None:
    """A producer's empty extract (a header line only, or no bytes) promised as 0 rows loads
    and reconciles without an issue, as it does on Snowflake."""
    from tests.conftest import land_files

    header = ",".join(spec.entity("interactions").column_names).encode() + b"\n"
    day = {"header_only_csv": "2033-03-01", "empty_csv": "2033-03-02", "empty_jsonl": "2033-03-03"}
    load_date = day["empty_jsonl" if name.endswith("jsonl") else "header_only_csv" if body is None else "empty_csv"]
    batch = land_files(applied, "interactions", load_date, {name: (header if body is None else body, 0)})
    result = pipeline.ingest(settings, applied, batch_id=batch).detail
    assert not result["failed_files"], result["failed_files"]
    assert result["reconciliation_issues"] == 0
    assert count(conn, f"SELECT COUNT(*) FROM LANDING.RECONCILIATION WHERE batch_id = '{batch}'") == 0


@pytest.mark.integration
def test_a_csv_is_read_with_its_file_formats_delimiter_not_a_guess(
    settings: Settings, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """Snowflake splits a CSV on the file format's FIELD_DELIMITER (a comma here) and never
    sniffs: a file delimited by ';' is one column per line there, so its rows lack every
    spec column and are quarantined, not loaded as if the delimiter were known."""
    from tests.conftest import land_files

    ent = spec.entity("interactions")
    lines = [";".join(ent.column_names)] + [";".join(f"v{i}_{c}" for c in ent.column_names) for i in range(3)]
    batch = land_files(applied, "interactions", "2033-04-01", {"part-0000.csv": ("\n".join(lines).encode() + b"\n", 3)})
    pipeline.ingest(settings, applied, batch_id=batch)
    cur = conn.cursor()
    cur.execute(f"SELECT interaction_id, missing_columns FROM LANDING.interactions WHERE batch_id = '{batch}'")
    rows = cur.fetchall()
    assert len(rows) == 3 and all(r[0] is None and r[1] for r in rows)


@pytest.mark.integration
def test_two_ingests_at_once_land_every_file_once(
    settings: Settings, session: Any, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """A manual run beside the schedule: both succeed, one waits for the other's lease,
    and every file's rows, control rows and reconciliation land once."""
    import threading

    generate_sample_data.run(session, Plan.build(scale=30, start_date="2027-05-03", formats="crm=csv, finance=json"))
    results: list[IngestSummary] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            results.append(pipeline.ingest(settings, applied, batch_id="B20270503").detail)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sorted(r["total_rows"] for r in results)[0] == 0  # the second found everything loaded
    for ent in spec.ENTITIES:
        doubled = count(
            conn,
            f"SELECT COUNT(*) FROM (SELECT file_name, file_row_number FROM LANDING.{ent.name} "
            "WHERE batch_id = 'B20270503' GROUP BY 1, 2 HAVING COUNT(*) > 1)",
        )
        assert doubled == 0, ent.name
    controls = count(
        conn,
        "SELECT COUNT(*) - COUNT(DISTINCT control_path || file_name) FROM LANDING.CONTROL_FILES "
        "WHERE batch_id = 'B20270503'",
    )
    assert controls == 0
    assert count(conn, "SELECT COUNT(*) FROM LANDING.INGEST_LOCK WHERE run_id IS NOT NULL") == 0


@pytest.mark.integration
def test_a_landing_file_rewritten_after_its_load_is_reported(
    settings: Settings, ingested: dict[str, Any], applied: Endpoints, conn: Any
) -> None:
    """Landing files are immutable; when a producer's tool overwrites one that was loaded,
    the next ingestion names it (the load history would otherwise skip it in silence)."""
    import time

    from lake.local.serve import s3_client
    from tests.conftest import land_files

    ent = spec.entity("interactions")
    header = ",".join(ent.column_names).encode() + b"\n"
    row = ",".join(f"I{c}" if c == ent.key else "x" for c in ent.column_names).encode() + b"\n"
    batch = land_files(applied, "interactions", "2033-05-01", {"part-0000.csv": (header + row, 1)})
    assert pipeline.ingest(settings, applied, batch_id=batch).detail["changed_after_load"] == []
    time.sleep(1.1)  # S3 keeps modification times to the second
    path = "crm/interactions/load_date=2033-05-01/part-0000.csv"
    s3_client(applied.s3_endpoint).put_object(Bucket=applied.bucket, Key=f"landing/{path}", Body=header + row + row)
    again = pipeline.ingest(settings, applied, batch_id=batch).detail
    assert path in again["changed_after_load"]
    cur = conn.cursor()
    cur.execute(
        f"SELECT batch_id FROM LANDING.RECONCILIATION WHERE issue = 'changed_after_load' AND file_name = '{path}'"
    )
    assert cur.fetchall() == [(batch,)]
