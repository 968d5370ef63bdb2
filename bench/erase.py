"""Benchmark: erasing one subject (ERASE_SUBJECT and its landing files) on a 10M-row lake.

1. Generate one day at ``--scale`` customers (541,000 gives about 10 million rows across
   the entities) into a fresh local stack, ingest it and load the vault (not timed).
2. Ours: ``lake erase`` for one client without the verification scan: the procedure's
   targeted UPDATEs in every table that can hold the subject, then the rewrite of the
   landing files holding its rows. The tables' and the files' shares are printed apart.
3. The baseline, measured in the same run: rewriting whole every table the erasure
   touches (one CREATE TABLE AS SELECT each), which is what an erasure that copies
   tables without the subject would cost. Ratio = baseline / the tables' part of ours
   (above 1: cheaper than a rewrite). The files have no cheaper way than their own
   rewrite (an S3 object is replaced whole), so their time is reported beside it, with
   the rows the rewritten files hold.
4. For information: a second client erased with the verification (every text column of
   every table and every landing file scanned before and after).

How it scales: each UPDATE finds the subject by key in the tables that can hold personal
values (landing customers and contacts, the personal and multi-active satellites, the
quarantine, the quality exceptions, two marts), so its cost follows those tables' size,
not the lake's (transactions, orders and their satellites are never read). The file
rewrite reads and writes only the files that hold the subject's rows.

Last line: a JSON object with name, rows (landed), seconds (tables + files), rows_touched,
tables_seconds, files_seconds, files_rewritten, baseline_seconds, ratio, verify_seconds.
"""

from __future__ import annotations

import time

import _lake
from _lake import BATCH

from lake import pipeline
from lake.session import snowpark_session
from procedures import erasure, vault
from procedures.ingest import landing_table


def main() -> None:
    args = _lake.arguments(__doc__)
    with _lake.fresh_stack("erase") as (settings, endpoints):
        _lake.generate_day(settings, endpoints, args.scale)
        rows = pipeline.ingest(settings, endpoints, batch_id=BATCH).detail["total_rows"]
        pipeline.load(settings, endpoints, batch_id=BATCH)
        with snowpark_session(settings, endpoints) as session:
            # two clients with contact people, from the middle of the book
            subjects = [
                str(r[0])
                for r in session.sql(
                    "SELECT h.customer_id FROM VAULT.HUB_CUSTOMER h JOIN VAULT.MSAT_CUSTOMER_CONTACT m "
                    "ON m.customer_hk = h.customer_hk GROUP BY 1 ORDER BY 1 LIMIT 2 "
                    f"OFFSET {min(1000, args.scale // 4)}"
                ).collect()
            ]

        step = pipeline.erase(settings, endpoints, subjects[0], "BENCH-1", verify=False)
        result = step.detail
        tables_seconds = float(result["seconds"])
        seconds = step.seconds
        files_seconds = seconds - tables_seconds

        touched = [f"LANDING.{landing_table(p.entity)}" for p in erasure.places()]
        touched += [f"VAULT.{s.name.upper()}" for s in vault.PERSONAL_SATELLITES]
        touched += [f"VAULT.{m.name.upper()}" for m in vault.MULTI_ACTIVE_SATELLITES]
        touched += ["VAULT.QUARANTINE", "QUALITY.RULE_EXCEPTIONS"]
        with snowpark_session(settings, endpoints) as session:
            started = time.perf_counter()
            for i, table in enumerate(touched):
                session.sql(f"CREATE OR REPLACE TABLE AUDIT.BENCH_REWRITE_{i} AS SELECT * FROM {table}").collect()
            baseline_seconds = time.perf_counter() - started
            # the copies hold everyone's values: the verification would find them
            for i in range(len(touched)):
                session.sql(f"DROP TABLE AUDIT.BENCH_REWRITE_{i}").collect()

        verified = pipeline.erase(settings, endpoints, subjects[1], "BENCH-2", verify=True)
        assert verified.detail["found_after"] == {} and verified.detail["files"]["found_after"] == {}
    summary = {
        "name": "erase",
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_touched": result["rows_erased"] + result["files"]["rows"],
        "tables_seconds": round(tables_seconds, 2),
        "files_seconds": round(files_seconds, 2),
        "files_rewritten": len(result["files"]["rewritten"]),
        "baseline_seconds": round(baseline_seconds, 2),
        "ratio": round(baseline_seconds / tables_seconds, 3),
        "verify_seconds": round(verified.seconds, 2),
        "erased": result["erased"],
    }
    _lake.report(
        f"ERASE_SUBJECT on {rows:,} landed rows: {seconds:.1f}s ({tables_seconds:.1f}s tables, "
        f"{files_seconds:.1f}s for {summary['files_rewritten']} landing file(s)), {summary['rows_touched']} rows "
        f"touched; rewriting the touched tables whole {baseline_seconds:.1f}s; with the verification scan "
        f"{verified.seconds:.1f}s",
        summary,
    )


if __name__ == "__main__":
    main()
