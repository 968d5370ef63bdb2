"""Landing-zone reconciliation: what the producers' control files promise against what
the stage lists.

For every ``_control.csv`` under the landing prefix: each file it names must be in the
stage with the same size and MD5 (S3's ETag for a single-part upload, which LIST
reports), and no data file may sit in a partition without being named. This is the
first quality gate: it runs before ingestion trusts a batch.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from procedures import landing

DATA_FILE_PREFIX = "part-"


@dataclass(frozen=True)
class Problem:
    partition: str
    file_name: str
    kind: str  # missing | extra | size_mismatch | md5_mismatch | unreadable_control
    detail: str


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


def reconcile(conn: Any, s3: Any, landing_url: str, stage: str) -> Reconciliation:
    bucket, prefix = landing.split_landing_url(landing_url)
    root = f"s3://{bucket}/{prefix}"
    listed = listed_files(conn, stage)
    by_partition: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict)
    for url, info in listed.items():
        key = url.removeprefix(root)
        if key.startswith("_generator/"):
            continue
        partition, _, name = key.rpartition("/")
        by_partition[partition][name] = info
    result = Reconciliation()
    for partition in sorted(by_partition):
        files = by_partition[partition]
        producer, entity, load_date = [*partition.split("/"), "", "", ""][:3]
        part = Partition(producer, entity, load_date.removeprefix("load_date="))
        result.partitions.append(part)
        if landing.CONTROL_FILE not in files:
            for name in sorted(n for n in files if n.startswith(DATA_FILE_PREFIX)):
                result.problems.append(Problem(partition, name, "extra", "no control file in this partition"))
            continue
        body = s3.get_object(Bucket=bucket, Key=f"{prefix}{partition}/{landing.CONTROL_FILE}")["Body"].read()
        try:
            rows = list(csv.DictReader(io.StringIO(body.decode())))
            expected = {r["file_name"]: (int(r["row_count"]), int(r["bytes"]), r["md5"]) for r in rows}
        except (KeyError, ValueError, UnicodeDecodeError) as err:
            result.problems.append(Problem(partition, landing.CONTROL_FILE, "unreadable_control", str(err)))
            continue
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
            if name.startswith(DATA_FILE_PREFIX) and name not in expected:
                result.problems.append(Problem(partition, name, "extra", "not named by the control file"))
    return result
