"""Landing-zone reconciliation: what the producers' control files promise against what
the stage lists.

For every ``_control.csv`` under the landing prefix: each file it names must be in the
stage with the same size and MD5 (S3's ETag for a single-part upload, which LIST
reports), no other file may sit in its folder, the folder must be a producer's entity of
the spec and the control file must follow the contract (docs/producer-contract.md).
What needs the files read (row counts) is ingestion's, recorded in
``LANDING.RECONCILIATION`` (``recorded``); ``lake quality --landing-only`` shows both and
exits 1 when either found a problem.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from procedures import landing

# folders of the landing bucket that hold no delivery: the generator's manifest, and the
# files withdrawn by `lake landing withdraw` (kept, out of every reader's way)
NOT_DELIVERIES = ("_generator/", "_withdrawn/")


@dataclass(frozen=True)
class Problem:
    partition: str
    file_name: str
    # LIST: missing | extra | size_mismatch | md5_mismatch | unreadable_control | unknown_folder;
    # recorded by ingestion in LANDING.RECONCILIATION: procedures.ingest.ISSUES
    kind: str
    detail: str

    @property
    def path(self) -> str:
        return f"{self.partition}/{self.file_name}"


@dataclass
class Partition:
    producer: str
    entity: str
    load_date: str
    files: int = 0
    rows: int = 0
    bytes: int = 0


@dataclass
class Reconciliation:
    partitions: list[Partition] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def listed_files(conn: Any, stage: str) -> dict[str, tuple[int, str]]:
    """``LIST @stage``: key under the landing prefix -> (size, md5)."""
    cur = conn.cursor()
    cur.execute(f"LIST @{stage}")
    return {str(name): (int(size), str(md5)) for name, size, md5, _ in cur.fetchall()}


def reconcile(conn: Any, s3: Any, landing_url: str, stage: str, batch: str = "") -> Reconciliation:
    """Every delivery folder (or only ``batch``'s) against its control file: each file it
    names is listed with the same size and MD5, every other file of the folder is extra
    (whatever its name), and the folder and control file are the contract's."""
    bucket, prefix = landing.split_landing_url(landing_url)
    root = f"s3://{bucket}/{prefix}"
    listed = listed_files(conn, stage)
    by_partition: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for url, info in listed.items():
        key = url.removeprefix(root)
        if key.startswith(NOT_DELIVERIES):
            continue
        partition, _, name = key.rpartition("/")
        by_partition[partition][name] = info
    result = Reconciliation()
    for partition in sorted(by_partition):
        files = by_partition[partition]
        producer, entity, load_date = [*partition.split("/"), "", "", ""][:3]
        part = Partition(producer, entity, load_date.removeprefix("load_date="))
        if batch and (not part.load_date or landing.batch_id_for_date(part.load_date) != batch):
            continue
        result.partitions.append(part)
        if problem := landing.folder_problem(producer, entity):
            result.problems.append(Problem(partition, "", "unknown_folder", problem))
            continue
        if landing.CONTROL_FILE not in files:
            for name in sorted(files):
                result.problems.append(Problem(partition, name, "extra", "no control file in this folder"))
            continue
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}{partition}/{landing.CONTROL_FILE}")["Body"].read()
        if unreadable := landing.control_problems(body):
            result.problems.append(
                Problem(partition, landing.CONTROL_FILE, "unreadable_control", "; ".join(unreadable))
            )
            continue
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        expected = {
            r["file_name"].strip(): (int(r["row_count"]), int(r["bytes"]), r["md5"].strip().lower())
            for r in rows
            if r.get("file_name")
        }
        for name, (row_count, size, md5) in sorted(expected.items()):
            part.files += 1
            part.rows += row_count
            part.bytes += size
            if name not in files:
                result.problems.append(Problem(partition, name, "missing", f"{row_count} rows promised"))
            elif files[name][0] != size:
                result.problems.append(
                    Problem(partition, name, "size_mismatch", f"control says {size} bytes, stage has {files[name][0]}")
                )
            elif files[name][1] != md5:
                result.problems.append(
                    Problem(partition, name, "md5_mismatch", f"control says {md5}, stage has {files[name][1]}")
                )
        for name in sorted(files):
            if name != landing.CONTROL_FILE and name not in expected:
                result.problems.append(Problem(partition, name, "extra", "not named by the control file"))
    return result


def recorded(conn: Any, landing_schema: str, batch: str = "") -> list[Problem]:
    """What ingestion found and recorded in ``LANDING.RECONCILIATION`` (row counts against
    the control files, unusable control files, files changed after their load): the part
    of reconciliation that needs the files read."""
    cur = conn.cursor()
    where = "WHERE batch_id = %s" if batch else ""
    cur.execute(
        f"SELECT DISTINCT file_name, issue, detail, expected_rows, landed_rows FROM {landing_schema}.RECONCILIATION "
        f"{where} ORDER BY 1, 2",
        [batch] if batch else None,
    )
    found = []
    for file_name, issue, detail, expected, landed in cur.fetchall():
        partition, _, name = str(file_name).rpartition("/")
        said = detail or (f"{expected} rows promised, {landed} landed" if expected is not None else "")
        found.append(Problem(partition, name, str(issue), str(said)))
    return found
