"""Operating the pipeline every night: a failed run is told, a failed gate publishes
nothing, an upgrade adds the columns a new version defines (issue 32)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from lake import pipeline, task_graph
from lake.config import Settings
from lake.local.compat import notifications
from lake.local.stack import Endpoints
from lake.session import connection
from procedures.handlers import publish_gold
from procedures.quality import QualityGateError
from tests.conftest import SMALL_BATCHES

pytestmark = pytest.mark.integration


def _sent(settings: Settings) -> list[notifications.Notification]:
    return notifications.read(settings.local.state_dir / notifications.RECORD)


def _last_run(conn: Any) -> tuple[Any, ...]:
    cur = conn.cursor()
    cur.execute(
        "SELECT graph_run_id, status, failed_task, error, batches, published, notified "
        "FROM AUDIT.PIPELINE_RUNS ORDER BY finished_at DESC LIMIT 1"
    )
    return tuple(cur.fetchone())


def test_a_failure_at_each_step_is_told_once_naming_the_run_the_task_its_error_and_the_batch(
    settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """Each step of the graph made to fail in turn: the run is FAILED at that step in
    PIPELINE_RUNS, and exactly one notification names the graph run, the task, its error
    and the batch the run ingested (the ingestion step lands one, as INGEST_LANDING does)."""
    db, landing = settings.names.database, settings.names.landing
    tasks = [n.task for n in task_graph.order()]
    for failing in tasks:
        batch = f"B2099{tasks.index(failing):04d}"

        def ingest(s: Settings, e: Endpoints | None, b: str = batch) -> None:
            with connection(s, e) as c:
                c.cursor().execute(
                    f"INSERT INTO {db}.{landing}.CONTROL_FILES (BATCH_ID, INGESTED_AT) VALUES (%s, SYSDATE())", (b,)
                )

        def fail(s: Settings, e: Endpoints | None, task: str = failing) -> None:
            raise RuntimeError(f"forced failure of {task}")

        runners: dict[str, task_graph.Runner] = {t: (lambda s, e: None) for t in tasks}
        runners["LAKE_INGEST_LANDING"] = ingest
        runners[failing] = fail
        if failing == "LAKE_INGEST_LANDING":

            def ingest_then_fail(s: Settings, e: Endpoints | None, b: str = batch) -> None:
                ingest(s, e, b)
                fail(s, e)

            runners[failing] = ingest_then_fail
        before = len(_sent(settings))
        with pytest.raises(RuntimeError, match=f"forced failure of {failing}"):
            task_graph.walk(settings, applied, runners)
        sent = _sent(settings)[before:]
        run_id, status, task, error, batches, published, notified = _last_run(conn)
        assert (status, task, error) == ("FAILED", failing, f"RuntimeError: forced failure of {failing}")
        assert json.loads(batches) == [batch] and published is False and notified == "LAKE_NOTIFICATIONS"
        assert len(sent) == 1, f"{failing}: {len(sent)} notifications"
        message = sent[0].message
        assert sent[0].integration == "LAKE_NOTIFICATIONS"
        for field in (f"graph run: {run_id}", f"failed task: {failing}", f"forced failure of {failing}", batch):
            assert field in message, f"{failing}: {field!r} not in {message!r}"
        assert "gold: not published" in message
    cur = conn.cursor()
    cur.execute(f"DELETE FROM {db}.{landing}.CONTROL_FILES WHERE BATCH_ID LIKE 'B2099%'")


def _gold(conn: Any, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every gold table of ``schema``, its rows in a stable order, value for value."""
    cur = conn.cursor()
    out = {}
    for table in publish_gold.gold_tables():
        cur.execute(f"SELECT * FROM {schema}.{table}")
        out[table] = sorted((tuple(r) for r in cur.fetchall()), key=repr)
    return out


def _batch_rows(cur: Any, settings: Settings, batches: tuple[str, ...]) -> dict[str, int]:
    """Rows of the ``batches`` in every landing and vault table that has a BATCH_ID: what a
    replay of those days must leave as it was (other tests' batches may land meanwhile)."""
    db = settings.names.database
    # tables only: a view of the latest row per key changes when another batch lands
    cur.execute(
        f"SELECT c.TABLE_SCHEMA, c.TABLE_NAME FROM {db}.INFORMATION_SCHEMA.COLUMNS AS c "
        f"INNER JOIN {db}.INFORMATION_SCHEMA.TABLES AS t "
        "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE' "
        f"WHERE c.COLUMN_NAME = 'BATCH_ID' AND c.TABLE_SCHEMA IN ('{settings.names.landing}', "
        f"'{settings.names.vault}') "
        "ORDER BY 1, 2"
    )
    # data only: a lock table's row names the batch its last holder worked on
    tables = [f"{schema}.{table}" for schema, table in cur.fetchall() if not str(table).upper().endswith("_LOCK")]
    listed = ", ".join(f"'{b}'" for b in batches)
    cur.execute(
        " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {db}.{t} WHERE BATCH_ID IN ({listed})" for t in tables)
    )
    return {str(t): int(n) for t, n in cur.fetchall()}


@pytest.fixture(scope="module")
def replayed(settings: Settings, loaded: dict[str, Any], applied: Endpoints) -> dict[str, Any]:
    """`lake replay` over the three loaded days and their neighbours, with the rows of those
    days in every landing and vault table before and after. Its graph run publishes gold:
    the day one of the gate test below (one walk of the whole graph for this module)."""
    with connection(settings, applied) as c:
        cur = c.cursor()
        before = _batch_rows(cur, settings, SMALL_BATCHES)
        done, run = pipeline.replay(settings, "2026-01-04", "2026-01-08")
        after = _batch_rows(cur, settings, SMALL_BATCHES)
        cur.execute("SELECT graph_run_id FROM AUDIT.PIPELINE_RUNS ORDER BY finished_at DESC LIMIT 1")
        run_id = cur.fetchall()[0][0]
    return {"done": done, "run": run, "before": before, "after": after, "run_id": run_id}


def test_a_failed_gold_gate_leaves_the_published_gold_in_front_of_readers(
    settings: Settings, applied: Endpoints, replayed: dict[str, Any], conn: Any
) -> None:
    """Day one published gold. Day two's gold build is bad (a rate above 100 %): its gate
    fails, so the gold readers query stays day one's, value for value, while the bad build
    waits in GOLD_PENDING; the run says FAILED and not published, the notification says
    whose gold readers keep, and PUBLISH_GOLD called by hand refuses the build."""
    names = settings.names
    first = _last_run(conn)
    assert first[0] == replayed["run_id"] and first[1] == "SUCCEEDED" and first[5] is True
    published = _gold(conn, names.gold)
    assert all(published.values())

    def bad_gold(s: Settings, e: Endpoints | None) -> Any:
        built = pipeline.RUNNERS["LAKE_DBT_GOLD"](s, e)
        with connection(s, e) as c:
            c.cursor().execute(
                f"UPDATE {names.database}.{names.gold_pending}.GOLD_ORDER_METRICS SET fulfillment_rate_pct = 150"
            )
        return built

    gold_part = [
        n for n in task_graph.order() if n.task in {"LAKE_DBT_GOLD", "LAKE_VALIDATE_GOLD", "LAKE_PUBLISH_GOLD"}
    ]
    nodes = (dataclasses.replace(gold_part[0], after=(task_graph.ROOT,)), *gold_part[1:])
    before = len(_sent(settings))
    with pytest.raises(QualityGateError, match="gold_order_metrics_rates_are_percentages"):
        task_graph.walk(settings, applied, pipeline.RUNNERS | {"LAKE_DBT_GOLD": bad_gold}, nodes)
    assert _gold(conn, names.gold) == published
    assert _gold(conn, names.gold_pending)["GOLD_ORDER_METRICS"] != published["GOLD_ORDER_METRICS"]
    _, status, task, _, _, was_published, _ = _last_run(conn)
    assert (status, task, was_published) == ("FAILED", "LAKE_VALIDATE_GOLD", False)
    (note,) = _sent(settings)[before:]
    assert f"gold: not published; readers keep the gold published by run {first[0]}" in note.message
    with pytest.raises(publish_gold.NotPublishable, match="failed its validation"):
        pipeline.publish(settings, applied)
    assert _gold(conn, names.gold) == published


def test_an_upgrade_adds_the_new_columns_keeps_the_rows_and_records_the_version(
    settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """A lake of the previous version: PIPELINE_RUNS without the columns this version added
    (batches, published, notified), holding a run. `lake setup` adds them, keeps the row,
    records the version with the columns added, and the next run fills them."""
    db, audit = settings.names.database, settings.names.audit
    cur = conn.cursor()
    task_graph.walk(settings, applied, {t.task: (lambda s, e: None) for t in task_graph.NODES})
    for column in ("batches", "published", "notified"):
        cur.execute(f"ALTER TABLE {db}.{audit}.PIPELINE_RUNS DROP COLUMN {column}")
    cur.execute(f"SELECT COUNT(*) FROM {db}.{audit}.PIPELINE_RUNS")
    (rows,) = cur.fetchone()
    assert rows
    pipeline.setup(settings, applied)
    cur.execute(f"SELECT COUNT(*), COUNT(batches) FROM {db}.{audit}.PIPELINE_RUNS")
    assert cur.fetchone() == (rows, 0)  # the rows kept, the new column empty in them
    cur.execute(f"SELECT columns_added FROM {db}.{audit}.SCHEMA_VERSIONS ORDER BY applied_at DESC LIMIT 1")
    added = json.loads(cur.fetchone()[0])
    assert {f"{db}.{audit}.PIPELINE_RUNS.{c}" for c in ("BATCHES", "PUBLISHED", "NOTIFIED")} <= set(added)
    task_graph.walk(settings, applied, {t.task: (lambda s, e: None) for t in task_graph.NODES})
    assert _last_run(conn)[4:6] == ("[]", True)  # the next run fills them
    pipeline.setup(settings, applied)  # nothing changed: no new version row
    cur.execute(f"SELECT COUNT(*) FROM {db}.{audit}.SCHEMA_VERSIONS WHERE columns_added <> '[]'")
    assert cur.fetchone() == (1,)


def test_a_replay_of_loaded_days_changes_nothing(settings: Settings, replayed: dict[str, Any]) -> None:
    """The loaded days are ingested and loaded again and the marts rebuilt and published,
    with nothing changed in landing (no file loaded twice) or the vault; the days nothing
    was delivered on are named, not replayed."""
    done = replayed["done"].detail
    assert [r["batch"] for r in done["replayed"]] == ["B20260105", "B20260106", "B20260107"]
    assert all(r["vault_rows"] == 0 and r["rows_landed"] == 0 for r in done["replayed"])
    assert (done["files_gone"], done["not_delivered"]) == ([], ["B20260104", "B20260108"])
    assert replayed["after"] == replayed["before"] and sum(replayed["before"].values()) > 100_000
    assert replayed["run"] is not None and replayed["run"].dbt["marts"]
    with pytest.raises(ValueError, match="to_date 2026-01-01 is before from_date 2026-01-05"):
        pipeline.replay(settings, "2026-01-05", "2026-01-01")


def test_a_replay_names_a_day_whose_files_expired(settings: Settings, applied: Endpoints, conn: Any) -> None:
    """A day ingested and loaded once whose files the landing bucket's lifecycle has since
    deleted cannot be replayed: REPLAY says so (the vault keeps what was loaded), and with
    nothing to replay no graph runs."""
    db, landing, vault = settings.names.database, settings.names.landing, settings.names.vault
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {db}.{landing}.CONTROL_FILES (BATCH_ID, INGESTED_AT) VALUES ('B20260103', SYSDATE())")
    cur.execute(
        f"INSERT INTO {db}.{vault}.LOADED_BATCHES (BATCH_ID, LOAD_TS, RUN_ID, LANDED_ROWS) "
        "VALUES ('B20260103', SYSDATE(), 'expired-files-test', 0)"
    )
    try:
        done, run = pipeline.replay(settings, "2026-01-02", "2026-01-03")
    finally:
        cur.execute(f"DELETE FROM {db}.{landing}.CONTROL_FILES WHERE BATCH_ID = 'B20260103'")
        cur.execute(f"DELETE FROM {db}.{vault}.LOADED_BATCHES WHERE BATCH_ID = 'B20260103'")
    assert (done.detail["files_gone"], done.detail["not_delivered"], done.detail["replayed"]) == (
        ["B20260103"],
        ["B20260102"],
        [],
    )
    assert run is None
    assert "files gone (expired from the landing zone): B20260103" in done.line()


def test_a_local_schema_swap_moves_tables_rows_and_their_catalog_entries(
    settings: Settings, applied: Endpoints, conn: Any
) -> None:
    """ALTER SCHEMA a SWAP WITH b (PUBLISH_GOLD's step) on the local engine: both schemas
    hold a table of the same name, with a comment and a sized column; after the swap each
    schema holds the other's rows, comment and column length; nothing is left behind."""
    db = settings.names.database
    cur = conn.cursor()
    for schema, value in (("SWAP_A", "a"), ("SWAP_B", "b")):
        cur.execute(f"CREATE OR REPLACE SCHEMA {db}.{schema}")
        cur.execute(f"CREATE TABLE {db}.{schema}.T (V VARCHAR({len(schema) + 5})) COMMENT = 'from {schema}'")
        cur.execute(f"INSERT INTO {db}.{schema}.T VALUES ('{value}')")
    cur.execute(f"ALTER SCHEMA {db}.SWAP_A SWAP WITH {db}.SWAP_B")
    for schema, value, comment in (("SWAP_A", "b", "from SWAP_B"), ("SWAP_B", "a", "from SWAP_A")):
        cur.execute(f"SELECT V FROM {db}.{schema}.T")
        assert cur.fetchall() == [(value,)]
        cur.execute(f"SELECT COMMENT FROM {db}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = '{schema}'")
        assert cur.fetchall() == [(comment,)]
    cur.execute(f"SHOW SCHEMAS IN DATABASE {db}")
    names = [str(v) for row in cur.fetchall() for v in row if isinstance(v, str) and "SWAP" in v.upper()]
    assert sorted(names) == ["SWAP_A", "SWAP_B"]  # the spare schema of the swap is gone
    with pytest.raises(Exception, match="does not exist"):
        cur.execute(f"ALTER SCHEMA {db}.SWAP_A SWAP WITH {db}.NO_SUCH_SCHEMA")
    for schema in ("SWAP_A", "SWAP_B"):
        cur.execute(f"DROP SCHEMA {db}.{schema} CASCADE")


@pytest.mark.unit
def test_the_notification_names_its_recipients_and_subject_and_the_local_engine_refuses_what_snowflake_does(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With recipients configured the finalizer sends through EMAIL_INTEGRATION_CONFIG (an
    integration cdktf created has no default recipients); the local engine records the
    subject and the To: line, and refuses a subject over 256 characters or no To: address
    (https://docs.snowflake.com/en/sql-reference/functions/email_integration_config)."""
    from procedures.handlers.finish_pipeline_run import destination

    monkeypatch.setattr(notifications.record, "path", tmp_path / notifications.RECORD)
    text = "lake: pipeline run G1 FAILED at LAKE_LOAD_VAULT\nerror: it's broken"
    to = ("ops@example.com", "data@example.com")

    def call(target: str, message: str = text) -> Any:
        literal = message.replace("'", "''")
        return notifications.send(
            f"CALL SYSTEM$SEND_SNOWFLAKE_NOTIFICATION(SNOWFLAKE.NOTIFICATION.TEXT_PLAIN('{literal}'), {target})"
        )

    call(destination("LAKE_NOTIFICATIONS", text, to))
    call(destination("LAKE_NOTIFICATIONS", text, ()))
    first, second = notifications.read(tmp_path / notifications.RECORD)
    assert (first.message, first.integration, first.subject, first.to) == (
        text,
        "LAKE_NOTIFICATIONS",
        "lake: pipeline run G1 FAILED at LAKE_LOAD_VAULT",
        to,
    )
    assert (second.subject, second.to) == ("", ())  # the integration's default recipients
    with pytest.raises(Exception, match="exceeds 256"):
        call(
            "SNOWFLAKE.NOTIFICATION.EMAIL_INTEGRATION_CONFIG('LAKE_NOTIFICATIONS', '"
            + "x" * 257
            + "', ARRAY_CONSTRUCT('a@b.c'))"
        )
    with pytest.raises(Exception, match="no address"):
        call("SNOWFLAKE.NOTIFICATION.EMAIL_INTEGRATION_CONFIG('LAKE_NOTIFICATIONS', 'subject', ARRAY_CONSTRUCT())")
    assert len(notifications.read(tmp_path / notifications.RECORD)) == 2
