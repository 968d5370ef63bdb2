"""The S3 landing zone: layout, file formats, control files and where bytes go.

Layout (one prefix per producer, entity and load date)::

    <landing_url>/<producer>/<entity>/load_date=YYYY-MM-DD/part-NNNN.<ext>
    <landing_url>/<producer>/<entity>/load_date=YYYY-MM-DD/_control.csv
    <landing_url>/_generator/manifest/load_date=YYYY-MM-DD/manifest.parquet

The control file is what an institutional producer sends with every batch: one row
per data file with its row count, byte size and MD5, so ingestion can reconcile what
arrived against what was sent. The generator's manifest lists every deliberate
defect and every late or out-of-order record it wrote, so later layers can prove
they catch them (a real producer sends no such file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from procedures.errors import UserError
from procedures.spec import PRODUCERS

FileFormat = Literal["parquet", "csv", "json"]
FORMATS: tuple[FileFormat, ...] = ("parquet", "csv", "json")
EXTENSIONS: dict[FileFormat, str] = {"parquet": "parquet", "csv": "csv", "json": "jsonl"}
CONTROL_FILE = "_control.csv"
# The control file's columns, with what each means (docs/producer-contract.md is written
# from this table by `make ddl`). Columns are read by name from the header, so their order
# is free; a column the file lacks takes its default.
CONTROL_FIELDS: tuple[tuple[str, str, str | None], ...] = (
    (
        "batch_id",
        "The delivery's batch, `B` and the load date (`B20260105`); the folder's load date decides the batch.",
        None,
    ),
    ("producer", "The producer folder (`crm`, `finance`, `operations`).", None),
    ("entity", "The entity folder (`customers`, `accounts`, ...).", None),
    ("load_date", "The load date, `YYYY-MM-DD`, as in the folder name.", None),
    ("file_name", "A data file of this folder, by its name (`part-0001.parquet`); one row per file.", None),
    ("file_format", "`parquet`, `csv` or `json` (newline-delimited).", None),
    ("row_count", "Rows in the file, a whole number (a CSV's header is not a row).", None),
    ("bytes", "The file's size in bytes.", None),
    ("md5", "The file's MD5, 32 hex digits (S3's ETag of a single-part upload).", None),
    (
        "delivery",
        "What the delivery covers: `delta` (changed rows only), `full` (a complete snapshot: a key it "
        "lacks is deleted) or `partial` (a snapshot the producer knows is incomplete: nothing is read as "
        "deleted). Empty or absent: `delta`.",
        "delta",
    ),
)
CONTROL_COLUMNS = tuple(name for name, _, _ in CONTROL_FIELDS)
# Versions of the control file's contract: each version's columns. A file is read by the
# columns its header names: a version-1 file (no `delivery`) is a delta delivery.
CONTROL_VERSIONS: dict[int, tuple[str, ...]] = {1: CONTROL_COLUMNS[:9], 2: CONTROL_COLUMNS}
CONTRACT_VERSION = max(CONTROL_VERSIONS)
REQUIRED_CONTROL_COLUMNS = CONTROL_VERSIONS[1]
CONTRACT_DOC = "docs/producer-contract.md"
DELIVERIES = ("delta", "full", "partial")
MANIFEST_PREFIX = "_generator/manifest"
# where a landing file may sit: <producer>/<entity>/load_date=YYYY-MM-DD/<file>, or the
# generator's manifest of injected defects
LAYOUT = re.compile(r"^(?:[a-z][a-z_]*/[a-z][a-z_]*|_generator/manifest)/load_date=\d{4}-\d{2}-\d{2}/[^/]+$")


def folder_problem(producer: str, entity: str) -> str | None:
    """Why ``<producer>/<entity>/`` is not a landing folder of the spec, or None."""
    from procedures.spec import ENTITY_BY_NAME

    if producer not in PRODUCERS:
        return f"no producer {producer!r}; producers: {', '.join(PRODUCERS)} ({CONTRACT_DOC})"
    found = ENTITY_BY_NAME.get(entity)
    own = ", ".join(e.name for e in ENTITY_BY_NAME.values() if e.producer == producer)
    if found is None:
        return f"no entity {entity!r}; {producer} delivers {own} ({CONTRACT_DOC})"
    if found.producer != producer:
        return f"{entity} is delivered by {found.producer}, not {producer}; {producer} delivers {own}"
    return None


def header_problems(header: Sequence[str]) -> list[str]:
    """What is wrong with a control file's header (its column names, lower-case) against
    the contract: a column no version has, a required column missing. Shared by `lake
    upload` (``control_problems``) and ingestion, which reads the header in the warehouse."""
    problems = []
    unknown = [c for c in header if c not in CONTROL_COLUMNS]
    if unknown:
        problems.append(
            f"unknown column(s) {', '.join(unknown)}; contract version {CONTRACT_VERSION} has "
            f"{', '.join(CONTROL_COLUMNS)} ({CONTRACT_DOC})"
        )
    lacking = [c for c in REQUIRED_CONTROL_COLUMNS if c not in header]
    if lacking:
        problems.append(f"lacks column(s) {', '.join(lacking)} ({CONTRACT_DOC})")
    return problems


def control_problems(body: bytes) -> list[str]:
    """What is wrong with a control file's bytes against the contract (header and rows), or
    nothing: a header naming a column the contract does not know or lacking a required
    one, a row whose row_count, bytes or md5 cannot be what it says, an unknown format or
    delivery kind. Each problem names the row (1 = the first line after the header)."""
    try:
        text = body.decode("utf-8")
        rows = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as err:
        return [f"not a UTF-8 CSV file: {err}"]
    if not rows or not any(cell.strip() for cell in rows[0]):
        return ["empty: a control file has a header line and one line per data file"]
    header = [cell.strip().lower() for cell in rows[0]]
    problems = header_problems(header)
    if problems:
        return problems
    for number, cells in enumerate(rows[1:], start=1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(f"row {number}: {len(cells)} fields, the header has {len(header)}")
            continue
        row = dict(zip(header, (c.strip() for c in cells), strict=True))
        for column in ("row_count", "bytes"):
            if not row[column].isdigit():
                problems.append(f"row {number}: {column} {row[column]!r} is not a whole number")
        if not re.fullmatch(r"[0-9a-fA-F]{32}", row["md5"]):
            problems.append(f"row {number}: md5 {row['md5']!r} is not 32 hex digits")
        if row["file_format"].lower() not in FORMATS:
            problems.append(f"row {number}: file_format {row['file_format']!r} is not one of {', '.join(FORMATS)}")
        if (row.get("delivery") or "delta").lower() not in DELIVERIES:
            problems.append(f"row {number}: delivery {row['delivery']!r} is not one of {', '.join(DELIVERIES)}")
        if not row["file_name"] or "/" in row["file_name"] or row["file_name"] == CONTROL_FILE:
            problems.append(f"row {number}: file_name {row['file_name']!r} is not a data file of this folder")
    return problems


def in_layout(path: str) -> bool:
    """Whether a landing-relative path is in the landing layout."""
    return bool(LAYOUT.match(path))


class LandingError(UserError, ValueError):
    """A landing location or format argument that cannot be used."""


def partition_prefix(producer: str, entity: str, load_date: date) -> str:
    return f"{producer}/{entity}/load_date={load_date.isoformat()}/"


def data_file_name(part: int, file_format: FileFormat) -> str:
    return f"part-{part:04d}.{EXTENSIONS[file_format]}"


def manifest_key(load_date: date) -> str:
    return f"{MANIFEST_PREFIX}/load_date={load_date.isoformat()}/manifest.parquet"


def batch_id_for(load_date: date) -> str:
    """One batch per load date across producers: ``B20260105``."""
    return f"B{load_date:%Y%m%d}"


def batch_id_for_date(iso_date: str) -> str:
    return batch_id_for(date.fromisoformat(iso_date))


def parse_formats(spec: str) -> dict[str, FileFormat]:
    """Parse ``parquet`` or ``crm=csv,finance=json`` into a format per producer.

    A bare format applies to every producer; ``producer=format`` pairs override it.
    """
    result: dict[str, FileFormat] = dict.fromkeys(PRODUCERS, "parquet")
    for raw in (spec or "parquet").split(","):
        item = raw.strip().lower()
        if not item:
            continue
        producer, _, fmt = item.rpartition("=")
        if fmt not in FORMATS:
            raise LandingError(f"unknown file format {fmt!r} in formats={spec!r}; use one of {', '.join(FORMATS)}")
        if producer and producer not in PRODUCERS:
            raise LandingError(f"unknown producer {producer!r} in formats={spec!r}; use one of {', '.join(PRODUCERS)}")
        for p in [producer] if producer else PRODUCERS:
            result[p] = fmt  # type: ignore[assignment]
    return result


def split_landing_url(url: str) -> tuple[str, str]:
    """``s3://bucket/landing/`` -> (``bucket``, ``landing/``)."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise LandingError(f"landing_url must look like s3://bucket/prefix/, got {url!r}")
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


# --------------------------------------------------------------------------- serialising


def serialise(table: pa.Table, file_format: FileFormat) -> bytes:
    """Encode a table of text columns; the same table always gives the same bytes."""
    if file_format == "parquet":
        buf = pa.BufferOutputStream()
        # dictionary-encode only the columns that arrive as dictionaries (small vocabularies);
        # trying it on unique ids and e-mails costs time and saves nothing
        coded = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
        pq.write_table(table, buf, compression="snappy", write_statistics=False, use_dictionary=coded)
        return bytes(buf.getvalue())
    if file_format == "csv":
        buf = pa.BufferOutputStream()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
        return bytes(buf.getvalue())
    if file_format == "json":
        return _ndjson(table)
    raise LandingError(f"unknown file format {file_format!r}")


def _json_string(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Vectorised JSON string literal: escape, quote, and null for null."""
    text = pc.cast(col, pa.string())
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        text = pc.replace_substring(text, old, new)
    quoted = pc.binary_join_element_wise('"', text, '"', "")
    return pc.fill_null(quoted, "null")


def _ndjson(table: pa.Table) -> bytes:
    """Newline-delimited JSON, one object per row, built column-wise."""
    if table.num_rows == 0:
        return b""
    parts: list[Any] = []
    for i, name in enumerate(table.column_names):
        parts.append(("{" if i == 0 else ",") + json.dumps(name) + ":")
        parts.append(_json_string(table.column(name)))
    parts.append("}")
    lines = pc.binary_join_element_wise(*parts, "")
    return ("\n".join(lines.to_pylist()) + "\n").encode()


def read_back(body: bytes, file_format: FileFormat) -> pa.Table:
    """Decode a landed file as text columns (used by tests and the local tools)."""
    if file_format == "parquet":
        return pq.read_table(io.BytesIO(body))
    if file_format == "csv":
        header = body.split(b"\n", 1)[0].decode()
        text = {name: pa.string() for name in next(csv.reader([header]))}
        return pacsv.read_csv(
            io.BytesIO(body),
            # like Snowflake's CSV defaults: an empty field is NULL, and "N/A" or "NULL" are text
            convert_options=pacsv.ConvertOptions(column_types=text, null_values=[""], strings_can_be_null=True),
        )
    rows = [json.loads(line) for line in body.decode().splitlines() if line]
    return pa.Table.from_pylist(rows)


def control_file(rows: Sequence[Mapping[str, object]]) -> bytes:
    """The producer's control file: a header and one line per data file."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CONTROL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def md5_hex(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


# --------------------------------------------------------------------------- sinks


class Sink(Protocol):
    """Where landed bytes go: the S3 landing bucket, or a folder for `lake generate --out`."""

    def put(self, key: str, body: bytes) -> None: ...


@dataclass
class S3Sink:
    """Writes under ``s3://bucket/prefix``.

    Credentials and endpoint come from boto3's own chain (environment, profile, role);
    the local runner sets ``AWS_ENDPOINT_URL_S3`` to the moto server. Inside Snowflake the
    procedure reaches S3 through an external access integration and reads the key pair
    from a Snowflake secret (see ``s3_client``).
    """

    bucket: str
    prefix: str
    client: Any

    def put(self, key: str, body: bytes) -> None:
        """Write a new object; landing files are immutable once written. The write is
        conditional (``If-None-Match: *``, so two writers cannot both create it); the same
        bytes again are accepted (a re-run with the same seed writes identical files), other
        bytes under an existing name are refused."""
        name = self.prefix + key
        try:
            self.client.put_object(Bucket=self.bucket, Key=name, Body=body, IfNoneMatch="*")
        except Exception as err:
            status = getattr(err, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status not in (409, 412):
                raise
            existing = str(self.client.head_object(Bucket=self.bucket, Key=name).get("ETag", "")).strip('"')
            if existing != md5_hex(body):
                raise LandingError(
                    f"s3://{self.bucket}/{name} already holds another file: landing files are immutable once "
                    "written (ingestion may have loaded it). Write a new load date or part name instead."
                ) from None

    def check_writable(self) -> None:
        """Fail early, naming the bucket, rather than after generating a day of data."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as err:
            raise LandingError(f"landing bucket s3://{self.bucket}/ is not writable: {err}") from err


@dataclass
class DirectorySink:
    """Writes the same layout into a local folder."""

    root: str

    def put(self, key: str, body: bytes) -> None:
        path = os.path.join(self.root, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(body)

    def check_writable(self) -> None:
        try:
            os.makedirs(self.root, exist_ok=True)
            probe = os.path.join(self.root, ".write-probe")
            with open(probe, "wb"):
                pass
            os.remove(probe)
        except OSError as err:
            raise LandingError(f"output folder {self.root!r} is not writable: {err.strerror}") from err


def s3_client() -> Any:
    """A boto3 S3 client for the landing bucket.

    In Snowflake the procedure is created with ``SECRETS = ('landing_s3' = ...)`` and an
    external access integration to the bucket's endpoint; the secret holds the AWS key id
    as username and the secret key as password. Elsewhere boto3's default chain applies.
    See https://docs.snowflake.com/en/developer-guide/external-network-access/external-network-access-overview
    """
    import boto3

    try:
        import _snowflake  # only exists inside Snowflake
    except ImportError:
        return boto3.client("s3")
    creds = _snowflake.get_username_password("landing_s3")
    return boto3.client("s3", aws_access_key_id=creds.username, aws_secret_access_key=creds.password)
