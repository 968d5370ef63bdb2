"""The Glue Data Catalog over the landing zone: every landing entity a table, every load
date a partition with its own format; a second sync adds nothing; a restarted local
server catalogues the landing zone it restores."""

from __future__ import annotations

from typing import Any

import pytest

from lake import catalog, pipeline
from lake.config import Settings
from lake.local.stack import Endpoints
from procedures import spec
from tests.conftest import SMALL

pytestmark = pytest.mark.integration


def test_every_landing_entity_is_a_table_with_its_partitions(
    settings: Settings, generated: dict[str, Any], applied: Endpoints
) -> None:
    pipeline.catalog_sync(settings, applied)
    glue, _ = pipeline.aws_clients(applied)
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName=settings.glue_database)["TableList"]}
    assert set(tables) >= {catalog.table_name(e) for e in spec.ENTITIES}
    customers = tables["crm_customers"]
    assert [c["Name"] for c in customers["StorageDescriptor"]["Columns"]] == list(spec.entity("customers").column_names)
    assert customers["PartitionKeys"] == [{"Name": "load_date", "Type": "string"}]
    assert customers["StorageDescriptor"]["Location"] == f"{settings.landing_url}crm/customers/"
    for ent in spec.ENTITIES:
        parts = glue.get_partitions(DatabaseName=settings.glue_database, TableName=catalog.table_name(ent))
        days = {p["Values"][0] for p in parts["Partitions"]}
        assert {"2026-01-05", "2026-01-06", "2026-01-07"} <= days, ent.name
    # the small plan sends crm as CSV: the partition says so
    parts = glue.get_partitions(DatabaseName=settings.glue_database, TableName="crm_customers")["Partitions"]
    serde = {p["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] for p in parts if p["Values"][0] < "2027"}
    assert "crm=csv" in SMALL["formats"] and serde == {"org.apache.hadoop.hive.serde2.OpenCSVSerde"}
    again = pipeline.catalog_sync(settings, applied).detail
    assert again["added_partitions"] == 0 and again["tables"] == len(spec.ENTITIES)


def test_a_restarted_local_server_catalogues_the_landing_zone_it_restores(tmp_path: Any) -> None:
    from lake.config import LocalTarget
    from lake.local.serve import s3_client
    from lake.local.stack import LocalStack

    local = LocalTarget(state_dir=tmp_path / "state")
    stack = LocalStack(local, "restored_catalog")
    with stack.ensure() as endpoints:
        key = f"{local.landing_prefix}crm/customers/load_date=2026-02-01/part-0000.parquet"
        s3_client(endpoints.s3_endpoint).put_object(Bucket=local.bucket, Key=key, Body=b"PAR1")
    with stack.ensure() as endpoints:  # a new server process: moto's catalog starts empty
        glue, _ = pipeline.aws_clients(endpoints)
        parts = glue.get_partitions(DatabaseName="restored_catalog", TableName="crm_customers")["Partitions"]
        assert [p["Values"] for p in parts] == [["2026-02-01"]]
