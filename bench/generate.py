"""Benchmark: the vectorised generator against Faker row by row, in one run.

Three measurements:

1. ours: 1,000,000 customers (the widest entity, 18 text columns) built, encoded as
   Parquet and checksummed, into a sink that keeps only the byte count;
2. the baseline: the original brief's way, one Faker call per field per row, then the
   same Parquet encoding, on a sample (it makes about 2,000 rows a second, so a million
   would take minutes); its time is scaled to the same rows for the ratio;
3. scale: 10 million rows across all entities written to a folder, in a child process
   whose peak resident memory is reported.

The last line is a JSON object: name, rows, seconds, baseline_seconds, ratio, and more.
Targets (2-core machine): ratio >= 300, >= 1,000,000 customer rows/s, 10M rows under 2 GiB.
"""

from __future__ import annotations

import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procedures import landing, spec  # noqa: E402
from procedures.sample_data import Plan, generate  # noqa: E402

CUSTOMERS = 1_000_000
BASELINE_ROWS = 5_000
TEN_MILLION_SCALE = 541_000  # about 18.5 rows per customer on day 1 across the entities


class CountingSink:
    def __init__(self) -> None:
        self.bytes = 0

    def put(self, key: str, body: bytes) -> None:
        self.bytes += len(body)


def ours(repeats: int = 3) -> tuple[int, float, list[float]]:
    """Median of ``repeats`` runs, after a small warm-up run (Faker vocabularies, Arrow
    kernels and the thread pool's first start are one-off costs, not per-row ones)."""
    generate(Plan.build(scale=20_000, days=1, seed=42, entities="customers"), CountingSink())
    plan = Plan.build(scale=CUSTOMERS, days=1, seed=42, entities="customers")
    times, rows = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = generate(plan, CountingSink()).rows["customers"]
        times.append(time.perf_counter() - started)
    return rows, sorted(times)[len(times) // 2], times


def faker_row_by_row(rows: int) -> float:
    """The customer schema generated the way the original brief's script did."""
    from faker import Faker

    fake = Faker()
    Faker.seed(42)
    rnd = random.Random(42)
    started = time.perf_counter()
    records = []
    for i in range(rows):
        first, last = fake.first_name(), fake.last_name()
        records.append(
            {
                "customer_id": f"C{i:09d}",
                "legal_name": fake.company(),
                "first_name": first,
                "last_name": last,
                "email": fake.email(),
                "phone": fake.phone_number(),
                "date_of_birth": fake.date_of_birth(minimum_age=25, maximum_age=75).isoformat(),
                "tax_id": fake.ssn(),
                "address_line": fake.street_address(),
                "city": fake.city(),
                "postal_code": fake.postcode(),
                "domicile_country": rnd.choice(spec.DOMICILES),
                "client_segment": rnd.choice(spec.CLIENT_SEGMENTS),
                "lifecycle_stage": rnd.choice(spec.LIFECYCLE_STAGES),
                "risk_rating": rnd.choice(spec.RISK_RATINGS),
                "kyc_status": rnd.choice(spec.KYC_STATUSES),
                "onboarded_at": fake.date_between(start_date="-15y", end_date="today").isoformat(),
                "updated_at": fake.date_time_between(start_date="-1y", end_date="now").strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), buf, compression="snappy")
    landing.md5_hex(buf.getvalue())
    return time.perf_counter() - started


def ten_million() -> dict[str, float]:
    """All entities, about 10M rows, to a folder, in a child process: its peak RSS."""
    with tempfile.TemporaryDirectory(prefix="lake-bench-") as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(TEN_MILLION_SCALE), out],
            check=True,
            capture_output=True,
            text=True,
        )
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "rows": measured["rows"],
        "seconds": round(measured["seconds"], 2),
        "peak_rss_mib": round(max(peak_kib, before) / 1024, 1),
        "bytes": size,
    }


def child(scale: int, out: str) -> None:
    started = time.perf_counter()
    result = generate(Plan.build(scale=scale, days=1, seed=42), landing.DirectorySink(out))
    print(json.dumps({"rows": result.as_dict()["total_rows"], "seconds": time.perf_counter() - started}))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), sys.argv[3])
        return
    rows, seconds, runs = ours()
    baseline_measured = faker_row_by_row(BASELINE_ROWS)
    baseline_seconds = baseline_measured * rows / BASELINE_ROWS
    big = ten_million()
    result = {
        "name": "generate",
        "rows": rows,
        "seconds": round(seconds, 3),
        "runs_seconds": [round(t, 3) for t in runs],
        "baseline_seconds": round(baseline_seconds, 1),
        "baseline_measured_rows": BASELINE_ROWS,
        "baseline_measured_seconds": round(baseline_measured, 2),
        "ratio": round(baseline_seconds / seconds, 1),
        "customer_rows_per_second": round(rows / seconds),
        "all_entities_rows": big["rows"],
        "all_entities_seconds": big["seconds"],
        "all_entities_peak_rss_mib": big["peak_rss_mib"],
        "all_entities_bytes": big["bytes"],
    }
    print(
        f"ours: {rows:,} customers in {seconds:.2f}s ({rows / seconds:,.0f} rows/s); "
        f"Faker row by row: {BASELINE_ROWS:,} rows in {baseline_measured:.2f}s; "
        f"all entities: {big['rows']:,} rows in {big['seconds']}s, peak {big['peak_rss_mib']} MiB"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
