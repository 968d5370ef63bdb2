"""The landing files of an erased subject, rewritten without its personal values.

``ERASE_SUBJECT`` overwrites what the lake's tables hold; the producers' files in the S3
landing zone hold the same values. A stored procedure cannot rewrite an S3 object in
place, so ``lake erase`` does it from the machine, with the landing bucket's credentials,
right after the procedure:

* the files come from the landing tables (``FILE_NAME`` of the subject's rows, found by
  key): only those are read and written, never the whole zone;
* each is read, the subject's rows get NULL in every personal column, and it is written
  back in its own format under the same key; the partition's control file gets the new
  size and MD5, so reconciliation still agrees with the zone;
* older versions of both objects are deleted (the landing bucket is versioned, and a
  noncurrent version still holds the values);
* each rewrite is recorded in ``AUDIT.REWRITTEN_FILES``: ingestion does not report the file
  as changed after load, and does not load it again (its control file was ingested).

``scan`` searches every landing data file for values (the verification): a cell equal to
one of them (trimmed, case-insensitive), as the table scan compares.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from procedures import erasure, landing, spec

FORMATS = {extension: file_format for file_format, extension in landing.EXTENSIONS.items()}


@dataclass
class Rewrite:
    files: list[str] = field(default_factory=list)
    rows: int = 0
    versions_deleted: int = 0
    keys: dict[str, set[str]] = field(default_factory=dict)  # entity -> business keys of the rows blanked
    unreadable: list[str] = field(default_factory=list)  # files no reader parses: not rewritten


def _format(key: str) -> landing.FileFormat:
    return FORMATS[key.rsplit(".", 1)[-1]]


def _read(body: bytes, key: str) -> pa.Table | None:
    """A landing file as text columns, or None when no reader parses it (empty, truncated,
    not its format: INGEST_LANDING lists such a file under failed_files)."""
    try:
        return landing.read_back(body, _format(key))
    except (ValueError, pa.ArrowException):
        return None


def _delete_older_versions(s3: Any, bucket: str, key: str) -> int:
    """Every version of ``key`` but the latest (none on an unversioned bucket)."""
    deleted = 0
    for version in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []):
        if version["Key"] == key and not version["IsLatest"] and version.get("VersionId") not in (None, "null"):
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
            deleted += 1
    return deleted


def _nulled(column: pa.ChunkedArray | pa.Array, mask: pa.Array) -> pa.Array:
    """``column`` with NULL where ``mask`` is true."""
    return pc.if_else(mask, pa.nulls(len(column), column.type), column)


def _blanked(table: pa.Table, place: erasure.Place, customer_id: str) -> tuple[pa.Table, int, set[str]]:
    """The subject's rows with NULL in every personal column, how many, and their keys. A
    row is the subject's when its subject column is the client's key as the hash recipe
    reads it (trimmed, upper-cased): the same rows the hash key finds, compared column-wise."""
    if place.subject_column not in table.column_names:
        return table, 0, set()  # schema drift: no row of the file can be told to be the subject's
    subject = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(table.column(place.subject_column), pa.string())))
    mask = pc.fill_null(pc.equal(subject, customer_id.strip().upper()), False)
    blanked: set[str] = set()
    if place.entity.key in table.column_names:
        keys = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(table.column(place.entity.key), pa.string())))
        blanked = {str(k) for k in pc.filter(keys, mask).to_pylist() if k is not None}
    for name in place.columns:
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, _nulled(table.column(name), mask))
    return table, int(pc.sum(mask).as_py() or 0), blanked


def not_ingested(s3: Any, bucket: str, prefix: str, entity: spec.Entity, ingested: set[str]) -> list[str]:
    """The entity's landing data files that no ingestion has read (``ingested``: the file
    names its landing table holds): a delivery waiting for INGEST_LANDING, or one it
    could not read. Landing-relative names, as ingestion records them: from the file list
    it gives COPY, never from METADATA$FILENAME, whose path differs between Snowflake and
    the local engine (lake/local/strict.py, ``metadata_filename``)."""
    names = []
    folder = f"{prefix}{entity.producer}/{entity.name}/"
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            if name.rsplit(".", 1)[-1] in FORMATS and name not in ingested:
                names.append(name)
    return names


def withdrawn(s3: Any, bucket: str, prefix: str, entity: spec.Entity) -> list[str]:
    """The entity's data files withdrawn or superseded by a correction (`lake landing`):
    kept under ``_withdrawn/<time>/<producer>/<entity>/...``, so they may hold a subject's
    values as much as the files in place."""
    from lake.corrections import WITHDRAWN_PREFIX

    names = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{WITHDRAWN_PREFIX}/"):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            parts = name.split("/")
            if parts[2:4] == [entity.producer, entity.name] and name.rsplit(".", 1)[-1] in FORMATS:
                names.append(name)
    return names


def rewrite(
    s3: Any, bucket: str, prefix: str, files: dict[str, erasure.Place], customer_id: str
) -> tuple[Rewrite, dict[str, str]]:
    """Rewrite those of ``files`` (landing-relative key -> the place its rows belong to)
    that hold the subject's rows; returns what was done and each file's new MD5. A file no
    reader parses is listed as unreadable and left as it is (the verification, which
    searches its bytes, says whether it holds the values)."""
    done, md5s = Rewrite(), {}
    controls: dict[str, dict[str, tuple[int, str]]] = {}
    for name, place in sorted(files.items()):
        key = prefix + name
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        read = _read(body, name)
        if read is None:
            done.unreadable.append(name)
            continue
        table, hits, blanked = _blanked(read, place, customer_id)
        if not hits:
            continue
        done.keys.setdefault(place.entity.name, set()).update(blanked)
        new = landing.serialise(table, _format(name))
        s3.put_object(Bucket=bucket, Key=key, Body=new)
        done.versions_deleted += _delete_older_versions(s3, bucket, key)
        done.files.append(name)
        done.rows += hits
        md5s[name] = landing.md5_hex(new)
        partition, _, file_name = name.rpartition("/")
        controls.setdefault(partition, {})[file_name] = (len(new), md5s[name])
    for partition, changed in controls.items():
        key = f"{prefix}{partition}/{landing.CONTROL_FILE}"
        try:
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        except s3.exceptions.NoSuchKey:
            continue  # a withdrawn data file kept without its control file

        rows = list(csv.DictReader(io.StringIO(text)))
        for row in rows:
            if row["file_name"] in changed:
                row["bytes"], row["md5"] = str(changed[row["file_name"]][0]), changed[row["file_name"]][1]
        s3.put_object(Bucket=bucket, Key=key, Body=landing.control_file(rows))
        done.versions_deleted += _delete_older_versions(s3, bucket, key)
    return done, md5s


def record(session: Any, audit_schema: str, md5s: dict[str, str], request_id: str) -> None:
    """Each rewritten file with its new MD5 in ``AUDIT.REWRITTEN_FILES``, so ingestion neither
    reports it as changed after its load nor loads it again."""
    from procedures.ingest import REWRITTEN_TABLE

    for name, md5 in md5s.items():
        session.sql(
            f"INSERT INTO {audit_schema}.{REWRITTEN_TABLE} (file_name, md5, request_id, rewritten_at) "
            "SELECT ?, ?, ?, SYSDATE()",
            params=[name, md5, request_id],
        ).collect()


def rewrite_manifests(s3: Any, bucket: str, prefix: str, keys: dict[str, set[str]]) -> Rewrite:
    """The sample-data generator's manifests (``_generator/manifest``) record the value of
    each injected defect: where the defect is in a personal column of one of the
    subject's rows (``keys``: entity -> the business keys of its rows), the value is
    blanked the same way."""
    done = Rewrite()
    personal = {p.entity.name: set(p.columns) for p in erasure.places()}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + landing.MANIFEST_PREFIX):
        for item in page.get("Contents", []):
            key = item["Key"]
            table = landing.read_back(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), "parquet")
            hit = [
                entity in keys
                and (business_key or "").strip().upper() in keys[entity]
                and column in personal.get(entity, set())
                for entity, business_key, column in zip(
                    table["entity"].to_pylist(),
                    table["business_key"].to_pylist(),
                    table["column_name"].to_pylist(),
                    strict=True,
                )
            ]
            if not any(hit):
                continue
            blanked = _nulled(table["injected_value"], pa.array(hit))
            table = table.set_column(table.column_names.index("injected_value"), "injected_value", blanked)
            s3.put_object(Bucket=bucket, Key=key, Body=landing.serialise(table, "parquet"))
            done.versions_deleted += _delete_older_versions(s3, bucket, key)
            done.files.append(key[len(prefix) :])
            done.rows += sum(hit)
    return done


def scan(s3: Any, bucket: str, prefix: str, values: set[str]) -> dict[str, int]:
    """Per landing file, how many of ``values`` it holds (case-insensitive); only files
    with a match are listed."""
    if not values:
        return {}
    wanted = {v.upper() for v in values}
    found: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.rsplit(".", 1)[-1] not in FORMATS:
                continue  # a control file names files, never a value (the manifests are Parquet: read)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            table = _read(body, key)
            if table is None:  # a file no reader parses: its bytes are searched instead
                text = body.decode("utf-8", errors="replace").upper()
                hits = sum(1 for value in wanted if value in text)
            else:
                cells = {str(v).strip().upper() for col in table.columns for v in col.to_pylist() if v is not None}
                hits = len(wanted & cells)
            if hits:
                found[key[len(prefix) :]] = hits
    return found
