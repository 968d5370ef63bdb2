"""``lake``: run the institutional client data lake locally or against Snowflake."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(
    help="The institutional client data lake: Data Vault 2.0 and medallion marts on Snowflake, "
    "or on local moto + fakesnow servers (the default target).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
catalog_app = typer.Typer(help="The AWS Glue Data Catalog over the landing zone.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
infra_app = typer.Typer(
    help="Infrastructure as code (cdktf/): synthesize offline and gate with checkov.", no_args_is_help=True
)
app.add_typer(infra_app, name="infra")
native_app = typer.Typer(
    help="The Snowflake Native App (native_app/): install it on the local engine, call its procedures.",
    no_args_is_help=True,
)
app.add_typer(native_app, name="app")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line for grep and logs


def _user_errors() -> tuple[type[Exception], ...]:
    from snowflake.connector.errors import Error as SnowflakeError

    from lake.app import AppError
    from lake.config import ConfigError
    from lake.dbt import DbtError
    from lake.deploy import DeployError
    from lake.governance import GovernanceSpecError
    from lake.infra import InfraError
    from lake.lineage import LineageError
    from lake.local.app import AppInstallError
    from lake.local.stack import StackError
    from lake.sqlfiles import SqlFileError
    from procedures.audit import ArgumentError
    from procedures.landing import LandingError
    from procedures.quality import RuleSpecError
    from procedures.sample_data import GenerationError
    from procedures.validate_data import QualityGateError

    return (
        ConfigError,
        DbtError,
        DeployError,
        InfraError,
        GovernanceSpecError,
        LineageError,
        AppError,
        AppInstallError,
        StackError,
        SqlFileError,
        ArgumentError,
        RuleSpecError,
        QualityGateError,
        LandingError,
        GenerationError,
        SnowflakeError,
    )


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except _user_errors() as err:
        err_console.print(f"[bold red]error:[/] {err}")
        raise typer.Exit(1) from None


def _show_warnings() -> None:
    """A procedure's warnings (a load waiting on the vault's lock, say) on stderr, one line each."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("procedures").addHandler(handler)


_show_warnings()


def _settings() -> Any:
    from lake.config import load_settings

    return load_settings()


# --------------------------------------------------------------------------- servers


@app.command()
def up(
    persist_s3: Annotated[bool, typer.Option(help="Save the local S3 buckets under the state folder at stop.")] = True,
) -> None:
    """Start the local S3 (moto) and Snowflake (fakesnow) servers in the background."""
    from lake.local.stack import LocalStack

    with _errors():
        settings = _settings()
        stack = LocalStack(settings.local, settings.glue_database)
        already = stack.running()
        with console.status("starting the local servers"):
            ep = stack.start(persist_s3=persist_s3)
        from lake import pipeline

        if not pipeline.schema_exists(settings, ep):
            with console.status("applying sql/ (a new state folder)"):
                applied = pipeline.setup(settings, ep)
            console.print(f"applied sql/: {applied.detail['statements']} statements in {applied.seconds:.1f}s")
        console.print(("already running" if already else "started") + f" (pid {ep.pid}), state in {stack.state_dir}")
        console.print(f"  S3         {ep.s3_endpoint}  bucket {ep.bucket}")
        console.print(
            f"  Snowflake  http://{ep.snowflake_host}:{ep.snowflake_port}  database {settings.names.database}"
        )
        console.print("Point your own tools at them with:")
        for key, value in ep.aws_env().items():
            console.print(f"  export {key}={value}")


@app.command()
def down() -> None:
    """Stop the local servers (the warehouse file and an S3 snapshot stay under the state folder)."""
    from lake.local.stack import LocalStack

    with _errors():
        stack = LocalStack(_settings().local)
        with console.status("stopping the local servers and saving the S3 snapshot"):
            stopped = stack.stop()
        console.print("stopped" if stopped else "not running")


@app.command()
def status() -> None:
    """Show the target, the local servers, and the last procedure runs."""
    from lake.local.stack import LocalStack

    with _errors():
        settings = _settings()
        console.print(f"target: [bold]{settings.target}[/]  database {settings.names.database}")
        if settings.target != "local":
            return
        stack = LocalStack(settings.local)
        ep = stack.running()
        console.print(f"state folder: {stack.state_dir}")
        if not ep:
            console.print(
                "local servers: [yellow]not running[/] (`lake up` starts them; other commands start them as needed)"
            )
            return
        console.print(
            f"local servers: [green]running[/] pid {ep.pid}, S3 {ep.s3_endpoint}, Snowflake port {ep.snowflake_port}"
        )
        _print_query(
            settings,
            f"SELECT procedure_name, status, started_at, finished_at, rows_written, error "
            f"FROM {settings.names.database}.{settings.names.audit}.PROCEDURE_RUNS ORDER BY started_at DESC LIMIT 5",
            "table",
        )


# --------------------------------------------------------------------------- pipeline


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


ScaleOpt = Annotated[int, typer.Option(help="Customers on day 1; other entities in proportion.", min=1)]
DaysOpt = Annotated[int, typer.Option(help="Daily batches to generate.", min=1, max=366)]
SeedOpt = Annotated[int, typer.Option(help="The same seed writes byte-identical files.", min=0)]
FormatsOpt = Annotated[
    str, typer.Option(help="parquet, csv or json for all producers, or per producer: crm=csv,finance=json.")
]
DefectOpt = Annotated[float, typer.Option(help="Share of rows with one deliberate defect (0 to 0.5).")]
LateOpt = Annotated[float, typer.Option(help="Share of late and out-of-order rows (0 to 0.5).")]
StartOpt = Annotated[str, typer.Option(help="Load date of the first batch, YYYY-MM-DD.")]


def _progress(total: int) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        TextColumn("{task.completed:>12,.0f} / {task.total:,.0f} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("generating", total=total)

    def advance(entity: str, rows: int) -> None:
        bar.update(task, advance=rows, description=entity)

    return bar, advance


@app.command()
def run(
    scale: ScaleOpt = 1000,
    days: DaysOpt = 3,
    seed: SeedOpt = 42,
    formats: FormatsOpt = "parquet",
    defect_rate: DefectOpt = 0.005,
    late_rate: LateOpt = 0.02,
    start_date: StartOpt = "2026-01-05",
    generate_data: Annotated[
        bool,
        typer.Option(
            "--generate/--no-generate",
            help="Generate sample data first (default), or run on the files producers dropped (lake upload).",
        ),
    ] = True,
) -> None:
    """Run the whole pipeline on the target and print a summary."""
    from lake import pipeline

    with _errors():
        settings = _settings()
        bars: list[Progress] = []

        def progress_for(total: int) -> Any:
            bar, advance = _progress(total)
            bar.start()
            bars.append(bar)
            return advance

        try:
            with console.status(f"running the pipeline on the {settings.target} target"):
                report = pipeline.run(
                    settings,
                    progress_for=progress_for,
                    generate_data=generate_data,
                    scale=scale,
                    days=days,
                    seed=seed,
                    formats=formats,
                    defect_rate=defect_rate,
                    late_rate=late_rate,
                    start_date=start_date,
                )
        finally:
            for bar in bars:
                bar.stop()
        _print_run(settings, report)


def _print_run(settings: Any, report: Any) -> None:
    gen = report.generation
    steps = Table(title="Pipeline steps", title_justify="left")
    for col in ("step", "seconds", "detail"):
        steps.add_column(col, justify="right" if col == "seconds" else "left")
    for step in report.steps:
        detail = step.detail
        if "bytes" in detail:
            text = f"{detail['total_rows']:,} rows in {detail['files']} files, {detail['bytes'] / 1e6:,.1f} MB"
        elif "rules_run" in detail:
            text = (
                f"{detail['rules_run']} rules: {detail['passed']} passed, {detail['warned']} warned, "
                f"{detail['failed']} failed; {detail['exceptions']:,} exception rows"
            )
        elif "inserted" in detail:
            quarantined = detail["inserted"].get("quarantined", 0)
            rows = sum(n for t, n in detail["inserted"].items() if t != "quarantined")
            text = f"{rows:,} vault rows from {len(detail['batches'])} batches, {quarantined:,} quarantined"
        elif "counts" in detail:
            text = "; ".join(
                f"{kind}: " + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
                for kind, statuses in sorted(detail["counts"].items())
            )
        elif "reconciliation_issues" in detail:
            files = ", ".join(f"{n} {status.lower()}" for status, n in detail["files"].items()) or "no new files"
            text = f"{detail['total_rows']:,} rows landed ({files}), {detail['reconciliation_issues']} issues"
            if detail.get("schema_drift"):
                text += f", {len(detail['schema_drift'])} files with schema drift (LANDING.SCHEMA_DRIFT)"
        else:
            text = ", ".join(f"{k} {v}" for k, v in detail.items())
        steps.add_row(step.name, f"{step.seconds:.1f}", text)
    console.print(steps)
    if gen:
        _print_generation(gen, report.ingestion)
    if report.vault:
        _print_vault(report.vault)
    if report.dbt:
        _print_dbt(report.dbt)
    if report.quality:
        _print_quality(report.quality, settings)
    console.print(
        f"[green]done[/] in {report.seconds:.1f}s on target {settings.target}; "
        f'look inside with [bold]lake sql "list @{settings.names.landing}.{settings.names.landing_stage}"[/]'
    )


def _print_generation(gen: dict[str, Any], ingested: dict[str, Any] | None = None) -> None:
    from procedures.spec import ENTITIES

    table = Table(
        title="Landed rows", title_justify="left", caption=f"{', '.join(gen['batches'])} at {gen['landing_url']}"
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
    defects = Table(title="Injected on purpose", title_justify="left", caption="listed in _generator/manifest/")
    defects.add_column("kind")
    defects.add_column("rows", justify="right")
    for kind, n in sorted({**gen["defects"], **gen["arrivals"]}.items()):
        defects.add_row(kind, f"{n:,}")
    console.print(defects)


def _print_vault(detail: dict[str, Any]) -> None:
    tables = Table(title="Raw vault", title_justify="left")
    for col in ("table", "rows", "table ", "rows ", "table  ", "rows  "):
        tables.add_column(col, justify="right" if col.startswith("rows") else "left")
    counts = detail["tables"]
    hubs = [t for t in counts if t.startswith("hub_")]
    links = [t for t in counts if t.startswith("link_")]
    sats = [t for t in counts if t.startswith("sat_")]
    for i in range(max(len(hubs), len(links), len(sats))):
        cells: list[str] = []
        for group in (hubs, links, sats):
            cells += [group[i], f"{counts[group[i]]:,}"] if i < len(group) else ["", ""]
        tables.add_row(*cells)
    console.print(tables)
    if detail["quarantine"]:
        quarantine = Table("entity: reason", "rows", title="Quarantined (VAULT.QUARANTINE)", title_justify="left")
        for reason, n in detail["quarantine"].items():
            quarantine.add_row(reason, f"{n:,}")
        console.print(quarantine)


def _print_dbt(detail: dict[str, Any]) -> None:
    marts = Table("layer", "model", "rows", title="dbt marts (dbt build)", title_justify="left")
    for name, rows in detail["marts"].items():
        layer, model = name.split(".")
        marts.add_row(layer, model, f"{rows:,}")
    console.print(marts)
    for problem in detail["problems"]:
        console.print(f"[yellow]{problem['status']}[/] {problem['node']} ({problem['failures']} rows)")


@app.command()
def generate(
    scale: ScaleOpt = 1000,
    days: DaysOpt = 1,
    seed: SeedOpt = 42,
    formats: FormatsOpt = "parquet",
    defect_rate: DefectOpt = 0.005,
    late_rate: LateOpt = 0.02,
    start_date: StartOpt = "2026-01-05",
    out: Annotated[
        Path | None, typer.Option(help="Write the files to this folder instead of the landing bucket.")
    ] = None,
) -> None:
    """Generate sample producer files: GENERATE_SAMPLE_DATA on the target, or into a folder."""
    from lake import pipeline
    from procedures import landing
    from procedures.sample_data import Plan
    from procedures.sample_data import generate as generate_files

    with _errors():
        args: dict[str, Any] = {
            "scale": scale,
            "days": days,
            "seed": seed,
            "formats": formats,
            "defect_rate": defect_rate,
            "late_rate": late_rate,
            "start_date": start_date,
        }
        plan = Plan.build(**args)
        bar, advance = _progress(pipeline.expected_rows(plan))
        if out is not None:
            sink = landing.DirectorySink(str(out))
            sink.check_writable()
            with bar:
                summary = generate_files(plan, sink, progress=advance).as_dict()
            summary["landing_url"] = str(out.resolve())
        else:
            settings = _settings()
            with pipeline.target(settings) as endpoints:
                pipeline.setup(settings, endpoints)
                with bar:
                    summary = pipeline.generate(settings, endpoints, progress=advance, **args).detail
        _print_generation(summary)


@app.command()
def upload(
    folder: Annotated[Path, typer.Argument(help="A folder in the landing layout, e.g. from `lake generate --out`.")],
) -> None:
    """Upload a folder of producer files to the landing bucket, keeping its layout."""
    from lake import pipeline
    from procedures import landing

    with _errors():
        if not folder.is_dir():
            raise landing.LandingError(f"{folder} is not a folder")
        settings = _settings()
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        with pipeline.target(settings):
            bucket, prefix = landing.split_landing_url(settings.landing_url)
            sink = landing.S3Sink(bucket, prefix, landing.s3_client())
            sink.check_writable()
            with Progress(console=err_console, transient=True) as bar:
                task = bar.add_task("uploading", total=len(files))
                for path in files:
                    sink.put(path.relative_to(folder).as_posix(), path.read_bytes())
                    bar.advance(task)
        console.print(f"uploaded {len(files)} files to {settings.landing_url}")


@app.command()
def quality(
    layer: Annotated[
        str, typer.Option(help="landing, vault, bronze, silver, gold, marts, all, or several comma-separated.")
    ] = "all",
    batch: Annotated[str, typer.Option(help="Only this batch's landing rows, e.g. B20260105.")] = "",
    landing_only: Annotated[bool, typer.Option("--landing-only", help="Only reconcile the landing zone.")] = False,
    with_gx: Annotated[
        bool, typer.Option("--gx", help="Also run the same rules as a Great Expectations checkpoint (Data Docs).")
    ] = False,
) -> None:
    """Run the data-quality rules (VALIDATE_DATA) of the layer(s), after reconciling the
    landing zone with the producers' control files when the landing layer is checked.
    Exits 1 on a mismatch or a failed error-severity rule; the results stay in
    QUALITY.RULE_RESULTS and RULE_EXCEPTIONS."""
    from lake import pipeline
    from procedures.validate_data import QualityGateError, layers_of

    with _errors():
        settings = _settings()
        # the control files are the landing layer's: reconcile when landing is checked
        reconciled = landing_only or "landing" in layers_of(layer)
        with pipeline.target(settings) as endpoints:
            result = pipeline.landing_reconciliation(settings, endpoints) if reconciled else None
            if result is not None:
                _print_reconciliation(result)
            if landing_only:
                if result is not None and not result.ok:
                    raise typer.Exit(1)
                return
            try:
                summary = pipeline.validate(settings, endpoints, layer, batch).detail
                gate_error = None
            except QualityGateError as err:
                gate_error = err
                summary = _last_quality_run(settings, endpoints)
            if with_gx:
                from lake import gx

                with console.status("Great Expectations: one checkpoint over the same rules"):
                    gx_report = gx.run(settings, endpoints, layer, batch)
        _print_quality([summary], settings, verbose=True)
        if with_gx:
            disagree = {
                name: (r["verdict"], gx_report.verdicts.get(name))
                for name, r in summary["rules"].items()
                if gx_report.verdicts.get(name) != r["verdict"]
            }
            console.print(
                f"Great Expectations: {len(gx_report.verdicts)} expectations in {gx_report.seconds:.1f}s, "
                f"{len(gx_report.verdicts) - len(disagree)} verdicts agree with VALIDATE_DATA; "
                f"Data Docs: {gx_report.docs}"
            )
            for name, (ours, theirs) in disagree.items():
                err_console.print(f"[bold red]disagree:[/] {name}: VALIDATE_DATA {ours}, Great Expectations {theirs}")
            if disagree:
                raise typer.Exit(1)
        if gate_error is not None:
            err_console.print(f"[bold red]error:[/] {gate_error}")
        if gate_error is not None or (result is not None and not result.ok):
            raise typer.Exit(1)


def _print_reconciliation(result: Any) -> None:
    table = Table(title="Landing zone against control files", title_justify="left")
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
    problems = Table("partition", "file", "problem", "detail", title="Problems", title_justify="left")
    for problem in result.problems:
        problems.add_row(problem.partition, problem.file_name, problem.kind, problem.detail)
    console.print(problems)
    err_console.print(f"[bold red]error:[/] {len(result.problems)} landing files do not match their control files")


def _last_quality_run(settings: Any, endpoints: Any) -> dict[str, Any]:
    """The summary of the newest VALIDATE_DATA run, read back from its results."""
    from lake.session import connect

    conn = connect(settings, endpoints)
    try:
        cur = conn.cursor()
        cur.execute(
            f"SELECT RULE_NAME, VERDICT, ROWS_FAILED, RUN_ID FROM {settings.names.quality}.RULE_RESULTS "
            f"WHERE RUN_ID = (SELECT RUN_ID FROM {settings.names.quality}.RULE_RESULTS "
            "ORDER BY CHECKED_AT DESC LIMIT 1)"
        )
        rows = cur.fetchall()
    finally:
        conn.close()
    verdicts = [str(r[1]) for r in rows]
    return {
        "run_id": str(rows[0][3]) if rows else "",
        "rules": {str(r[0]): {"verdict": str(r[1]), "rows_failed": int(r[2])} for r in rows},
        "rules_run": len(rows),
        "passed": verdicts.count("PASS"),
        "warned": verdicts.count("WARN"),
        "failed": verdicts.count("FAIL"),
        "layers": [],
    }


def _print_quality(summaries: list[dict[str, Any]], settings: Any, verbose: bool = False) -> None:
    """The data-quality section: rules run, passed, warned, failed per run, the rules that
    did not pass, and the generator's injected defects caught."""
    table = Table("layers", "rules", "passed", "warned", "failed", "exceptions", title="Data quality (VALIDATE_DATA)")
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
        rules = Table("rule", "verdict", "failing rows", title="Rules that did not pass", title_justify="left")
        for name, r in shown:
            colour = "red" if r["verdict"] == "FAIL" else "yellow"
            rules.add_row(name, f"[{colour}]{r['verdict']}[/]", f"{r['rows_failed']:,}")
        console.print(rules)
    elif shown:
        warned = sum(1 for _, r in shown if r["verdict"] == "WARN")
        console.print(
            f"{warned} rules warned (the landing rules flag what staging quarantines): `lake quality` lists them"
        )
    for q in summaries:
        if "defects" in q:
            d = q["defects"]
            kinds = ", ".join(f"{k} {v['caught']}/{v['injected']}" for k, v in d["by_kind"].items())
            colour = "green" if d["caught"] == d["injected"] else "red"
            console.print(f"[{colour}]injected defects caught: {d['caught']:,} of {d['injected']:,}[/] ({kinds})")
    console.print(
        f'history: [bold]lake sql "select * from {settings.names.quality}.rule_results order by checked_at desc"[/]'
    )


@app.command()
def setup() -> None:
    """Create or update the database objects from sql/ on the target (idempotent; deployments run it)."""
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            step = pipeline.setup(settings, endpoints)
        d = step.detail
        console.print(f"{d['statements']} statements from {d['files']} files in sql/ applied in {step.seconds:.1f}s")


BatchOpt = Annotated[str, typer.Option("--batch", help="One batch, e.g. B20260105 (default: every pending one).")]


def _step(run_step: Any) -> Any:
    from lake import pipeline

    settings = _settings()
    with pipeline.target(settings) as endpoints:
        return run_step(settings, endpoints)


@app.command()
def ingest(batch: BatchOpt = "") -> None:
    """INGEST_LANDING: the producers' files named by their control files into the landing
    tables, reconciled (what `lake upload` put in the landing zone, or a producer dropped)."""
    from lake import pipeline

    with _errors():
        step = _step(lambda s, e: pipeline.ingest(s, e, batch_id=batch))
        d = step.detail
        files = ", ".join(f"{n} {status.lower()}" for status, n in d["files"].items()) or "no new files"
        console.print(
            f"INGEST_LANDING: {d['total_rows']:,} rows landed from {', '.join(d['batches']) or 'no batch'} "
            f"({files}), {d['reconciliation_issues']} reconciliation issues, {step.seconds:.1f}s"
        )
        for failed in d["failed_files"]:
            err_console.print(f"  unreadable: {failed['file']}: {failed['error']}")
        for changed in d.get("changed_after_load", []):
            err_console.print(f"  rewritten after it was loaded (the vault holds the earlier content): {changed}")


@app.command()
def load(batch: BatchOpt = "") -> None:
    """LOAD_VAULT: ingested batches into the hubs, links and satellites (one transaction each)."""
    from lake import pipeline

    with _errors():
        step = _step(lambda s, e: pipeline.load(s, e, batch_id=batch))
        d = step.detail
        rows = sum(n for t, n in d["inserted"].items() if t != "quarantined")
        console.print(
            f"LOAD_VAULT: {rows:,} vault rows from {', '.join(d['batches']) or 'no pending batch'}, "
            f"{d['inserted'].get('quarantined', 0):,} quarantined, {step.seconds:.1f}s"
        )


@app.command()
def validate(
    layer: Annotated[
        str, typer.Option(help="landing, vault, bronze, silver, gold, marts or all (comma-separated).")
    ] = "landing,vault",
    batch: BatchOpt = "",
) -> None:
    """VALIDATE_DATA: the quality rules of the layers, pushed down; exits 1 when an
    error-severity rule fails (the results are written either way)."""
    from lake import pipeline
    from procedures.validate_data import layers_of

    with _errors():
        layers_of(layer)  # a bad layer fails before the servers start
        step = _step(lambda s, e: pipeline.validate(s, e, layer=layer, batch_id=batch))
        d = step.detail
        console.print(
            f"VALIDATE_DATA {layer}: {d['rules_run']} rules, {d['passed']} passed, {d['warned']} warned, "
            f"{d['failed']} failed; {d['exceptions']:,} exception rows, {step.seconds:.1f}s"
        )


@app.command()
def repair() -> None:
    """Remove second rows for one hash key from hubs and links (a lake loaded before the
    loader enforced one row per key), keeping the first; one transaction."""
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            step = pipeline.repair(settings, endpoints)
        removed = {t: n for t, n in step.detail["removed"].items() if n}
        if not removed:
            console.print(f"every hub and link holds one row per hash key ({step.seconds:.1f}s)")
        for table, n in removed.items():
            console.print(f"{table}: removed {n} row(s) beyond the first for their hash key")


@app.command()
def deploy(
    plan: Annotated[
        bool, typer.Option("--plan", help="Build the artifacts and print every step, offline, on any target.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for the built artifacts.")] = Path("build/deploy"),
) -> None:
    """Deploy to Snowflake: sql/, the generator's egress, the four procedures, the dbt project
    and the task graph, in that order (LAKE_TARGET=snowflake). --plan prints it all instead."""
    from lake import deploy as deployment

    with _errors():
        settings = _settings()
        if plan:
            built = deployment.plan(settings, out)
            sys.stdout.write(built.render())
            err_console.print(f"{len(built.steps)} steps; artifacts in {built.out}")
            return

        def echo(number: int, total: int, step: Any) -> None:
            err_console.print(f"[{number}/{total}] {step.section}: {step.printable.splitlines()[0][:100]}")

        done = deployment.execute(settings, out, echo=echo)
        console.print(
            f"deployed: {len(done.steps)} steps. Run the graph once with "
            f"EXECUTE TASK {settings.names.database}.{settings.names.audit}.LAKE_PIPELINE_ROOT"
        )


@app.command()
def tasks(
    warehouse: Annotated[str, typer.Option(help="Warehouse the tasks run on.")] = "LAKE_WH",
) -> None:
    """Print the Snowflake task graph (CREATE TASK statements) that `lake run` walks locally."""
    from lake.task_graph import snowflake_sql

    with _errors():
        settings = _settings()
        for statement in snowflake_sql(settings.names.database, settings.names.schemas, warehouse):
            sys.stdout.write(statement + ";\n")


@app.command()
def lineage(
    out: Annotated[Path, typer.Option(help="Folder for lineage.json and lineage.svg.")] = Path("docs"),
) -> None:
    """Write lineage from the landing zone to gold: JSON and an SVG picture (needs a dbt manifest)."""
    from lake import dbt as dbt_runner
    from lake import lineage as lineage_graph

    with _errors():
        settings = _settings()
        manifest = dbt_runner.state_dir(settings) / "target" / "manifest.json"
        graph = lineage_graph.build(settings.landing_url, settings.names.schemas, manifest)
        lineage_graph.write(graph, out / "lineage.json", out / "lineage.svg")
        gold = [n for n, node in graph.nodes.items() if node["layer"] == "gold"]
        missing = lineage_graph.gaps(graph, gold)
        console.print(
            f"{len(graph.nodes)} nodes, {len(graph.edges)} edges; {len(gold) - len(missing)} of {len(gold)} "
            f"gold marts trace back to the landing zone -> {out / 'lineage.json'}, {out / 'lineage.svg'}"
        )
        if missing:
            raise typer.Exit(1)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 to serve the dashboard on.")] = 8501,
    screenshot: Annotated[
        Path | None,
        typer.Option(help="Instead of serving: open the dashboard in headless Chromium and save a PNG here."),
    ] = None,
    native: Annotated[
        str | None, typer.Option("--app", help="Show a locally installed Native App's objects (lake app install).")
    ] = None,
) -> None:
    """Serve the Streamlit dashboard (the Native App's) on 127.0.0.1 against the target."""
    import os
    import subprocess

    from lake import ui as dashboard
    from lake.local.stack import LocalStack

    with _errors():
        settings = _settings()
        if native:
            from lake.local.app import app_settings, registry

            registry(settings, native.upper())  # says how to install it when it is not
            settings = app_settings(settings, native.upper())
        if settings.target == "local" and LocalStack(settings.local).running() is None:
            err_console.print("[bold red]error:[/] the local servers are not running: start them with `lake up`")
            raise typer.Exit(1)
        if screenshot is not None:
            try:
                with dashboard.served(settings, port) as url:
                    dashboard.capture(url, screenshot, ready="Procedure calls")
            except dashboard.BrowserError as err:
                err_console.print(f"[bold red]error:[/] {err}")
                raise typer.Exit(1) from None
            console.print(f"screenshot of the dashboard -> {screenshot}")
            return
        console.print(f"dashboard on http://127.0.0.1:{port} (Ctrl-C stops it)")
        env = {**os.environ, **dashboard.environment(settings)}
        raise typer.Exit(subprocess.call(dashboard.command(port), env=env))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context) -> None:
    """Run dbt on dbt/ against the current target, e.g. `lake dbt build` or `lake dbt docs generate`."""
    from lake import dbt as dbt_runner
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            dbt_runner.run(settings, endpoints, list(ctx.args))


@catalog_app.command("sync")
def catalog_sync() -> None:
    """Register every landing entity and its load-date partitions in the Glue Data Catalog."""
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            step = pipeline.catalog_sync(settings, endpoints)
        d = step.detail
        console.print(
            f"Glue database [bold]{d['database']}[/]: {d['tables']} tables, {d['partitions']} partitions "
            f"({d['added_partitions']} new) in {step.seconds:.1f}s"
        )


@infra_app.command("synth")
def infra_synth(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("cdktf.out"),
    env: Annotated[list[str] | None, typer.Option(help="Only this environment (repeatable).")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file (default cdktf/environments.toml).")] = None,
) -> None:
    """Synthesize the AWS and Snowflake stacks, one per environment, into Terraform JSON (offline)."""
    from lake import infra

    with _errors():
        with console.status("synthesizing (the AWS provider takes a few seconds to load)"):
            stacks = infra.synth(out, env, config)
        for path in stacks:
            console.print(f"[green]synthesized[/] {path}")


@infra_app.command("check")
def infra_check(
    out: Annotated[Path, typer.Option(help="The folder `lake infra synth` wrote.")] = Path("cdktf.out"),
) -> None:
    """Scan every synthesized stack with checkov; fail on a finding not in cdktf/checkov_skips.toml."""
    from lake import infra

    with _errors():
        stacks = sorted(p for p in (out / "stacks").glob("*") if p.is_dir()) if (out / "stacks").is_dir() else []
        if not stacks:
            raise infra.InfraError(f"{out}: no synthesized stacks; run `lake infra synth` first")
        skips = infra.load_skips()
        reports = [infra.check(stack, skips) for stack in stacks]
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
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command("dbt-lint")
def dbt_lint(
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite the files where sqlfluff can.")] = False,
) -> None:
    """Lint the dbt models with sqlfluff (Snowflake dialect, dbt templater) against the target."""
    from lake import dbt as dbt_runner
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            result = dbt_runner.lint(settings, endpoints, fix=fix)
        console.print(result.stdout + result.stderr, markup=False, highlight=False)
        if result.returncode != 0:
            raise typer.Exit(result.returncode)


# --------------------------------------------------------------------------- inspection


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help='One SQL statement, e.g. "select * from vault.hub_customer limit 5".')],
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Run one SQL statement on the target and print the result."""
    from lake import pipeline

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            _print_query(settings, query, format.value, endpoints)


def _print_query(settings: Any, query: str, fmt: str, endpoints: Any = None) -> None:
    from lake.local.stack import LocalStack
    from lake.session import connect

    if endpoints is None and settings.target == "local":
        endpoints = LocalStack(settings.local).running()
    conn = connect(settings, endpoints)
    try:
        cur = conn.cursor()
        cur.execute(query)
        names = [d[0] for d in cur.description or []]
        rows = cur.fetchall()
    finally:
        conn.close()
    write_rows(names, rows, fmt)


def write_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(zip(names, r, strict=True)) for r in rows], default=str, indent=2) + "\n")
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(*names, caption=f"{len(rows):,} rows")
        for r in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in r))
        console.print(table)


@app.command()
def config() -> None:
    """Show the resolved configuration (secrets are never part of it)."""
    from lake.config import config_path

    with _errors():
        settings = _settings()
        path = config_path()
        console.print(f"config file: {path or '(none; defaults and environment)'}")
        console.print_json(settings.model_dump_json())


if __name__ == "__main__":
    app()


# --------------------------------------------------------------------------- the Native App

AppNameOpt = Annotated[str, typer.Option("--name", help="The application's name (its database locally).")]


def _local_only(local: bool, what: str) -> None:
    if not local:
        err_console.print(
            f"[bold red]error:[/] {what} on Snowflake is `make app-deploy` (snow app run); "
            "add --local to do it on the local engine"
        )
        raise typer.Exit(2)


@native_app.command("install")
def app_install(
    local: Annotated[
        bool, typer.Option("--local", help="Install on the local engine (the only place lake installs it).")
    ] = False,
    name: AppNameOpt = "LAKE_APP",
    bundle: Annotated[
        Path | None, typer.Option(help="A bundle `snow app bundle` built (default: bundle this checkout).")
    ] = None,
    scale: Annotated[int, typer.Option(min=1, help="Clients to generate when the landing zone is empty.")] = 1000,
) -> None:
    """Install the app from its bundle into a database standing in for the application,
    bind the local landing stage, and run INGEST_LANDING, LOAD_VAULT and VALIDATE_DATA
    through the app's own procedures. Installing again upgrades (state kept)."""
    _local_only(local, "installing the app")
    from lake import pipeline
    from lake.local import app as local_app

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints, console.status(f"installing {name} and running its procedures"):
            report = local_app.install_and_run(
                settings, local_app.local_endpoints(settings, endpoints), bundle, name, scale
            )
        inst = report.installed
        skipped = sum(inst.skipped.values())
        how = f"upgraded from {inst.upgraded_from}" if inst.upgraded_from else "installed"
        console.print(
            f"{name} {how} to {inst.version}: {inst.statements_run} setup statements run, {skipped} only Snowflake "
            f"runs skipped, {len(inst.procedures)} procedures from {inst.directory}"
        )
        steps = Table("step", "seconds", "detail", title=f"{name}: the app's task graph, called in order")
        steps.title_justify = "left"
        for step in report.steps:
            steps.add_row(step.name, f"{step.seconds:.1f}", _app_step_detail(step.detail))
        console.print(steps)
        app_rows, lake_rows = sum(report.app_vault.values()), sum(report.lake_vault.values())
        console.print(f"vault inside {name}: {app_rows:,} rows in {len(report.app_vault)} tables")
        if report.lake_vault:
            differ = sorted(t for t in report.app_vault if report.app_vault[t] != report.lake_vault.get(t))
            same = "the same counts" if not differ else f"different counts in {', '.join(differ)}"
            console.print(f"standalone lake ({settings.names.database}): {lake_rows:,} rows, {same}")
        console.print(f'look inside: lake sql "select * from {name}.AUDIT.PROCEDURE_RUNS order by started_at desc"')


def _app_step_detail(detail: dict[str, Any]) -> str:
    if "rules_run" in detail:
        return (
            f"{detail['rules_run']} rules: {detail['passed']} passed, {detail['warned']} warned, "
            f"{detail['failed']} failed"
        )
    if "inserted" in detail:
        rows = sum(n for t, n in detail["inserted"].items() if t != "quarantined")
        quarantined = detail["inserted"].get("quarantined", 0)
        return f"{rows:,} vault rows from {len(detail['batches'])} batches, {quarantined:,} quarantined"
    if "total_rows" in detail and "files" in detail and isinstance(detail["files"], dict):
        return f"{detail['total_rows']:,} rows landed from {', '.join(detail['batches']) or 'no batch'}"
    if "stage" in detail:
        return f"{detail['stage']} ({detail['files']} files)"
    return ", ".join(f"{k} {v}" for k, v in detail.items() if not isinstance(v, dict | list))


@native_app.command("call")
def app_call(
    procedure: Annotated[str, typer.Argument(help="A procedure of the app, e.g. VALIDATE_DATA.")],
    arguments: Annotated[list[str] | None, typer.Argument(help="Its arguments, as strings.")] = None,
    name: AppNameOpt = "LAKE_APP",
) -> None:
    """CALL one of the locally installed app's procedures; prints its result as JSON."""
    from lake import pipeline
    from lake.local import app as local_app

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            ready = local_app.local_endpoints(settings, endpoints)
            result = local_app.call(settings, ready, procedure, *(arguments or []), app=name)
        print(json.dumps(result, indent=2, default=str))


@native_app.command("uninstall")
def app_uninstall(
    local: Annotated[bool, typer.Option("--local", help="Uninstall from the local engine.")] = False,
    name: AppNameOpt = "LAKE_APP",
) -> None:
    """Drop the locally installed app: its database and installed versions."""
    _local_only(local, "uninstalling the app (DROP APPLICATION)")
    from lake import pipeline
    from lake.local import app as local_app

    with _errors():
        settings = _settings()
        with pipeline.target(settings) as endpoints:
            existed = local_app.uninstall(settings, local_app.local_endpoints(settings, endpoints), name)
        console.print(f"{name} {'dropped' if existed else 'was not installed; nothing to drop'}")
