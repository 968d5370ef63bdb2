"""What the benchmarks share: the ``--scale`` argument, a fresh local stack in a temporary
state folder, the lake loaded at that scale, and the closing JSON line.

Imported first by each benchmark (``import _lake``): it puts the project on the path, so
the benchmarks run from a checkout as ``python bench/<name>.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lake import pipeline  # noqa: E402
from lake.config import LocalTarget, Settings  # noqa: E402
from lake.local.stack import Endpoints, LocalStack  # noqa: E402
from procedures.sample_data import Plan  # noqa: E402

BATCH = "B20260105"  # the one day the benchmarks generate
TEN_MILLION = 541_000  # customers on day 1 that give about 10 million rows across the entities


def arguments(doc: str | None, scale: int = TEN_MILLION) -> argparse.Namespace:
    """The benchmark's command line: its docstring as help, and ``--scale``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=scale, help=f"customers on day 1 (default {scale:,})")
    return parser.parse_args()


@contextmanager
def fresh_stack(name: str) -> Iterator[tuple[Settings, Endpoints]]:
    """The local servers on a state folder of their own, with ``sql/`` applied; both gone
    afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"lake-bench-{name}-") as state:
        settings = Settings(local=LocalTarget(state_dir=Path(state)))
        with LocalStack(settings.local).ensure(persist_s3=False) as endpoints:
            pipeline.setup(settings, endpoints)
            yield settings, endpoints


def generate_day(settings: Settings, endpoints: Endpoints, scale: int) -> pipeline.steps.Generation:
    """One day of sample data at ``scale`` in the landing zone (seed 42)."""
    return pipeline.generate(settings, endpoints, Plan.build(scale=scale, days=1, seed=42))


def report(line: str, result: dict[str, Any]) -> None:
    """The benchmark's sentence, then its JSON object as the last line (what `make bench` and
    docs/testing.md read)."""
    print(line)
    print(json.dumps(result))
