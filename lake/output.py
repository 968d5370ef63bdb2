"""How ``lake`` writes to the terminal, a pipe or a log: one module for it.

In a terminal: colour, tables, a live status line for the step that is running. Piped or
in CI (no TTY): plain text with no escape codes, and wide enough that no table cell,
S3 name or command hint is cut or wrapped. Errors are one line (``error_line``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lake.progress import Reporter

if TYPE_CHECKING:
    from lake.config import Settings
    from lake.corrections import Correction
    from lake.gx import GxReport
    from lake.infra import CheckReport
    from lake.local.app import AppRun
    from lake.pipeline import RunReport
    from lake.reconcile import Reconciliation
    from lake.steps import Applied, Built, Erasure, Ingestion, Loaded, Repaired, StepReport, Validation, VaultLoad
    from procedures.handlers import validate_data
    from procedures.ingest import IngestSummary
    from procedures.sample_data import GenerationSummary

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

    def finish(self, step: StepReport[Any]) -> None:
        self.stop()
        summary = escape(step.line())
        self.out.print(f"[green]ok[/]     {escape(self.name):<22} {step.seconds:>6.1f}s  {summary}", highlight=False)

    def fail(self, name: str, seconds: float, error: BaseException) -> None:
        self.stop()
        # the reason follows as the command's one error line
        self.out.print(f"[red]FAILED[/] {escape(name):<22} {seconds:>6.1f}s", highlight=False)

    def notify(self, integration: str, message: str) -> None:
        self.stop()
        self.out.print(f"[yellow]notified[/] through {escape(integration)}:", highlight=False)
        for line in message.splitlines():
            self.out.print(f"  {escape(line)}", highlight=False)


# --------------------------------------------------------------------------- summaries


def print_run(settings: Settings, report: RunReport, dbt_log: Path | None = None) -> None:
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


def print_generation(gen: GenerationSummary, ingested: IngestSummary | None = None) -> None:
    from procedures.spec import ENTITIES

    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title="Landed rows",
        title_justify="left",
        caption=f"{', '.join(gen['batches'])} at {gen['landing_url']}",
    )
    landed = ingested["rows"] if ingested else {}
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


def print_vault(detail: Loaded, schema: str = "VAULT") -> None:
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


def print_dbt(detail: Built) -> None:
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


def print_reconciliation(result: Reconciliation) -> None:
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


def print_quality(summaries: list[validate_data.Summary], settings: Settings, verbose: bool = False) -> None:
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
            ",".join(q["layers"]) or "-",
            str(q["rules_run"]),
            str(q["passed"]),
            str(q["warned"]),
            failed,
            f"{q['exceptions']:,}",
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
    controls = [(q, q["control_totals"]) for q in summaries if q.get("control_totals", {}).get("rules")]
    if controls:
        balanced = sum(c["balanced"] for _, c in controls)
        compared = sum(c["rules"] for _, c in controls)
        colour = "green" if balanced == compared else "red"
        per_run = ", ".join(f"{','.join(q['layers']) or 'last run'} {c['balanced']}/{c['rules']}" for q, c in controls)
        console.print(
            f"[{colour}]control totals: {balanced} of {compared} balance[/] (rows and amounts per batch and "
            f"currency from landing to gold, and silver's value distributions against landing: {per_run})"
        )
        for _, c in controls:
            for differing in c["differ"]:
                console.print(f"  [red]{differing}[/]", highlight=False)
    for q in summaries:
        if "defects" in q:
            d = q["defects"]
            kinds = ", ".join(f"{k} {v['caught']}/{v['injected']}" for k, v in d["by_kind"].items())
            colour = "green" if d["caught"] == d["injected"] else "red"
            console.print(f"[{colour}]injected defects caught: {d['caught']:,} of {d['injected']:,}[/] ({kinds})")
    history = f"select * from {settings.names.quality}.rule_results order by checked_at desc"
    console.print(f'history: [bold]{lake_command()} sql "{history}"[/]', highlight=False)


# --------------------------------------------------------------------------- one command's step


def print_setup(step: StepReport[Applied]) -> None:
    d = step.detail
    console.print(f"{d['statements']} statements from {d['files']} files in sql/ applied in {step.seconds:.1f}s")


def print_ingestion(step: Ingestion) -> None:
    d = step.detail
    console.print(
        f"INGEST_LANDING: {d['total_rows']:,} rows landed from {', '.join(d['batches']) or 'no batch'} "
        f"({step.files}), {d['reconciliation_issues']} reconciliation issues, {step.seconds:.1f}s"
    )
    for issue in d.get("reconciliation", []):
        err_console.print(f"  {issue['issue']}: {issue['file']}: {issue['detail']}", highlight=False)
    for failed in d["failed_files"]:
        err_console.print(f"  unreadable: {failed['file']}: {failed['error']}")
    for name in d.get("rewritten_on_landing", []):
        err_console.print(f"  an erased subject delivered again: {name} rewritten without its personal values")
    for changed in d["changed_after_load"]:
        err_console.print(f"  rewritten after it was loaded (the vault holds the earlier content): {changed}")


def print_load(step: VaultLoad) -> None:
    batches = ", ".join(step.detail["batches"]) or "no pending batch"
    console.print(
        f"LOAD_VAULT: {step.vault_rows:,} vault rows from {batches}, {step.quarantined:,} quarantined, "
        f"{step.seconds:.1f}s"
    )


def print_validation(step: Validation) -> None:
    d = step.detail
    console.print(
        f"{step.name}: {d['rules_run']} rules, {d['passed']} passed, {d['warned']} warned, "
        f"{d['failed']} failed; {d['exceptions']:,} exception rows, {step.seconds:.1f}s"
    )


def print_correction(done: Correction) -> None:
    """What ``lake landing withdraw|supersede`` or ``lake repair --batch`` changed."""
    said = ", ".join(f"{k} {v}" for k, v in sorted(done.detail.items()))
    console.print(f"{done.action} {done.target}: {said}; recorded in AUDIT.CORRECTIONS", highlight=False)
    if done.reconciled is not None:
        batch = done.detail.get("batch", "")
        console.print(f"{batch} ingested again: {done.reconciled} reconciliation issues", highlight=False)


def print_repair(step: StepReport[Repaired]) -> None:
    removed = {t: n for t, n in step.detail["removed"].items() if n}
    if not removed:
        console.print(f"every hub and link holds one row per hash key ({step.seconds:.1f}s)")
    for table, n in removed.items():
        console.print(f"{table}: removed {n} row(s) beyond the first for their hash key")


def print_erasure(step: Erasure) -> None:
    """Where the values were overwritten (tables, landing files), where they were found
    before, and what is left (nothing, or the command failed)."""
    result = step.detail
    for table, rows in sorted(result["erased"].items()):
        console.print(f"{table}: {rows} row(s) overwritten")
    files = result.get("files", {})
    for name in files.get("rewritten", []):
        console.print(f"landing file {name}: rewritten without the values")
    for name in files.get("unreadable", []):
        console.print(f"landing file {name}: no reader parses it, left as it is (ingestion lists it as failed)")
    if result["verified"]:
        for table, rows in sorted(result["found_before"].items()):
            console.print(f"before: {table} held the values in {rows} row(s)")
        for name, hits in sorted(files.get("found_before", {}).items()):
            console.print(f"before: landing file {name} held {hits} of the values")
        left = sum(result["found_after"].values()) + sum(files.get("found_after", {}).values())
        console.print(
            f"verified: {result['values_checked']} former value(s) searched in every table and landing file, "
            f"{left} match(es) left"
        )
    console.print(
        f"erased {result['customer_id']} (request {result['request_id']}) in {step.seconds:.1f}s; "
        "logged in AUDIT.ERASURE_LOG"
    )


def print_gx(report: GxReport, disagree: dict[str, tuple[str, str | None]]) -> None:
    """Great Expectations' checkpoint over the same rules, and every verdict that differs."""
    console.print(
        f"Great Expectations: {len(report.verdicts)} expectations in {report.seconds:.1f}s, "
        f"{len(report.verdicts) - len(disagree)} verdicts agree with VALIDATE_DATA; "
        f"Data Docs: {report.docs}"
    )
    for name, (ours, theirs) in disagree.items():
        err_console.print(f"[bold red]disagree:[/] {name}: VALIDATE_DATA {ours}, Great Expectations {theirs}")


def print_status(doc: dict[str, Any]) -> None:
    """``lake status``: the target, the local servers, the last procedure runs
    (``pipeline.status``)."""
    console.print(f"target: [bold]{doc['target']}[/]  database {doc['database']}", highlight=False)
    if doc["target"] != "local":
        return
    servers = doc["servers"]
    console.print(f"state folder: {doc['state_dir']}", highlight=False)
    if doc.get("command"):
        from lake.local.stack import describe

        console.print(f"running: {describe(doc['command'])}", highlight=False)
    if servers["running"]:
        console.print(
            f"local servers: [green]running[/] pid {servers['pid']}, S3 {servers['s3']}, "
            f"Snowflake port {servers['snowflake_port']}",
            highlight=False,
        )
    else:
        console.print(
            f"local servers: [yellow]not running[/] (`{lake_command()} up` starts them; "
            "other commands start them as needed)",
            highlight=False,
        )
    graph_runs = doc.get("pipeline_runs") or []
    if graph_runs:
        console.print("pipeline runs (AUDIT.PIPELINE_RUNS):", highlight=False)
        write_rows(list(graph_runs[0]), [tuple(run.values()) for run in graph_runs], "table")
    runs = doc["recent_runs"]
    if runs:
        write_rows(list(runs[0]), [tuple(run.values()) for run in runs], "table")
    else:
        console.print("no procedure runs yet", highlight=False)
    for note in doc.get("notifications") or []:
        first = note["message"].splitlines()[0] if note["message"] else ""
        console.print(f"[yellow]notified[/] {note['integration']} at {note['sent_at']}: {first}", highlight=False)
    print_alerts(doc.get("alerts") or {})


def print_alerts(alerts: dict[str, Any]) -> None:
    """The alerts evaluated just now, and the last notifications they sent."""
    if alerts.get("error"):
        console.print(f"[red]alerts not evaluated[/]: {alerts['error']}", highlight=False)
    for e in alerts.get("evaluated", []):
        said = f": {e['error']}" if e["error"] else ""
        console.print(f"alert {e['alert']} at {e['scheduled_time']}: {e['state']}{said}", highlight=False)
    sent = alerts.get("notifications", [])
    if not sent:
        console.print("no alert notifications", highlight=False)
    for e in sent:
        console.print(
            f"[yellow]notified[/] {e['integration']} at {e['scheduled_time']} ({e['alert']}): {e['message']}",
            highlight=False,
        )


def print_app_run(settings: Settings, report: AppRun, name: str) -> None:
    """``lake app install``: what was installed, each procedure the app's graph called,
    and the app's vault against the standalone lake's."""
    inst = report.installed
    skipped = sum(inst.skipped.values())
    how = f"upgraded from {inst.upgraded_from}" if inst.upgraded_from else "installed"
    console.print(
        f"{name} {how} to {inst.version}: {inst.statements_run} setup statements run, {skipped} only Snowflake "
        f"runs skipped, {len(inst.procedures)} procedures from {inst.directory}"
    )
    steps = Table(
        "step",
        "seconds",
        "detail",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        title=f"{name}: the app's graph, called in order",
    )
    steps.title_justify = "left"
    for step in report.steps:
        steps.add_row(step.name, f"{step.seconds:.1f}", step.line())
    console.print(steps)
    app_rows, lake_rows = sum(report.app_vault.values()), sum(report.lake_vault.values())
    console.print(f"vault inside {name}: {app_rows:,} rows in {len(report.app_vault)} tables")
    if report.lake_vault:
        differ = sorted(t for t in report.app_vault if report.app_vault[t] != report.lake_vault.get(t))
        same = "the same counts" if not differ else f"different counts in {', '.join(differ)}"
        console.print(f"standalone lake ({settings.names.database}): {lake_rows:,} rows, {same}")
    audit = f"select * from {name}.AUDIT.PROCEDURE_RUNS order by started_at desc"
    console.print(f'look inside: {lake_command()} sql "{audit}"; the dashboard: {lake_command()} ui --app {name}')


def write_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    """A query's rows as a table, CSV or JSON (``lake sql --format``, ``lake status``)."""
    if fmt == "json":
        sys.stdout.write(to_json([dict(zip(names, r, strict=True)) for r in rows]) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(*names, caption=f"{len(rows):,} rows")
        for r in rows:
            table.add_row(*(escape("NULL" if v is None else str(v)) for v in r))
        console.print(table)


def print_catalog(step: StepReport[dict[str, Any]]) -> None:
    d = step.detail
    console.print(
        f"Glue database [bold]{d['database']}[/]: {d['tables']} tables, {d['partitions']} partitions "
        f"({d['added_partitions']} new) in {step.seconds:.1f}s"
    )


def print_checkov(reports: list[CheckReport]) -> None:
    """checkov's verdict per stack, each finding not skipped, and the skip entries that
    match nothing in any stack (to remove)."""
    for report in reports:
        colour = "green" if report.ok else "red"
        console.print(f"[{colour}]{report.summary()}[/]")
        for finding in report.failed:
            console.print(f"  FAILED {finding['check_id']} {finding['resource']}: {finding['check_name']}")
        for error in report.parsing_errors:
            console.print(f"  PARSING ERROR {error}")
    unused = set.intersection(*(set(r.unused_skips) for r in reports))
    for skip in unused:
        console.print(f"[yellow]skip entry {skip.check} {skip.resource} matches nothing: remove it[/]")
