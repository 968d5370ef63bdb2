"""Benchmark: how fast ``lake`` answers, next to what its imports cost.

Each command runs ``--repeat`` times as its own process (the median is kept), in a fresh
state folder:

* floors: ``python -c pass`` (the interpreter) and ``python -c "import snowflake.connector"``
  (what any command that talks to Snowflake must pay);
* ``lake --help``; a bad argument (``lake run --formats crm=xml``), which must fail
  before anything starts; ``lake sql "select 1"`` with the local servers up (one
  connection and one query).

Targets: ``--help`` and the bad argument within 1 s (they import no driver: measured
0.17 s and 0.54 s, the latter the generator's plan check); ``lake sql`` within 2 times
the connector import plus one second (measured 0.93 times: the import is the cost).
Last line: a JSON object with each median and its ratio to its floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAKE = str(Path(sys.executable).with_name("lake"))


def timed(cmd: list[str], env: dict[str, str], repeat: int, expect_fail: bool = False) -> float:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        seconds.append(time.perf_counter() - started)
        if bool(done.returncode) != expect_fail:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-500:]}")
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lake-cli-bench-") as state:
        env = {**os.environ, "LAKE_STATE_DIR": state}
        r = args.repeat
        result = {
            "python": timed([sys.executable, "-c", "pass"], env, r),
            "import_connector": timed([sys.executable, "-c", "import snowflake.connector"], env, r),
            "help": timed([LAKE, "--help"], env, r),
            "bad_argument": timed([LAKE, "run", "--formats", "crm=xml"], env, r, expect_fail=True),
        }
        subprocess.run([LAKE, "up"], env=env, capture_output=True, check=True)
        try:
            result["sql_select_1"] = timed([LAKE, "sql", "select 1"], env, r)
        finally:
            subprocess.run([LAKE, "down"], env=env, capture_output=True, check=False)
    for name, seconds in result.items():
        print(f"{name:<18} {seconds:6.2f} s")
    report = {
        "name": "cli_startup",
        **{f"{k}_seconds": round(v, 3) for k, v in result.items()},
        "help_ratio": round(result["help"] / result["python"], 1),
        "bad_argument_ratio": round(result["bad_argument"] / result["python"], 1),
        "sql_ratio": round(result["sql_select_1"] / result["import_connector"], 2),
        "targets_met": result["help"] < 1
        and result["bad_argument"] < 1
        and result["sql_select_1"] < 2 * result["import_connector"] + 1,
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
