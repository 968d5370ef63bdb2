"""Producers' files and people's mistakes: the versioned control-file contract, one bad
file never blocking the others, corrections with an audit trail, batch ids checked
against what landed, and reconciliation that names every mismatch."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import landing
from procedures.sample_data import Plan, generate


def count(conn: Any, sql: str) -> int:
    cur = conn.cursor()
    cur.execute(sql)
    return int(cur.fetchone()[0])


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()]


def nine_columns(body: bytes) -> bytes:
    """A control file written to version 1 of the contract: no ``delivery`` column."""
    lines = list(csv.DictReader(io.StringIO(body.decode())))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=landing.CONTROL_VERSIONS[1], lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(lines)
    return out.getvalue().encode()


def generated_folder(root: Path, start_date: str, scale: int = 20) -> Path:
    generate(
        Plan.build(scale=scale, start_date=start_date, formats="crm=csv,finance=json"), landing.DirectorySink(str(root))
    )
    return root


@pytest.mark.unit
def test_the_contract_reads_both_versions_and_names_what_it_refuses() -> None:
    body = landing.control_file(
        [
            {
                "batch_id": "B20260105",
                "producer": "crm",
                "entity": "customers",
                "load_date": "2026-01-05",
                "file_name": "part-0000.csv",
                "file_format": "csv",
                "row_count": 3,
                "bytes": 10,
                "md5": "0" * 32,
                "delivery": "",
            }
        ]
    )
    assert landing.control_problems(body) == []
    assert landing.control_problems(nine_columns(body)) == []
    extra = body.replace(b"delivery\n", b"delivery,colour\n").replace(b",\n", b",,red\n")
    assert "unknown column(s) colour" in landing.control_problems(extra)[0]
    short = b"file_name,row_count\npart-0000.csv,3\n"
    assert (
        "lacks column(s) batch_id, producer, entity, load_date, file_format, bytes, md5"
        in (landing.control_problems(short)[0])
    )
    wrong = body.replace(b",3,10,", b",three,10,")
    assert landing.control_problems(wrong) == ["row 1: row_count 'three' is not a whole number"]
    assert landing.folder_problem("crm", "clients") is not None and "crm delivers customers" in (
        landing.folder_problem("crm", "clients") or ""
    )
    assert landing.folder_problem("crm", "accounts") == (
        "accounts is delivered by finance, not crm; crm delivers customers, interactions, opportunities, contacts"
    )


@pytest.mark.integration
def test_a_version_1_control_file_and_an_unknown_folder_never_block_the_batch(
    settings: Settings, applied: Endpoints, conn: Any, tmp_path: Path
) -> None:
    """End to end on the local engine: a producer still writing nine-column control files
    (before ``delivery``) is ingested as delta deliveries and loaded into the vault; a
    folder the spec does not know (crm/clients) and a control file with an unknown column
    are reconciliation issues naming the file, and every other file of the batch loads."""
    from lake.local.serve import s3_client

    folder = generated_folder(tmp_path / "files", "2031-02-03")
    for control in folder.rglob(landing.CONTROL_FILE):
        control.write_bytes(nine_columns(control.read_bytes()))
    pipeline.upload(settings, folder, pipeline.landing_files(folder))
    s3 = s3_client(applied.s3_endpoint)
    customers = "crm/customers/load_date=2031-02-03/"
    for name in ("part-0000.csv", landing.CONTROL_FILE):
        body = (folder / customers / name).read_bytes()
        s3.put_object(Bucket=applied.bucket, Key=f"landing/crm/clients/load_date=2031-02-03/{name}", Body=body)
    # a control file naming a column no version of the contract has
    contacts = "crm/contacts/load_date=2031-02-03/"
    header, *lines = (folder / contacts / landing.CONTROL_FILE).read_bytes().decode().splitlines()
    bad = "\n".join([header + ",colour", *(line + ",red" for line in lines)]).encode() + b"\n"
    s3.put_object(Bucket=applied.bucket, Key=f"landing/{contacts}{landing.CONTROL_FILE}", Body=bad)

    result = pipeline.ingest(settings, applied, batch_id="B20310203").detail
    issues = {(i["file"], i["issue"]) for i in result["reconciliation"]}
    assert issues == {
        ("crm/clients/load_date=2031-02-03/_control.csv", "unknown_folder"),
        (f"{contacts}_control.csv", "unreadable_control"),
    }
    assert result["reconciliation_issues"] == 2 and not result["failed_files"]
    detail = {i["issue"]: str(i["detail"]) for i in result["reconciliation"]}
    assert "no entity 'clients'" in detail["unknown_folder"]
    assert "unknown column(s) colour" in detail["unreadable_control"]
    landed_customers = count(conn, "SELECT COUNT(*) FROM LANDING.customers WHERE batch_id = 'B20310203'")
    assert landed_customers == result["rows"]["customers"] > 0
    assert (
        count(conn, "SELECT COUNT(*) FROM LANDING.CONTROL_FILES WHERE batch_id = 'B20310203' AND delivery IS NULL") > 0
    )

    loaded = pipeline.load(settings, applied, batch_id="B20310203").detail
    assert loaded["batches"] == ["B20310203"] and sum(loaded["inserted"].values()) > 0
    in_vault = count(
        conn,
        "SELECT COUNT(DISTINCT h.customer_id) FROM VAULT.HUB_CUSTOMER h JOIN LANDING.customers l "
        "ON l.customer_id = h.customer_id WHERE l.batch_id = 'B20310203'",
    )
    assert in_vault == count(
        conn,
        "SELECT COUNT(DISTINCT customer_id) FROM LANDING.customers WHERE batch_id = 'B20310203' "
        "AND NULLIF(TRIM(customer_id), '') IS NOT NULL",
    )


@pytest.mark.integration
def test_a_restart_keeps_modification_times_so_changed_after_load_means_changed(tmp_path: Path) -> None:
    """The local S3 is saved at stop and restored at start; its objects keep their
    modification times, so an ingestion after a restart names no file as rewritten after
    its load (it named every loaded file before) and still names one that was."""
    import time

    from lake.config import LocalTarget
    from lake.local.serve import s3_client

    settings = Settings(local=LocalTarget(state_dir=tmp_path / "state"))
    with pipeline.target(settings) as endpoints:
        assert endpoints is not None
        pipeline.setup(settings, endpoints)
        pipeline.generate(settings, endpoints, Plan.build(scale=10, days=1, seed=3))
        assert pipeline.ingest(settings, endpoints).detail["changed_after_load"] == []
        s3 = s3_client(endpoints.s3_endpoint)
        key = f"landing/crm/customers/load_date=2026-01-05/{landing.data_file_name(0, 'parquet')}"
        before = s3.head_object(Bucket=endpoints.bucket, Key=key)["LastModified"]
    time.sleep(1.1)  # S3 keeps modification times to the second
    with pipeline.target(settings) as endpoints:
        assert endpoints is not None
        s3 = s3_client(endpoints.s3_endpoint)
        assert s3.head_object(Bucket=endpoints.bucket, Key=key)["LastModified"] == before
        assert pipeline.ingest(settings, endpoints).detail["changed_after_load"] == []
        body = s3.get_object(Bucket=endpoints.bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=endpoints.bucket, Key=key, Body=body)  # rewritten: a new modification time
        assert pipeline.ingest(settings, endpoints).detail["changed_after_load"] == [key.removeprefix("landing/")]
