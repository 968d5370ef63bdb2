"""Progress of long work, reported to whoever is watching.

``pipeline.run`` and the steps it runs (the generator's rows, dbt's nodes, each task of
the graph) report here; the command line renders it (``lake/output.py``: a live line in a
terminal, nothing but finished steps in a pipe); tests and library callers get the silent
default. The reporter in effect is a context variable, like a logger, so a step deep in
the call stack reports without every signature carrying it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")


class Reporter:
    """Silent by default; the command line's renders each call."""

    def start(self, name: str) -> None:
        """A step began."""

    def update(self, done: int, total: int | None = None, unit: str = "") -> None:
        """The running step has done ``done`` of ``total`` ``unit``."""

    def finish(self, step: Any) -> None:
        """A step ended; ``step`` is its ``pipeline.StepReport``."""

    def fail(self, name: str, seconds: float, error: BaseException) -> None:
        """A step raised ``error`` after ``seconds``."""

    def notify(self, integration: str, message: str) -> None:
        """The run sent a notification (a failed graph run: FINISH_PIPELINE_RUN)."""


_current: ContextVar[Reporter] = ContextVar("lake_progress", default=Reporter())  # noqa: B039 (stateless)


def current() -> Reporter:
    return _current.get()


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        _current.reset(token)


def step(name: str, work: Callable[[], T]) -> T:
    """Run ``work`` as the step ``name``: started, then finished with its report, or
    failed with its error and seconds (which is raised on)."""
    reporter = current()
    reporter.start(name)
    began = time.perf_counter()
    try:
        done = work()
    except Exception as err:
        reporter.fail(name, time.perf_counter() - began, err)
        raise
    reporter.finish(done)
    return done


def row_counter(total: int) -> Callable[[str, int], None]:
    """A generator's progress callback (entity, rows written): the rows so far, out of
    ``total`` or of what was done if more, reported to the current reporter."""
    rows = 0

    def advance(entity: str, count: int) -> None:
        nonlocal rows
        rows += count
        current().update(rows, max(total, rows), "rows")

    return advance
