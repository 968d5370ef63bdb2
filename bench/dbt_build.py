"""Benchmark: dbt build over the 10-million-row vault, full and then incremental.

1. Generate ``--days`` + 1 days at ``--scale`` customers into a fresh local stack (the
   defaults, 176,600 customers and 8 days, land about 10 million rows in days 1 to 8:
   the initial book with its history, then daily activity); ingest and load days 1 to 8
   into the vault (not timed).
2. Full: ``dbt build --full-refresh`` (every model and data test) over that vault.
3. Ingest and load the next day (about 9% of the vault; not timed), then the scheduled
   ``dbt build``: the incremental models take only what the vault gained.

4. Two floors, in the same run: the scheduled build again with nothing new in the vault
   (every model and test still runs: the least a next day can take with these models and
   tests), and dbt with nothing to build (start-up: interpreter, imports, project parse).

5. The cost of converting money to the reporting currency, from the next day's
   run_results.json: the seconds of ``silver_exchange_rates`` (the daily rate grid) and its
   tests, and of the models that join it (the silver amounts, gold's holdings and totals),
   against the next day's whole build. (The join inside a model is not separable from the
   model's other work: its model's time bounds it.)

Last line: a JSON object with name, rows (landed rows in the vault), seconds (full build),
incremental_seconds, ratio (full / incremental), next_day_rows, noop_seconds and
startup_seconds (the floors) and their shares of the full build, and conversion (the
next day's seconds of the rate grid and of the converting models, and their shares). Target: the incremental
run at most 25% of the full build's time (ratio >= 4).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lake import dbt, pipeline  # noqa: E402
from lake.config import LocalTarget, Settings  # noqa: E402
from lake.local.stack import LocalStack  # noqa: E402
from procedures import landing  # noqa: E402
from procedures.sample_data import Plan  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=176_600, help="customers on day 1")
    parser.add_argument("--days", type=int, default=8, help="days in the vault before the next one")
    args = parser.parse_args()
    start = date(2026, 1, 5)
    batches = [landing.batch_id_for(start + timedelta(days=i)) for i in range(args.days + 1)]
    with tempfile.TemporaryDirectory(prefix="lake-bench-dbt-") as state:
        settings = Settings(local=LocalTarget(state_dir=Path(state)))
        with LocalStack(settings.local).ensure(persist_s3=False) as endpoints:
            pipeline.setup(settings, endpoints)
            plan = Plan.build(scale=args.scale, days=args.days + 1, seed=42, start_date=start.isoformat())
            pipeline.generate(settings, endpoints, plan)
            rows = 0
            for batch in batches[:-1]:
                rows += pipeline.ingest(settings, endpoints, batch_id=batch).detail["total_rows"]
                pipeline.load(settings, endpoints, batch_id=batch)

            full = pipeline.dbt_build(settings, endpoints, ("--full-refresh",))
            next_rows = pipeline.ingest(settings, endpoints, batch_id=batches[-1]).detail["total_rows"]
            pipeline.load(settings, endpoints, batch_id=batches[-1])
            incremental = pipeline.dbt_build(settings, endpoints)
            conversion = conversion_cost(settings, incremental.seconds)
            # all timed alike: the dbt process alone (the mart row counts after it are not)
            incremental_seconds = incremental.seconds
            noop = pipeline.dbt_build(settings, endpoints)
            startup_seconds = dbt.run(settings, endpoints, ["build", "--select", "nothing_to_build"])
    for step in (full, incremental, noop):
        bad = [p for p in step.detail["problems"] if p["status"] not in ("warn",)]
        assert not bad, bad
    result = {
        "name": "dbt_build",
        "rows": rows,
        "seconds": round(full.seconds, 2),
        "incremental_seconds": round(incremental_seconds, 2),
        "ratio": round(full.seconds / incremental_seconds, 2),
        "next_day_rows": next_rows,
        "noop_seconds": round(noop.seconds, 2),
        "noop_share": round(noop.seconds / full.seconds, 3),
        "startup_seconds": round(startup_seconds, 2),
        "startup_share": round(startup_seconds / full.seconds, 3),
        "conversion": conversion,
        "marts": full.detail["marts"],
    }
    print(
        f"dbt build: full {full.seconds:.1f}s over {rows:,} rows; next day {incremental_seconds:.1f}s;"
        f" a day with nothing new {noop.seconds:.1f}s; dbt with nothing to build {startup_seconds:.1f}s;"
        f" next day's rate grid {conversion['rate_grid_seconds']:.1f}s,"
        f" converting models {conversion['converting_models_seconds']:.1f}s"
    )
    print(json.dumps(result))


# the models whose SQL converts money with the rate grid (dbt/macros/reporting.sql)
CONVERTING = (
    "silver_transactions",
    "silver_orders",
    "silver_opportunities",
    "gold_customer_summary",
    "gold_customer_snapshots",
    "gold_transaction_summary",
    "gold_order_metrics",
    "gold_cross_domain_analytics",
)


def conversion_cost(settings: Settings, build_seconds: float) -> dict[str, float]:
    """The last build's seconds of the rate grid (model and tests) and of the converting models."""
    results = json.loads((dbt.state_dir(settings) / "target" / "run_results.json").read_text())["results"]
    grid = sum(r["execution_time"] for r in results if "silver_exchange_rates" in r["unique_id"])
    models = sum(r["execution_time"] for r in results if r["unique_id"].split(".")[-1] in CONVERTING)
    return {
        "rate_grid_seconds": round(grid, 2),
        "rate_grid_share": round(grid / build_seconds, 3),
        "converting_models_seconds": round(models, 2),
        "converting_models_share": round(models / build_seconds, 3),
    }


if __name__ == "__main__":
    main()
