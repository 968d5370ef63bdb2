"""Benchmark: dbt build over the 10-million-row vault, full and then incremental.

1. Generate two days at ``--scale`` customers (541,000 gives about 10 million rows on day
   1) into a fresh local stack; ingest and load day 1 into the vault (not timed).
2. Full: ``dbt build --full-refresh`` (every model and test) over day 1.
3. Ingest and load day 2 (not timed), then the next day's ``dbt build``: the incremental
   models take only the new satellite rows (``delete+insert``).

Last line: a JSON object with name, rows (landed rows in the vault's day 1), seconds
(full build), incremental_seconds and ratio (full / incremental). Target: the incremental
run at most 25% of the full build's time (ratio >= 4).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lake import pipeline  # noqa: E402
from lake.config import LocalTarget, Settings  # noqa: E402
from lake.local.stack import LocalStack  # noqa: E402

DAY1, DAY2 = "B20260105", "B20260106"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=541_000, help="customers on day 1 (541,000: about 10M rows)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lake-bench-dbt-") as state:
        settings = Settings(local=LocalTarget(state_dir=Path(state)))
        with LocalStack(settings.local).ensure(persist_s3=False) as endpoints:
            pipeline.setup(settings, endpoints)
            pipeline.generate(settings, endpoints, scale=args.scale, days=2, seed=42)
            rows = pipeline.ingest(settings, endpoints, batch_id=DAY1).detail["total_rows"]
            pipeline.load(settings, endpoints, batch_id=DAY1)

            full = pipeline.dbt_build(settings, endpoints, ("--full-refresh",))
            next_rows = pipeline.ingest(settings, endpoints, batch_id=DAY2).detail["total_rows"]
            pipeline.load(settings, endpoints, batch_id=DAY2)
            started = time.perf_counter()
            incremental = pipeline.dbt_build(settings, endpoints)
            incremental_seconds = time.perf_counter() - started
    for step in (full, incremental):
        bad = [p for p in step.detail["problems"] if p["status"] not in ("warn",)]
        assert not bad, bad
    result = {
        "name": "dbt_build",
        "rows": rows,
        "seconds": round(full.seconds, 2),
        "incremental_seconds": round(incremental_seconds, 2),
        "ratio": round(full.seconds / incremental_seconds, 2),
        "next_day_rows": next_rows,
        "marts": full.detail["marts"],
    }
    print(f"dbt build: full {full.seconds:.1f}s over {rows:,} rows; next day {incremental_seconds:.1f}s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
