"""The AWS Glue Data Catalog over the landing zone, as in the brief.

``sync`` registers every landing entity as a Glue table (``<producer>_<entity>``, every
column a string, as landed) in one database, with a partition per load date; the
partition's storage names its own format (a producer may send CSV one day and Parquet
the next). Partitions come from the landing layout itself
(``<producer>/<entity>/load_date=<date>/``), so the catalog always matches what landed.
Idempotent: a run adds what is new and leaves the rest.

Locally it talks to the moto server (Glue and S3 on the same endpoint); against AWS it
uses boto3's default credential chain. Crawlers over the same prefixes are defined with
the infrastructure (``cdktf/``) for production; this module needs none.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

from procedures import landing, spec

PARTITION = re.compile(
    r"^(?P<producer>[a-z_]+)/(?P<entity>[a-z_]+)/load_date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<file>[^/]+)$"
)
SERDES: dict[str, dict[str, Any]] = {
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
    },
    "csv": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": ",", "quoteChar": '"', "skip.header.line.count": "1"},
        },
    },
    "json": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    },
}
FORMAT_BY_EXTENSION = {ext: fmt for fmt, ext in landing.EXTENSIONS.items()}


@dataclass
class CatalogReport:
    database: str
    tables: dict[str, int] = field(default_factory=dict)  # table -> partitions
    added_partitions: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "tables": len(self.tables),
            "partitions": sum(self.tables.values()),
            "added_partitions": self.added_partitions,
        }


def table_name(entity: spec.Entity) -> str:
    return f"{entity.producer}_{entity.name}"


def landed_partitions(s3: Any, bucket: str, prefix: str) -> dict[tuple[str, str], dict[str, str]]:
    """(producer, entity) -> {load_date: file format}, from the objects under ``prefix``."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            match = PARTITION.match(obj["Key"][len(prefix) :])
            if not match or match["file"] == landing.CONTROL_FILE:
                continue
            fmt = FORMAT_BY_EXTENSION.get(match["file"].rsplit(".", 1)[-1])
            if fmt is not None:
                found.setdefault((match["producer"], match["entity"]), {})[match["date"]] = fmt
    return found


def _storage(location: str, columns: list[dict[str, str]], fmt: str) -> dict[str, Any]:
    return {"Columns": columns, "Location": location, **SERDES[fmt]}


def sync(glue: Any, s3: Any, landing_url: str, database: str) -> CatalogReport:
    """Register every landed entity and its load-date partitions in ``database``."""
    started = time.perf_counter()
    bucket, prefix = landing.split_landing_url(landing_url)
    report = CatalogReport(database)
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": database, "Description": "Producer files in the landing zone"})
    partitions = landed_partitions(s3, bucket, prefix)
    for ent in spec.ENTITIES:
        dates = partitions.get((ent.producer, ent.name), {})
        location = f"s3://{bucket}/{prefix}{ent.producer}/{ent.name}/"
        columns = [{"Name": c.name, "Type": "string", "Comment": c.description[:255]} for c in ent.columns]
        table_input = {
            "Name": table_name(ent),
            "Description": ent.description,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": "load_date", "Type": "string"}],
            "Parameters": {"producer": ent.producer, "entity": ent.name, "classification": "mixed"},
            "StorageDescriptor": _storage(location, columns, "parquet"),
        }
        try:
            glue.create_table(DatabaseName=database, TableInput=table_input)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table_input)
        known = {
            p["Values"][0]
            for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table_name(ent))
            for p in page["Partitions"]
        }
        new = [
            {
                "Values": [day],
                "StorageDescriptor": _storage(f"{location}load_date={day}/", columns, fmt),
            }
            for day, fmt in sorted(dates.items())
            if day not in known
        ]
        for i in range(0, len(new), 100):  # the API takes at most 100 at a time
            result = glue.batch_create_partition(
                DatabaseName=database, TableName=table_name(ent), PartitionInputList=new[i : i + 100]
            )
            if result.get("Errors"):
                raise RuntimeError(f"Glue refused partitions of {table_name(ent)}: {result['Errors'][:3]}")
        report.added_partitions += len(new)
        report.tables[table_name(ent)] = len(known | set(dates))
    report.seconds = time.perf_counter() - started
    return report
