"""Producers' files and people's mistakes: the versioned control-file contract, one bad
file never blocking the others, corrections with an audit trail, batch ids checked
against what landed, and reconciliation that names every mismatch."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lake import pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import landing, spec
from procedures.sample_data import Plan, generate


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A lake of this module's own: its producers' mistakes (an unknown folder, a bad
    control file, short files) stay standing problems of its landing zone, as they would
    for a user, without becoming every other test's."""
    from lake.config import LocalTarget

    return Settings(local=LocalTarget(state_dir=tmp_path_factory.mktemp("producers-lake"), idle_transaction_seconds=4))


@pytest.fixture(scope="module")
def applied(settings: Settings) -> Iterator[Endpoints]:
    from lake.local.stack import LocalStack

    with LocalStack(settings.local).ensure() as endpoints:
        pipeline.setup(settings, endpoints)
        yield endpoints


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


@pytest.fixture()
def cli_env(settings: Settings, applied: Endpoints) -> dict[str, str]:
    return {"LAKE_STATE_DIR": str(settings.local.state_dir), "COLUMNS": "250"}


def interactions_csv(n: int) -> bytes:
    ent = spec.entity("interactions")
    lines = [",".join(ent.column_names)]
    lines += [",".join(f"I{i}" if c == ent.key else "x" for c in ent.column_names) for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.integration
def test_every_mismatch_is_named_and_exits_non_zero(
    settings: Settings, applied: Endpoints, cli_env: dict[str, str]
) -> None:
    """A control file promising 5 rows for a 3-row file, and a file its control file does
    not name (not called part-*): `lake ingest` names both and exits 1, and so does
    `lake quality --landing-only`; a batch that matches its control files exits 0."""
    from typer.testing import CliRunner

    from lake.cli import app
    from lake.local.serve import s3_client
    from tests.conftest import land_files

    batch = land_files(applied, "interactions", "2031-03-04", {"part-0000.csv": (interactions_csv(3), 5)})
    folder = "crm/interactions/load_date=2031-03-04/"
    s3_client(applied.s3_endpoint).put_object(Bucket=applied.bucket, Key=f"landing/{folder}notes.txt", Body=b"hi")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", "--batch", batch], env=cli_env)
    assert ingested.exit_code == 1, ingested.output
    assert f"row_count_mismatch: {folder}part-0000.csv: control file promised 5 rows, 3 landed" in ingested.output
    assert f"extra_file: {folder}notes.txt: not named by {folder}_control.csv" in ingested.output
    checked = runner.invoke(app, ["quality", "--landing-only", "--batch", batch], env=cli_env)
    assert checked.exit_code == 1, checked.output
    assert "row_count_mismatch" in checked.output and "notes.txt" in checked.output
    assert "2 landing files do not match their control files" in checked.output

    clean = land_files(applied, "interactions", "2031-03-05", {"part-0000.csv": (interactions_csv(3), 3)})
    assert runner.invoke(app, ["ingest", "--batch", clean], env=cli_env).exit_code == 0
    fine = runner.invoke(app, ["quality", "--landing-only", "--batch", clean], env=cli_env)
    assert fine.exit_code == 0 and "1 partitions match their control files" in fine.output


def control_for(folder: str, files: dict[str, tuple[bytes, int]]) -> bytes:
    producer, entity, load_date = folder.rstrip("/").split("/")
    return landing.control_file(
        [
            {
                "batch_id": landing.batch_id_for_date(load_date.removeprefix("load_date=")),
                "producer": producer,
                "entity": entity,
                "load_date": load_date.removeprefix("load_date="),
                "file_name": name,
                "file_format": "csv",
                "row_count": rows,
                "bytes": len(body),
                "md5": landing.md5_hex(body),
                "delivery": "delta",
            }
            for name, (body, rows) in files.items()
        ]
    )


@pytest.mark.integration
def test_a_correction_supersedes_a_landed_file_with_an_audit_trail(
    settings: Settings, applied: Endpoints, conn: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A producer's wrong data file and control file, ingested but not loaded, are
    superseded by corrected ones under the same names: the old ones are kept under
    _withdrawn/, the batch is ingested again and reconciles, the corrected file's rows
    replace the wrong ones, and AUDIT.CORRECTIONS says who, when and why. A withdrawn file
    leaves its control file's promise unmet, and says so."""
    from typer.testing import CliRunner

    from lake.cli import app
    from lake.local.serve import s3_client
    from tests.conftest import land_files

    wrong = interactions_csv(3)
    batch = land_files(
        applied, "interactions", "2031-04-06", {"part-0000.csv": (wrong, 5), "part-0001.csv": (interactions_csv(2), 2)}
    )
    folder = "crm/interactions/load_date=2031-04-06/"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "--batch", batch], env=cli_env).exit_code == 1  # 5 promised, 3 landed

    corrected = tmp_path / "part-0000.csv"
    corrected.write_bytes(interactions_csv(5))
    data = runner.invoke(
        app,
        ["landing", "supersede", folder + "part-0000.csv", "--with", str(corrected), "--reason", "two rows were cut"],
        env=cli_env,
    )
    assert data.exit_code == 0, data.output
    assert "landed_rows_removed 3" in data.output
    control = tmp_path / "_control.csv"
    control.write_bytes(
        control_for(folder, {"part-0000.csv": (corrected.read_bytes(), 5), "part-0001.csv": (interactions_csv(2), 2)})
    )
    fixed = runner.invoke(
        app,
        ["landing", "supersede", folder + "_control.csv", "--with", str(control), "--reason", "md5 of the new file"],
        env=cli_env,
    )
    assert fixed.exit_code == 0, fixed.output
    assert f"{batch} ingested again: 0 reconciliation issues" in fixed.output
    landed = rows(conn, f"SELECT COUNT(*) FROM LANDING.interactions WHERE file_name = '{folder}part-0000.csv'")
    assert landed == [(5,)]
    audit = rows(conn, f"SELECT action, target, reason FROM AUDIT.CORRECTIONS WHERE target LIKE '{folder}%' ORDER BY 2")
    assert audit == [
        ("supersede", f"{folder}_control.csv", "md5 of the new file"),
        ("supersede", f"{folder}part-0000.csv", "two rows were cut"),
    ]
    kept = s3_client(applied.s3_endpoint).list_objects_v2(Bucket=applied.bucket, Prefix="landing/_withdrawn/")
    assert sum(1 for o in kept.get("Contents", []) if o["Key"].endswith(folder + "part-0000.csv")) == 1
    checked = runner.invoke(app, ["quality", "--landing-only", "--batch", batch], env=cli_env)
    assert checked.exit_code == 0, checked.output

    gone = runner.invoke(
        app, ["landing", "withdraw", folder + "part-0001.csv", "--reason", "sent by mistake"], env=cli_env
    )
    assert gone.exit_code == 0, gone.output
    assert f"{batch} ingested again: 1 reconciliation issues" in gone.output
    assert rows(conn, f"SELECT issue FROM LANDING.RECONCILIATION WHERE file_name = '{folder}part-0001.csv'") == [
        ("missing_or_unreadable",)
    ]


@pytest.mark.integration
def test_a_file_the_vault_loaded_is_not_withdrawn(
    settings: Settings, applied: Endpoints, conn: Any, cli_env: dict[str, str]
) -> None:
    from typer.testing import CliRunner

    from lake.cli import app
    from tests.conftest import land_files

    batch = land_files(applied, "interactions", "2031-05-07", {"part-0000.csv": (interactions_csv(2), 2)})
    pipeline.ingest(settings, applied, batch_id=batch)
    pipeline.load(settings, applied, batch_id=batch)
    path = "crm/interactions/load_date=2031-05-07/part-0000.csv"
    refused = CliRunner().invoke(app, ["landing", "withdraw", path, "--reason", "too late"], env=cli_env)
    assert refused.exit_code == 1
    assert "LOAD_VAULT loaded its 2 rows into the vault" in refused.output and "Nothing was changed" in refused.output
    assert count(conn, f"SELECT COUNT(*) FROM LANDING.interactions WHERE file_name = '{path}'") == 2
    assert count(conn, f"SELECT COUNT(*) FROM AUDIT.CORRECTIONS WHERE target = '{path}'") == 0


@pytest.mark.integration
def test_a_batch_id_is_checked_against_what_landed_and_a_mistake_can_be_removed(
    settings: Settings, applied: Endpoints, conn: Any, cli_env: dict[str, str]
) -> None:
    """`lake load --batch B20991231` (a typo for 2026-12-31) used to record the batch as
    loaded and stretch the business vault's snapshots to 2099. Loading or validating a
    batch that landed nothing is refused, naming it; one recorded by an earlier version is
    removed with `lake repair --batch`, with its audit rows, and the removal is recorded."""
    from typer.testing import CliRunner

    from lake.cli import app
    from tests.conftest import land_files

    runner = CliRunner()
    for command in (["load"], ["validate", "--layer", "landing"]):
        refused = runner.invoke(app, [*command, "--batch", "B20991231"], env=cli_env)
        assert refused.exit_code == 1, refused.output
        assert "batch B20991231 has no landed files in LANDING.INGESTED_FILES" in refused.output
    assert count(conn, "SELECT COUNT(*) FROM VAULT.LOADED_BATCHES WHERE batch_id = 'B20991231'") == 0

    cur = conn.cursor()  # what an earlier version recorded
    cur.execute("INSERT INTO VAULT.LOADED_BATCHES VALUES ('B20981231', SYSDATE(), 'r1', 0)")
    cur.execute("INSERT INTO AUDIT.VAULT_LOAD_RUNS VALUES ('r1', 'B20981231', '*', 0, 0, 0, 0.1, 'SUCCEEDED', NULL)")
    removed = runner.invoke(app, ["repair", "--batch", "B20981231", "--reason", "typo for B20261231"], env=cli_env)
    assert removed.exit_code == 0, removed.output
    assert "loaded_batches 1, vault_load_runs 1" in removed.output
    assert count(conn, "SELECT COUNT(*) FROM VAULT.LOADED_BATCHES WHERE batch_id = 'B20981231'") == 0
    assert rows(conn, "SELECT action, reason FROM AUDIT.CORRECTIONS WHERE target = 'B20981231'") == [
        ("remove_batch", "typo for B20261231")
    ]
    batch = land_files(applied, "interactions", "2031-06-08", {"part-0000.csv": (interactions_csv(2), 2)})
    pipeline.ingest(settings, applied, batch_id=batch)
    pipeline.load(settings, applied, batch_id=batch)
    delivered = runner.invoke(app, ["repair", "--batch", batch, "--reason", "x"], env=cli_env)
    assert delivered.exit_code == 1 and f"batch {batch} landed 1 files: it is a delivery" in delivered.output
    assert count(conn, f"SELECT COUNT(*) FROM VAULT.LOADED_BATCHES WHERE batch_id = '{batch}'") == 1


@pytest.mark.integration
def test_one_command_at_a_time_per_state_folder(settings: Settings, cli_env: dict[str, str], tmp_path: Path) -> None:
    """A second command on a state folder in use is refused at once, naming the running
    command and its pid (two `lake run` used to share the servers until the first stopped
    them); a query beside it is not; `lake down` refuses too, and `lake down --force`
    interrupts the running command (as Ctrl-C) instead of leaving it hanging."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from typer.testing import CliRunner

    from lake.cli import app
    from lake.local.stack import command_lock, lock_holder

    runner = CliRunner()
    with command_lock(settings.local.state_dir.resolve(), "lake run --scale 5000"):
        busy = runner.invoke(app, ["ingest"], env=cli_env)
        assert busy.exit_code == 1
        assert f"`lake run --scale 5000` (pid {os.getpid()}, started " in busy.output
        assert "is running on the state folder" in busy.output
        refused = runner.invoke(app, ["down"], env=cli_env)
        assert refused.exit_code == 1 and "down --force" in refused.output
        query = runner.invoke(app, ["sql", "SELECT 1 AS one"], env=cli_env)
        assert query.exit_code == 0, query.output
        shown = runner.invoke(app, ["status"], env=cli_env)
        assert f"running: `lake run --scale 5000` (pid {os.getpid()}" in shown.output

    state = tmp_path / "state"
    holding = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from lake.local.stack import command_lock\n"
        "try:\n"
        f"    with command_lock(Path({str(state)!r}), 'lake run'):\n"
        "        time.sleep(120)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", holding])
    try:
        deadline = time.monotonic() + 30
        while lock_holder(state) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        forced = runner.invoke(app, ["down", "--force"], env={"LAKE_STATE_DIR": str(state)})
        assert forced.exit_code == 0, forced.output
        assert f"interrupted `lake run` (pid {holder.pid}" in forced.output and "not running" in forced.output
        assert holder.wait(timeout=30) == 130
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGKILL)


@pytest.mark.integration
def test_lake_sql_reads_standard_input_or_a_file_and_names_the_failing_statement(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`lake sql -` and `lake sql --file F` run every statement, in order, on one
    connection, printing each result; a failing one is named, with the server's message
    in one line (a syntax error plainly, not the parser's internals), and nothing after
    it runs."""
    from typer.testing import CliRunner

    from lake.cli import app

    runner = CliRunner()
    script = "select 1 as one;\n-- a comment\nselect 'a;b' as two;"
    piped = runner.invoke(app, ["sql", "-", "-f", "csv"], input=script, env=cli_env)
    assert piped.exit_code == 0, piped.output
    assert piped.stdout.splitlines() == ["ONE", "1", "TWO", "a;b"]
    file = tmp_path / "q.sql"
    file.write_text("select count(*) as n from AUDIT.PROCEDURE_RUNS; selec 1; select 3 as three")
    failed = runner.invoke(app, ["sql", "--file", str(file)], env=cli_env)
    assert failed.exit_code == 1
    assert "[1/3] select count(*) as n from AUDIT.PROCEDURE_RUNS" in failed.output
    last = failed.output.strip().splitlines()[-1]
    assert last.startswith("error: statement 2 of 3 (selec 1) failed: syntax error at line 1, column ")
    assert last.endswith(": Invalid expression / Unexpected token")
    assert "THREE" not in failed.output and "sqlglot" not in failed.output
