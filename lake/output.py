"""How ``lake`` writes to the terminal, a pipe or a log: one module for it.

In a terminal: colour, tables, a live status line for the step that is running. Piped or
in CI (no TTY): plain text with no escape codes, and wide enough that no table cell,
S3 name or command hint is cut or wrapped. Errors are one line (``error_line``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lake.progress import Reporter

__all__ = ["error_line", "escape", "lake_command", "stderr", "stdout", "to_json"]

PLAIN_WIDTH = 1000  # piped output: never wrap or truncate a table cell or a hint


def _console(stream: Any) -> Console:
    """A Console that writes to whatever ``sys.stdout`` / ``sys.stderr`` is when it prints
    (a test's capture, too), styled for what the stream is when lake starts."""
    tty = stream.isatty()
    return Console(
        stderr=stream is sys.stderr,
        width=None if tty else PLAIN_WIDTH,
        soft_wrap=not tty,
        highlight=tty,
        color_system="auto" if tty else None,
        force_terminal=tty,
    )


def stdout() -> Console:
    return _console(sys.stdout)


def stderr() -> Console:
    return _console(sys.stderr)


def interactive() -> bool:
    """Live status lines only in a terminal; never in CI."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def error_line(err: BaseException) -> str:
    """One line for an error that reached the command line: its message for an error the
    user can fix; the file for an OS error; the statement's error for a SQL error; else the
    type, message, and how to see the traceback."""
    from procedures.errors import UserError

    if isinstance(err, UserError):
        text = str(err)
    elif isinstance(err, OSError) and err.strerror:
        where = f": {err.filename}" if err.filename else ""
        text = f"{err.strerror}{where}"
    elif type(err).__module__.startswith("snowflake.connector"):
        # "090106 (22000): <query id>: message" -> "message (Snowflake error 090106)"
        raw = str(getattr(err, "raw_msg", None) or getattr(err, "msg", None) or err)
        coded = re.match(r"^(\d{6}) \(\w+\): (?:[\w-]+: )?(.*)$", raw, re.DOTALL)
        text = f"{coded.group(2)} (Snowflake error {coded.group(1)})" if coded else raw
    else:
        text = (
            f"{type(err).__name__}: {err} (a bug or an environment failure: `{lake_command()} --debug ...` shows where)"
        )
    return " ".join(text.split()) or type(err).__name__


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


_MARK = "\x00"
_MARKED = re.compile(r'"\\u0000(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return int(value)
        return f"{_MARK}{format(value, 'f')}{_MARK}"  # written as a bare number below
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers(v) for v in value]
    return value


def to_json(value: Any, indent: int | None = 2) -> str:
    """JSON for scripts: numbers stay numbers (a NUMBER(38,2) keeps its exact digits,
    a whole NUMBER is an integer), dates and paths are strings."""
    text = json.dumps(_numbers(value), indent=indent, default=_json_default, allow_nan=False)
    return _MARKED.sub(r"\1", text)


def lake_command() -> str:
    """How to run lake in a hint: ``lake`` when that is on the PATH and is this one,
    else the path of this environment's ``lake``."""
    import shutil

    here = Path(sys.executable).with_name("lake")
    found = shutil.which("lake")
    if found and Path(found).resolve() == here.resolve():
        return "lake"
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


# --------------------------------------------------------------------------- steps

console = stdout()
err_console = stderr()


def _generated(d: dict[str, Any]) -> str:
    return f"{d['total_rows']:,} rows in {d['files']} files, {d['bytes'] / 1e6:,.1f} MB"


def _validated(d: dict[str, Any]) -> str:
    return (
        f"{d['rules_run']} rules: {d['passed']} passed, {d['warned']} warned, {d['failed']} failed; "
        f"{d.get('exceptions', 0):,} exception rows"
    )


def _loaded(d: dict[str, Any]) -> str:
    quarantined = d["inserted"].get("quarantined", 0)
    rows = sum(n for t, n in d["inserted"].items() if t != "quarantined")
    return f"{rows:,} vault rows from {len(d['batches'])} batches, {quarantined:,} quarantined"


def _built(d: dict[str, Any]) -> str:
    statuses: dict[str, int] = {}
    for by_status in d["counts"].values():
        for status, n in by_status.items():
            statuses[status] = statuses.get(status, 0) + n
    return f"{sum(statuses.values())} nodes: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


def _ingested(d: dict[str, Any]) -> str:
    files = ", ".join(f"{n} {status.lower()}" for status, n in d["files"].items()) or "no new files"
    text = f"{d['total_rows']:,} rows landed ({files}), {d['reconciliation_issues']} issues"
    if d.get("schema_drift"):
        text += f", {len(d['schema_drift'])} files with schema drift (LANDING.SCHEMA_DRIFT)"
    return text


def _listed(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items() if not isinstance(v, dict | list))


# One line of what a step did, by what the step is: a procedure's result, a dbt build, a
# setup (StepReport.kind). Each procedure returns its own summary shape.
STEP_LINES: dict[str, Any] = {
    "GENERATE_SAMPLE_DATA": _generated,
    "INGEST_LANDING": _ingested,
    "LOAD_VAULT": _loaded,
    "VALIDATE_DATA": _validated,
    "BIND_LANDING_STAGE": lambda d: f"{d['stage']} ({d['files']} files)",
    "dbt build": _built,
}


def describe(kind: str, detail: dict[str, Any]) -> str:
    """One line for a step's summary, rendered the way its kind reads."""
    return str(STEP_LINES.get(kind, _listed)(detail))


class StepPrinter(Reporter):
    """``progress.Reporter`` for the command line: one line per finished step (name,
    seconds, status, what it did); in a terminal also a live line for the running step
    with its count (rows generated, dbt nodes done). Piped: the finished lines only."""

    def __init__(self, out: Console | None = None, live: bool | None = None) -> None:
        self.out = out or console
        self.live = interactive() if live is None else live
        self.name = ""
        self.status: Any = None

    def start(self, name: str) -> None:
        self.name = name
        if self.live:
            self.status = err_console.status(f"{name} ...")
            self.status.start()

    def update(self, done: int, total: int | None = None, unit: str = "") -> None:
        if self.status is not None:
            count = f"{done:,}/{total:,}" if total else f"{done:,}"
            self.status.update(f"{self.name}  {count} {unit}")

    def stop(self) -> None:
        """Clear the live line (work that is not a step: an upload)."""
        if self.status is not None:
            self.status.stop()
            self.status = None

    def finish(self, step: Any) -> None:
        self.stop()
        summary = escape(describe(step.kind, step.detail))
        self.out.print(f"[green]ok[/]     {escape(self.name):<22} {step.seconds:>6.1f}s  {summary}", highlight=False)

    def fail(self, name: str, seconds: float, error: BaseException) -> None:
        self.stop()
        # the reason follows as the command's one error line
        self.out.print(f"[red]FAILED[/] {escape(name):<22} {seconds:>6.1f}s", highlight=False)


# --------------------------------------------------------------------------- summaries


def print_run(settings: Any, report: Any, dbt_log: Path | None = None) -> None:
    """What a run did, after its step lines: landed rows and injected defects, the raw
    vault, the marts, data quality, and where to look next."""
    if report.generation:
        print_generation(report.generation, report.ingestion)
    if report.vault:
        print_vault(report.vault, settings.names.vault)
    if report.dbt:
        print_dbt(report.dbt)
    if report.quality:
        print_quality(report.quality, settings)
    if dbt_log is not None:
        console.print(f"dbt's whole output: {dbt_log}", highlight=False)
    stage = f"@{settings.names.landing}.{settings.names.landing_stage}"
    console.print(
        f"[green]done[/] in {report.seconds:.1f}s on target {settings.target}; "
        f'look inside with [bold]{lake_command()} sql "list {stage}"[/]',
        highlight=False,
    )


def print_generation(gen: dict[str, Any], ingested: dict[str, Any] | None = None) -> None:
    from procedures.spec import ENTITIES

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title="Landed rows",
        title_justify="left",
        caption=f"{', '.join(gen['batches'])} at {gen['landing_url']}",
    )
    landed = (ingested or {}).get("rows", {})
    columns = ("producer", "entity", "generated", "landed") if ingested else ("producer", "entity", "generated")
    for col in columns:
        table.add_column(col, justify="left" if col in ("producer", "entity") else "right")
    for ent in ENTITIES:
        if ent.name in gen["rows"]:
            cells = [ent.producer, ent.name, f"{gen['rows'][ent.name]:,}"]
            table.add_row(*cells, *([f"{landed.get(ent.name, 0):,}"] if ingested else []))
    totals = ["", "[bold]total", f"[bold]{gen['total_rows']:,}"]
    table.add_row(*totals, *([f"[bold]{sum(landed.values()):,}"] if ingested else []))
    console.print(table)
    injected = ", ".join(f"{kind} {n:,}" for kind, n in sorted({**gen["defects"], **gen["arrivals"]}.items()))
    console.print(f"injected on purpose (listed in _generator/manifest/): {injected}", highlight=False)


def print_vault(detail: dict[str, Any], schema: str = "VAULT") -> None:
    tables = Table(box=box.SIMPLE_HEAD, show_edge=False, title="Raw vault", title_justify="left")
    counts = detail["tables"]
    # hubs, links, satellites, then effectivity, status tracking and multi-active satellites
    groups = [[t for t in counts if t.startswith(kind)] for kind in ("hub_", "link_", "sat_")]
    groups.append([t for t in counts if not t.startswith(("hub_", "link_", "sat_"))])
    groups = [g for g in groups if g]
    for i in range(len(groups)):
        tables.add_column("table" + " " * i)
        tables.add_column("rows" + " " * i, justify="right")
    for i in range(max(len(g) for g in groups)):
        cells: list[str] = []
        for group in groups:
            cells += [group[i], f"{counts[group[i]]:,}"] if i < len(group) else ["", ""]
        tables.add_row(*cells)
    console.print(tables)
    if detail["quarantine"]:
        by_reason: dict[str, int] = {}
        for entity_reason, n in detail["quarantine"].items():
            reason = entity_reason.partition(": ")[2]
            reason = re.sub(r" in \w+$| \w+$", "", reason) if reason.startswith(("not a", "null or blank")) else reason
            by_reason[reason] = by_reason.get(reason, 0) + n
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(by_reason.items(), key=lambda x: -x[1]))
        console.print(
            f"quarantined: {sum(by_reason.values()):,} rows ({reasons}); every row and reason: "
            f'{lake_command()} sql "select * from {schema}.QUARANTINE"',
            highlight=False,
        )


def print_dbt(detail: dict[str, Any]) -> None:
    """The marts dbt built, one line per layer (model: rows), then what did not pass."""
    console.print("dbt marts (dbt build)", highlight=False)
    layers: dict[str, list[str]] = {}
    for name, rows in detail["marts"].items():
        layer, model = name.split(".")
        layers.setdefault(layer, []).append(f"{model} {rows:,}")
    for layer, models in layers.items():
        console.print(f"  {layer:<7} {', '.join(models)}", highlight=False)
    for problem in detail["problems"]:
        console.print(f"[yellow]{problem['status']}[/] {problem['node']} ({problem['failures']} rows)")


def print_reconciliation(result: Any) -> None:
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, title="Landing zone against control files", title_justify="left"
    )
    for col in ("producer", "entity", "load date", "files", "rows", "MB"):
        table.add_column(col, justify="right" if col in ("files", "rows", "MB") else "left")
    for part in result.partitions:
        table.add_row(
            part.producer, part.entity, part.load_date, str(part.files), f"{part.rows:,}", f"{part.bytes / 1e6:.1f}"
        )
    console.print(table)
    if result.ok:
        console.print(f"[green]ok[/]: {len(result.partitions)} partitions match their control files")
        return
    problems = Table(
        "partition",
        "file",
        "problem",
        "detail",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title="Problems",
        title_justify="left",
    )
    for problem in result.problems:
        problems.add_row(problem.partition, problem.file_name, problem.kind, problem.detail)
    console.print(problems)
    err_console.print(f"[bold red]error:[/] {len(result.problems)} landing files do not match their control files")


def print_quality(summaries: list[dict[str, Any]], settings: Any, verbose: bool = False) -> None:
    """The data-quality section: rules run, passed, warned, failed per run, the rules that
    did not pass, and the generator's injected defects caught."""
    table = Table(
        "layers",
        "rules",
        "passed",
        "warned",
        "failed",
        "exceptions",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title="Data quality (VALIDATE_DATA)",
    )
    table.title_justify = "left"
    for q in summaries:
        failed = f"[red]{q['failed']}[/]" if q["failed"] else "0"
        table.add_row(
            ",".join(q.get("layers", [])) or "-",
            str(q["rules_run"]),
            str(q["passed"]),
            str(q["warned"]),
            failed,
            f"{q.get('exceptions', 0):,}",
        )
    console.print(table)
    shown = [(name, r) for q in summaries for name, r in q["rules"].items() if r["verdict"] != "PASS"]
    if shown and verbose:
        rules = Table(
            "rule",
            "verdict",
            "failing rows",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            title="Rules that did not pass",
            title_justify="left",
        )
        for name, r in shown:
            colour = "red" if r["verdict"] == "FAIL" else "yellow"
            rules.add_row(name, f"[{colour}]{r['verdict']}[/]", f"{r['rows_failed']:,}")
        console.print(rules)
    elif shown:
        warned = sum(1 for _, r in shown if r["verdict"] == "WARN")
        console.print(
            f"{warned} rules warned (the landing rules flag what staging quarantines): "
            f"`{lake_command()} quality` lists them"
        )
    for q in summaries:
        if "defects" in q:
            d = q["defects"]
            kinds = ", ".join(f"{k} {v['caught']}/{v['injected']}" for k, v in d["by_kind"].items())
            colour = "green" if d["caught"] == d["injected"] else "red"
            console.print(f"[{colour}]injected defects caught: {d['caught']:,} of {d['injected']:,}[/] ({kinds})")
    history = f"select * from {settings.names.quality}.rule_results order by checked_at desc"
    console.print(f'history: [bold]{lake_command()} sql "{history}"[/]', highlight=False)
