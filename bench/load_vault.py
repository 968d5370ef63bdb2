"""Benchmark: LOAD_VAULT against the engine's floor, in one run, on the local stack.

1. Generate one day at ``--scale`` customers (541,000 gives about 10 million rows across
   the entities) into a fresh local stack, and ingest it (not timed in the ratio).
2. Ours: LOAD_VAULT for that batch (quarantine, hubs, links, satellites, the
   effectivity, status tracking and multi-active satellites, audit). Their share of the
   load time comes from the load's audit (seconds per table).
3. The floor on the same engine: one CREATE TABLE AS SELECT per landing table computing
   the same hash keys, hashdiffs and typed columns over the same rows (the staging views),
   with no comparison against existing rows and no history.
4. A re-run of the same batch (it inserts nothing): skipped as already loaded, since
   its load covered every row landed for it. For information, the same re-run with
   that shortcut removed (every statement runs, and inserts nothing) is timed too.

Last line: a JSON object with name, rows, seconds, baseline_seconds, ratio (floor / ours),
rerun_seconds, rerun_share (re-run / first load), full_rerun_seconds and peak_rss_mib of
this process, and structures_share: the share of the load spent in the effectivity,
status tracking and multi-active satellites.
Targets: ratio >= 0.4, rerun_share <= 0.2, peak RSS < 1 GiB (rows stay in the engine).
"""

from __future__ import annotations

import resource
import time

import _lake
from _lake import BATCH

from lake import pipeline
from lake.session import procedure_session
from procedures import spec, staging, vault
from procedures.handlers import load_vault


def main() -> None:
    args = _lake.arguments(__doc__)
    with _lake.fresh_stack("vault") as (settings, endpoints):
        started = time.perf_counter()
        generated = _lake.generate_day(settings, endpoints, args.scale).detail
        generate_seconds = time.perf_counter() - started
        started = time.perf_counter()
        ingested = pipeline.ingest(settings, endpoints, batch_id=BATCH).detail
        ingest_seconds = time.perf_counter() - started
        # the session the handler gets in Snowflake: in its schema, owner's rights
        with procedure_session(settings, endpoints, load_vault.PROCEDURE) as session:
            started = time.perf_counter()
            first = load_vault.run(session, batch_id=BATCH)
            seconds = time.perf_counter() - started
            structures = vault.STRUCTURES
            per_table = {
                str(r[0]): float(r[1])
                for r in session.sql(
                    "SELECT table_name, seconds FROM AUDIT.VAULT_LOAD_RUNS "
                    f"WHERE run_id = '{first['run_id']}' AND table_name <> '*'"
                ).collect()
            }
            structures_seconds = sum(per_table.get(t, 0.0) for t in structures)

            started = time.perf_counter()
            again = load_vault.run(session, batch_id=BATCH)
            rerun_seconds = time.perf_counter() - started
            assert not any(again["inserted"].values()), "a re-run inserted rows"

            # the same re-run without the already-loaded shortcut: every statement runs
            session.sql(f"DELETE FROM VAULT.LOADED_BATCHES WHERE batch_id = '{BATCH}'").collect()
            started = time.perf_counter()
            full = load_vault.run(session, batch_id=BATCH)
            full_rerun_seconds = time.perf_counter() - started
            assert not any(full["inserted"].values()), "a full re-run inserted rows"

            started = time.perf_counter()
            for ent in spec.ENTITIES:
                session.sql(
                    f"CREATE OR REPLACE TABLE VAULT.BENCH_FLOOR_{ent.name.upper()} AS "
                    f"SELECT * FROM LANDING.{staging.view_name(ent)} WHERE batch_id = '{BATCH}'"
                ).collect()
            floor_seconds = time.perf_counter() - started
    rows = ingested["total_rows"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "name": "load_vault",
        "rows": rows,
        "seconds": round(seconds, 2),
        "baseline_seconds": round(floor_seconds, 2),
        "ratio": round(floor_seconds / seconds, 3),
        "rerun_seconds": round(rerun_seconds, 2),
        "rerun_share": round(rerun_seconds / seconds, 3),
        "full_rerun_seconds": round(full_rerun_seconds, 2),
        "structures_seconds": round(structures_seconds, 2),
        "structures_share": round(structures_seconds / seconds, 3),
        "structures_rows": {t: first["inserted"].get(t, 0) for t in structures},
        "peak_rss_mib": round(peak, 1),
        "vault_rows_inserted": sum(n for t, n in first["inserted"].items() if t != "quarantined"),
        "quarantined": first["inserted"].get("quarantined", 0),
        "generated_rows": generated["total_rows"],
        "generate_seconds": round(generate_seconds, 1),
        "ingest_seconds": round(ingest_seconds, 1),
    }
    _lake.report(
        f"LOAD_VAULT: {rows:,} landed rows in {seconds:.1f}s; floor (CTAS over staging) {floor_seconds:.1f}s; "
        f"re-run {rerun_seconds:.1f}s; peak RSS {peak:.0f} MiB; effectivity, status tracking and multi-active "
        f"satellites {structures_seconds:.1f}s ({structures_seconds / seconds:.0%} of the load)",
        result,
    )


if __name__ == "__main__":
    main()
