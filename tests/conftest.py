"""Shared fixtures: servers -> connection / session -> generated landing data.

The local servers start once per test session, in their own process, on loopback, in a
temporary state folder; every integration test shares them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from lake import pipeline
from lake.config import LocalTarget, Settings
from lake.local import strict
from lake.local.stack import Endpoints, LocalStack
from lake.session import connect, open_session
from lake.steps import Built, Loaded
from procedures.ingest import IngestSummary
from procedures.sample_data import GenerationSummary, Plan


class SmallPlan(TypedDict):
    scale: int
    days: int
    seed: int
    formats: str


# dbt's business vault keeps 10 days of snapshots in the tests, not every month-end: other
# tests load batches dated years apart into the shared vault, and every dbt build would
# carry a point-in-time row per key for each of those month-ends (docs/testing.md)
os.environ.setdefault("LAKE_SNAPSHOT_RETENTION_DAYS", "10")
os.environ.setdefault("LAKE_SNAPSHOT_KEEP_MONTH_ENDS", "false")

SMALL: SmallPlan = {"scale": 1500, "days": 3, "seed": 11, "formats": "crm=csv,finance=json,operations=parquet"}
SMALL_BATCHES = ("B20260105", "B20260106", "B20260107")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    state = tmp_path_factory.mktemp("lake-state")
    # a killed client's transaction is rolled back after 4 idle seconds, not 5 minutes
    return Settings(local=LocalTarget(state_dir=state, idle_transaction_seconds=4))


@pytest.fixture(scope="session")
def servers(settings: Settings) -> Iterator[Endpoints]:
    with LocalStack(settings.local).ensure() as endpoints:
        yield endpoints


@pytest.fixture(scope="session")
def applied(settings: Settings, servers: Endpoints) -> Endpoints:
    pipeline.setup(settings, servers)
    return servers


@pytest.fixture()
def conn(settings: Settings, applied: Endpoints) -> Iterator[Any]:
    c = connect(settings, applied)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="session")
def session(settings: Settings, applied: Endpoints) -> Iterator[Any]:
    """A Session as the stored procedures get one: in a procedure's schema (the vault, where
    LOAD_VAULT lives) and refusing what an owner's-rights procedure may not run, so a
    handler called with it fails here where it would fail in Snowflake."""
    s = open_session(settings, applied, settings.names.vault)
    try:
        yield strict.owners_rights(s)
    finally:
        s.close()


@pytest.fixture(scope="session")
def generated(settings: Settings, applied: Endpoints) -> GenerationSummary:
    """Three days of small, mixed-format batches in the local landing bucket."""
    return pipeline.generate(settings, applied, Plan.build(**SMALL)).detail


@pytest.fixture(scope="session")
def ingested(settings: Settings, generated: GenerationSummary, applied: Endpoints) -> dict[str, IngestSummary]:
    """`generated`, ingested batch by batch into the landing tables."""
    return {batch: pipeline.ingest(settings, applied, batch_id=batch).detail for batch in SMALL_BATCHES}


@pytest.fixture(scope="session")
def loaded(settings: Settings, ingested: dict[str, IngestSummary], applied: Endpoints) -> dict[str, Loaded]:
    """`ingested`, loaded batch by batch into the raw vault."""
    return {b: pipeline.load(settings, applied, batch_id=b).detail for b in SMALL_BATCHES}


@pytest.fixture(scope="session")
def built(settings: Settings, loaded: dict[str, Loaded], applied: Endpoints) -> Built:
    """`loaded`, with the dbt marts built over it (bronze, silver, gold and their tests)."""
    return pipeline.dbt_build(settings, applied).detail


@pytest.fixture(scope="session")
def landed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same plan as `generated`, written to a folder, for pure tests of the files."""
    from procedures.landing import DirectorySink
    from procedures.sample_data import Plan, generate

    root = tmp_path_factory.mktemp("landing")
    generate(Plan.build(**SMALL), DirectorySink(str(root)))
    return root


def land_files(
    endpoints: Endpoints,
    entity: str,
    load_date: str,
    files: dict[str, Any],
    delivery: str | None = None,
    landing_prefix: str = "landing/",
) -> str:
    """Put hand-made producer files (name -> pyarrow table, or (bytes, promised rows); format
    from the extension) and their control file into the local landing bucket (under
    ``landing_prefix``); returns the batch id. ``delivery`` is what the control file says
    the files cover (by default what the producers say: ``full`` for a snapshot entity,
    else ``delta``)."""
    from lake.local.serve import s3_client
    from procedures import landing, spec

    producer = spec.entity(entity).producer
    batch = landing.batch_id_for_date(load_date)
    prefix = f"{landing_prefix}{producer}/{entity}/load_date={load_date}/"
    formats = {ext: fmt for fmt, ext in landing.EXTENSIONS.items()}
    s3 = s3_client(endpoints.s3_endpoint)
    control = []
    for name, table in files.items():
        fmt = formats[name.rsplit(".", 1)[1]]
        # a pyarrow table is serialised as the producers do; (bytes, rows) is landed as it is
        body, rows = (landing.serialise(table, fmt), table.num_rows) if hasattr(table, "num_rows") else table
        s3.put_object(Bucket=endpoints.bucket, Key=prefix + name, Body=body)
        control.append(
            {
                "batch_id": batch,
                "producer": producer,
                "entity": entity,
                "load_date": load_date,
                "file_name": name,
                "file_format": fmt,
                "row_count": rows,
                "bytes": len(body),
                "md5": landing.md5_hex(body),
                "delivery": delivery or ("full" if spec.entity(entity).snapshot else "delta"),
            }
        )
    s3.put_object(Bucket=endpoints.bucket, Key=prefix + landing.CONTROL_FILE, Body=landing.control_file(control))
    return batch


def fresh_vault(settings: Settings, conn: Any, name: str) -> str:
    """An empty raw vault in schema ``name``, beside the shared one: the schemas, the
    vault's tables and its views (sql/010, 040, 050), not the rest of sql/."""
    import shutil
    import tempfile

    from lake import sqlfiles

    names = settings.names.model_copy(update={"vault": name})
    with tempfile.TemporaryDirectory(prefix="lake-vault-sql-") as folder:
        for file in ("010_database.sql", "040_vault.sql", "050_vault_views.sql"):
            shutil.copy(sqlfiles.SQL_DIR / file, Path(folder) / file)
        sqlfiles.apply(conn, settings.model_copy(update={"names": names}), Path(folder))
    return name
