"""``lake``: run the institutional client data lake locally or against Snowflake."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from lake import output

if TYPE_CHECKING:
    from lake.config import Settings
    from lake.local.stack import Endpoints
    from procedures.sample_data import Plan

R = TypeVar("R")


class _OneErrorPath(TyperGroup):
    """Every command runs through here: a failure a user can cause ends in one line naming
    what to fix and exit 1 (``output.error_line``); Ctrl-C in "interrupted" and exit 130;
    ``--debug`` (or LAKE_DEBUG=1) lets the traceback through instead."""

    def invoke(self, ctx: Any) -> Any:
        import os

        from typer.exceptions import Abort, Exit, TyperException

        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise Exit(130) from None
        except Exception as err:
            if os.environ.get(DEBUG_ENV) == "1":
                raise
            err_console.print(f"[bold red]error:[/] {output.escape(output.error_line(err))}", highlight=False)
            raise Exit(1) from None


app = typer.Typer(
    cls=_OneErrorPath,
    rich_markup_mode=None,  # plain usage errors: one "Error: ..." line, nothing drawn around it
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
landing_app = typer.Typer(
    help="Correct what producers landed: withdraw or supersede a file, with an audit trail (AUDIT.CORRECTIONS).",
    no_args_is_help=True,
)
app.add_typer(landing_app, name="landing")
native_app = typer.Typer(
    help="The Snowflake Native App (native_app/): install it on the local engine, call its procedures.",
    no_args_is_help=True,
)
app.add_typer(native_app, name="app")
console = output.console
err_console = output.err_console  # an error stays one line for grep and logs
DEBUG_ENV = "LAKE_DEBUG"


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (also: LAKE_DEBUG=1).")
    ] = False,
    target: Annotated[
        str | None,
        typer.Option("--target", help="local or snowflake, for this command (default: LAKE_TARGET or lake.toml)."),
    ] = None,
) -> None:
    """The institutional client data lake: Data Vault 2.0 and medallion marts on Snowflake,
    or on local moto + fakesnow servers (the default target)."""
    import os

    if debug:
        os.environ[DEBUG_ENV] = "1"
    if target is not None:
        if target not in ("local", "snowflake"):
            raise typer.BadParameter(f"must be local or snowflake, got {target!r}", param_hint="--target")
        os.environ["LAKE_TARGET"] = target


# --target and --debug belong to `lake`, but users also put them after the command
# (`lake run --target snowflake`): move them in front, where click reads them
_GLOBAL_FLAGS = ("--debug",)
_GLOBAL_OPTIONS = ("--target",)


def _globals_first(args: list[str]) -> list[str]:
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _GLOBAL_FLAGS:
            front.append(arg)
        elif arg in _GLOBAL_OPTIONS and i + 1 < len(args):
            front += [arg, args[i + 1]]
            i += 1
        elif arg.split("=", 1)[0] in _GLOBAL_OPTIONS:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    """The ``lake`` executable."""
    app(args=_globals_first(sys.argv[1:]), prog_name="lake")


def _show_warnings() -> None:
    """A procedure's warnings (a load waiting on the vault's lock, say) on stderr, one line each."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.getLogger("procedures").addHandler(handler)


_show_warnings()


def _settings() -> Settings:
    from lake.config import load_settings

    return load_settings()


def _exclusive(settings: Settings, shared: bool = False) -> contextlib.AbstractContextManager[None]:
    """The state folder's command lock for the length of the block, on the local target: one
    command at a time (``lake.local.stack.command_lock``). ``shared`` (a query): no lock
    while the servers run, as it neither starts nor stops them."""
    import click

    if settings.target != "local":
        return contextlib.nullcontext()
    from lake.local.stack import LocalStack, command_lock

    if shared and LocalStack(settings.local).running() is not None:
        return contextlib.nullcontext()
    ctx = click.get_current_context(silent=True)
    return command_lock(settings.local.state_dir.resolve(), ctx.command_path if ctx else "lake")


# --------------------------------------------------------------------------- servers


@app.command()
def up(
    persist_s3: Annotated[bool, typer.Option(help="Save the local S3 buckets under the state folder at stop.")] = True,
) -> None:
    """Start the local S3 (moto) and Snowflake (fakesnow) servers in the background."""
    from lake.local.stack import LocalStack

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
    console.print(f"  Snowflake  http://{ep.snowflake_host}:{ep.snowflake_port}  database {settings.names.database}")
    console.print("Point your own tools at them with:")
    for key, value in ep.aws_env().items():
        console.print(f"  export {key}={value}")


@app.command()
def down(
    force: Annotated[
        bool, typer.Option("--force", help="Interrupt a lake command running on the state folder first (as Ctrl-C).")
    ] = False,
) -> None:
    """Stop the local servers (the warehouse file and an S3 snapshot stay under the state
    folder). Refused while another lake command runs on them, unless --force."""
    from lake.local import stack as local_stack

    settings = _settings()
    state_dir = settings.local.state_dir.resolve()
    holder = local_stack.lock_holder(state_dir)
    if holder is not None:
        if not force:
            raise local_stack.Busy(
                f"{local_stack.describe(holder)} is running on the state folder {state_dir}: wait for it to end, "
                f"or `{output.lake_command()} down --force` to interrupt it first"
            )
        with console.status(f"interrupting {local_stack.describe(holder)}"):
            local_stack.interrupt(state_dir)
        console.print(f"interrupted {local_stack.describe(holder)}")
    stack = local_stack.LocalStack(settings.local)
    with console.status("stopping the local servers and saving the S3 snapshot"):
        stopped = stack.stop()
    console.print("stopped" if stopped else "not running")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document, for scripts.")] = False,
) -> None:
    """Show the target, the local servers, and the last procedure runs (read from the
    local warehouse's files when the servers are down)."""
    from lake import pipeline

    doc = pipeline.status(_settings())
    if as_json:
        sys.stdout.write(output.to_json(doc) + "\n")
        return
    output.print_status(doc)


# --------------------------------------------------------------------------- pipeline


def _batch_id(value: str) -> str:
    """A batch id, checked when the command line is read (before any server starts)."""
    from procedures.audit import ArgumentError, checked_batch_id

    try:
        return checked_batch_id(value)
    except ArgumentError as err:
        raise typer.BadParameter(str(err)) from None


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
# The generator's options, declared once: the commands that take them get the Plan built
# from them (``with_plan_options``), checked before any server starts
PLAN_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("scale", ScaleOpt, 1000),
    ("days", DaysOpt, 1),
    ("seed", SeedOpt, 42),
    ("formats", FormatsOpt, "parquet"),
    ("defect_rate", DefectOpt, 0.005),
    ("late_rate", LateOpt, 0.02),
    ("start_date", StartOpt, "2026-01-05"),
)


def with_plan_options(**defaults: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A command whose ``plan`` parameter typer fills from ``PLAN_OPTIONS`` (their own
    defaults, or ``defaults``): its --help lists them, then the command's own options."""
    import functools
    import inspect
    import typing

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        # the command's own annotations, evaluated; "plan" is filled here, not by typer
        hints = typing.get_type_hints(command, localns={"Plan": object}, include_extras=True)
        keyword = inspect.Parameter.KEYWORD_ONLY
        options = [
            inspect.Parameter(name, keyword, default=defaults.get(name, default), annotation=annotation)
            for name, annotation, default in PLAN_OPTIONS
        ]
        own = [
            p.replace(kind=keyword, annotation=hints[p.name])
            for p in inspect.signature(command).parameters.values()
            if p.name != "plan"
        ]

        @functools.wraps(command)
        def with_plan(**values: Any) -> None:
            command(plan=_plan(**{name: values.pop(name) for name, _, _ in PLAN_OPTIONS}), **values)

        with_plan.__signature__ = inspect.Signature([*options, *own])  # type: ignore[attr-defined]
        with_plan.__annotations__ = {p.name: p.annotation for p in (*options, *own)}
        return with_plan

    return decorate


@app.command()
@with_plan_options(days=3)
def run(
    plan: Plan,
    generate_data: Annotated[
        bool,
        typer.Option(
            "--generate/--no-generate",
            help="Generate sample data first (default), or run on the files producers dropped (lake upload).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document of the run, for scripts.")] = False,
) -> None:
    """Run the whole pipeline on the target: one line per step as it runs, then a summary."""
    from lake import dbt, pipeline, progress

    settings = _settings()
    reporter: progress.Reporter = output.StepPrinter(console)
    if as_json:  # stdout holds the document only; the steps go to a terminal's stderr, if any
        reporter = output.StepPrinter(output.err_console) if sys.stderr.isatty() else progress.Reporter()
    else:
        console.print(f"lake run on the {settings.target} target ({settings.names.database})", highlight=False)
    with _exclusive(settings), progress.reporting(reporter):
        report = pipeline.run(settings, plan if generate_data else None)
    if as_json:
        sys.stdout.write(output.to_json(dataclasses.asdict(report) | {"seconds": report.seconds}) + "\n")
    else:
        output.print_run(settings, report, dbt.log_file(settings))
    if problems := report.reconciliation_problems:
        err_console.print(
            f"[bold red]error:[/] {problems} landing files do not match their control files (named in the "
            f"steps above; `{output.lake_command()} quality --landing-only` lists them)"
        )
        raise typer.Exit(1)


def _plan(**options: Any) -> Plan:
    """The generator's plan from the command line's ``PLAN_OPTIONS``, checked before any
    server starts (a bad argument fails in well under a second)."""
    from procedures.sample_data import GenerationError, Plan

    try:
        return Plan.build(**options)
    except GenerationError as err:
        raise typer.BadParameter(str(err)) from None


@app.command()
@with_plan_options()
def generate(
    plan: Plan,
    out: Annotated[
        Path | None, typer.Option(help="Write the files to this folder instead of the landing bucket.")
    ] = None,
) -> None:
    """Generate sample producer files: GENERATE_SAMPLE_DATA on the target, or into a folder."""
    from lake import pipeline, progress
    from procedures import landing
    from procedures.sample_data import generate as generate_files

    advance = progress.row_counter(pipeline.expected_rows(plan))
    reporter = output.StepPrinter(output.err_console)
    reporter.start("GENERATE_SAMPLE_DATA")
    with progress.reporting(reporter):
        try:
            if out is not None:
                sink = landing.DirectorySink(str(out))
                sink.check_writable()
                summary = generate_files(plan, sink, progress=advance).as_dict(landing_url=str(out.resolve()))
            else:
                settings = _settings()
                with _exclusive(settings), pipeline.target(settings) as endpoints:
                    pipeline.setup(settings, endpoints)
                    summary = pipeline.generate(settings, endpoints, plan, progress=advance).detail
        finally:
            reporter.stop()
    output.print_generation(summary)


@app.command()
def upload(
    folder: Annotated[Path, typer.Argument(help="A folder in the landing layout, e.g. from `lake generate --out`.")],
) -> None:
    """Upload a folder of producer files to the landing bucket, keeping its layout."""
    from lake import pipeline

    files = pipeline.landing_files(folder)  # a file outside the layout fails before any server starts
    settings = _settings()
    reporter = output.StepPrinter()
    reporter.start("uploading")
    with _exclusive(settings), pipeline.target(settings):
        try:
            pipeline.upload(settings, folder, files, lambda done, total: reporter.update(done, total, "files"))
        finally:
            reporter.stop()
    console.print(f"uploaded {len(files)} files to {settings.landing_url}")


@app.command()
def quality(
    layer: Annotated[
        str, typer.Option(help="landing, vault, bronze, silver, gold, marts, all, or several comma-separated.")
    ] = "all",
    batch: Annotated[
        str, typer.Option(callback=_batch_id, help="Only this batch's landing rows, e.g. B20260105.")
    ] = "",
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
    from procedures.quality import QualityGateError, layers_of

    try:
        layers = layers_of(layer)
    except ValueError as err:
        raise typer.BadParameter(str(err), param_hint="--layer") from None
    settings = _settings()
    # the control files are the landing layer's: reconcile when landing is checked
    reconciled = landing_only or "landing" in layers
    with _exclusive(settings), pipeline.target(settings) as endpoints:
        result = pipeline.landing_reconciliation(settings, endpoints, batch) if reconciled else None
        if result is not None:
            output.print_reconciliation(result)
        if landing_only:
            if result is not None and not result.ok:
                raise typer.Exit(1)
            return
        try:
            summary = pipeline.validate(settings, endpoints, layer, batch).detail
            gate_error = None
        except QualityGateError as err:
            gate_error = err
            summary = pipeline.last_quality_run(settings, endpoints)
        if with_gx:
            from lake import gx

            with console.status("Great Expectations: one checkpoint over the same rules"):
                gx_report = gx.run(settings, endpoints, layer, batch)
    output.print_quality([summary], settings, verbose=True)
    if with_gx:
        disagree = gx_report.disagreements(summary)
        output.print_gx(gx_report, disagree)
        if disagree:
            raise typer.Exit(1)
    if gate_error is not None:
        err_console.print(f"[bold red]error:[/] {gate_error}")
    if gate_error is not None or (result is not None and not result.ok):
        raise typer.Exit(1)


@app.command()
def setup() -> None:
    """Create or update the database objects from sql/ on the target (idempotent; deployments run it)."""
    from lake import pipeline

    output.print_setup(_step(pipeline.setup))


BatchOpt = Annotated[
    str, typer.Option("--batch", callback=_batch_id, help="One batch, e.g. B20260105 (default: every pending one).")
]


def _step(run_step: Callable[[Settings, Endpoints | None], R], shared: bool = False) -> R:
    """One step on the configured target (its servers started and stopped as needed),
    holding the state folder's command lock (``shared``: see ``_exclusive``)."""
    from lake import pipeline

    settings = _settings()
    with _exclusive(settings, shared), pipeline.target(settings) as endpoints:
        return run_step(settings, endpoints)


@app.command()
def ingest(batch: BatchOpt = "") -> None:
    """INGEST_LANDING: the producers' files named by their control files into the landing
    tables, reconciled (what `lake upload` put in the landing zone, or a producer dropped)."""
    from lake import pipeline

    done = _step(lambda s, e: pipeline.ingest(s, e, batch_id=batch))
    output.print_ingestion(done)
    if done.detail["reconciliation_issues"]:
        err_console.print(
            f"[bold red]error:[/] {done.detail['reconciliation_issues']} reconciliation issues in "
            f"{', '.join(done.detail['batches'])} (named above; LANDING.RECONCILIATION keeps them)"
        )
        raise typer.Exit(1)


@app.command()
def load(batch: BatchOpt = "") -> None:
    """LOAD_VAULT: ingested batches into the hubs, links and satellites (one transaction each)."""
    from lake import pipeline

    output.print_load(_step(lambda s, e: pipeline.load(s, e, batch_id=batch)))


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
    from procedures.quality import layers_of

    layers_of(layer)  # a bad layer fails before the servers start
    output.print_validation(_step(lambda s, e: pipeline.validate(s, e, layer=layer, batch_id=batch)))


@app.command()
def replay(
    from_date: Annotated[str, typer.Option("--from", help="First delivery day to replay, YYYY-MM-DD.")],
    to_date: Annotated[str, typer.Option("--to", help="Last delivery day to replay (inclusive), YYYY-MM-DD.")],
) -> None:
    """REPLAY: the days' batches ingested and loaded again from the files still held, then
    validation, the marts and publishing; names the days that cannot be replayed. Idempotent:
    nothing changes unless the code or the rules did."""
    from lake import dbt, pipeline, progress
    from procedures.handlers.replay import days

    try:
        days(from_date, to_date)  # a bad range fails before the servers start
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    settings = _settings()
    with _exclusive(settings), progress.reporting(output.StepPrinter(console)):
        done, run = pipeline.replay(settings, from_date, to_date)
    if run is not None:
        output.print_run(settings, run, dbt.log_file(settings))
    elif settings.target == "snowflake" and done.detail["replayed"]:
        console.print(
            "the task graph runs now in the warehouse: `lake status` and AUDIT.PIPELINE_RUNS tell how it ended"
        )


@app.command()
def repair(
    batch: Annotated[
        str,
        typer.Option(
            "--batch",
            callback=_batch_id,
            help="Instead: remove this batch, recorded as loaded by mistake (it landed no file), with its audit rows.",
        ),
    ] = "",
    reason: Annotated[str, typer.Option(help="Why (with --batch); kept in AUDIT.CORRECTIONS.")] = "",
) -> None:
    """Remove second rows for one hash key from hubs and links (a lake loaded before the
    loader enforced one row per key), keeping the first; one transaction. With --batch:
    remove a batch recorded as loaded that landed no file (a mistyped id)."""
    from lake import pipeline

    if batch:
        from lake import corrections

        output.print_correction(_step(lambda s, e: corrections.remove_batch(s, e, batch, reason)))
        return
    output.print_repair(_step(pipeline.repair))


ReasonOpt = Annotated[str, typer.Option(help="Why: kept in AUDIT.CORRECTIONS with who and when.")]
LandingPath = Annotated[
    str, typer.Argument(help="The file's path in the landing zone: <producer>/<entity>/load_date=YYYY-MM-DD/<file>.")
]


@landing_app.command("withdraw")
def landing_withdraw(path: LandingPath, reason: ReasonOpt) -> None:
    """Withdraw a landed file: moved under _withdrawn/ (kept), what ingestion took from it
    removed (not once the vault loaded it), recorded in AUDIT.CORRECTIONS; a batch already
    ingested is ingested again so its reconciliation is current."""
    from lake import corrections

    output.print_correction(_step(lambda s, e: corrections.withdraw(s, e, path, reason)))


@landing_app.command("supersede")
def landing_supersede(
    path: LandingPath,
    corrected: Annotated[Path, typer.Option("--with", help="The corrected file, landed under the same name.")],
    reason: ReasonOpt,
) -> None:
    """Replace a landed file with a corrected one under the same name: the old one is
    withdrawn (kept under _withdrawn/), the new one lands, both recorded in AUDIT.CORRECTIONS."""
    from lake import corrections

    output.print_correction(_step(lambda s, e: corrections.supersede(s, e, path, corrected, reason)))


@app.command()
def erase(
    customer_id: Annotated[str, typer.Argument(help="The client whose contact people's personal data is erased.")],
    request: Annotated[str, typer.Option(help="The erasure request's reference, kept in AUDIT.ERASURE_LOG.")],
    verify: Annotated[
        bool,
        typer.Option(
            "--verify/--no-verify",
            help="Scan every table for the former values, before (where they were) and after (none left).",
        ),
    ] = True,
) -> None:
    """Right to erasure: ERASE_SUBJECT overwrites the personal values of a client's contact
    people in every table, in all history, and registers the client so later loads keep
    them erased. Keys, links, transactions and every other fact stay."""
    from lake import pipeline

    output.print_erasure(_step(lambda s, e: pipeline.erase(s, e, customer_id, request, verify)))


@app.command()
def deploy(
    plan: Annotated[
        bool, typer.Option("--plan", help="Build the artifacts and print every step, offline, on any target.")
    ] = False,
    out: Annotated[Path, typer.Option(help="Folder for the built artifacts.")] = Path("build/deploy"),
    bootstrap: Annotated[
        bool,
        typer.Option(
            "--bootstrap",
            help="Run only the account bootstrap (sql/005_account.sql) as ACCOUNTADMIN: once per account.",
        ),
    ] = False,
) -> None:
    """Deploy to Snowflake: sql/, the generator's egress, the stored procedures, the dbt project
    and the task graph, in that order (LAKE_TARGET=snowflake), as the deployer role, after
    the account bootstrap (--bootstrap, once). --plan prints it all instead, with the role
    of every section, and checks each statement against the privilege model."""
    from lake import deploy as deployment

    settings = _settings()
    if plan:
        built = deployment.plan(settings, out)
        sys.stdout.write(built.render())
        err_console.print(f"{len(built.steps)} steps; artifacts in {built.out}")
        checked = deployment.check_privileges(settings, built)
        roles = ", ".join(sorted({c.role for c in checked}))
        err_console.print(
            f"privileges: every statement's role holds what it needs ({len(checked)} sections, run as {roles}; "
            "lake/privileges.py)"
        )
        return

    def echo(number: int, total: int, step: deployment.Step) -> None:
        err_console.print(f"[{number}/{total}] {step.section}: {step.printable.splitlines()[0][:100]}")

    done = deployment.execute(settings, out, echo=echo, bootstrap=bootstrap)
    if bootstrap:
        console.print(f"account bootstrap done: {len(done.steps)} statements; now run `{output.lake_command()} deploy`")
        return
    console.print(
        f"deployed: {len(done.steps)} steps. Run the graph once with "
        f"EXECUTE TASK {settings.names.database}.{settings.names.audit}.LAKE_PIPELINE_ROOT"
    )


@app.command()
def tasks(
    warehouse: Annotated[str, typer.Option(help="Warehouse the tasks run on.")] = "LAKE_WH",
) -> None:
    """Print the Snowflake task graph (CREATE TASK statements) that `lake run` walks locally."""
    from lake.task_graph import deployed_sql

    for statement in deployed_sql(_settings(), warehouse):
        sys.stdout.write(statement + ";\n")


@app.command()
def lineage(
    out: Annotated[Path, typer.Option(help="Folder for lineage.json and lineage.svg.")] = Path("docs"),
) -> None:
    """Write lineage from the landing zone to gold: JSON and an SVG picture (needs a dbt manifest)."""
    from lake import dbt as dbt_runner
    from lake import lineage as lineage_graph

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
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1 to serve the dashboard on.")] = 8501,
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

    settings = _settings()
    if native:
        from lake.local.app import app_settings, registry

        registry(settings, native.upper())  # says how to install it when it is not
        settings = app_settings(settings, native.upper())
    if settings.target == "local" and LocalStack(settings.local).running() is None:
        raise dashboard.BrowserError(f"the local servers are not running: start them with `{output.lake_command()} up`")
    if screenshot is not None:
        with dashboard.served(settings, port) as url:
            page = dashboard.capture(url, screenshot, ready="Procedure calls")
        console.print(f"screenshot of the dashboard ({page.drawn} charts drawn) -> {screenshot}", highlight=False)
        return
    console.print(f"dashboard on http://127.0.0.1:{port} (Ctrl-C stops it)")
    env = {**os.environ, **dashboard.environment(settings)}
    raise typer.Exit(subprocess.call(dashboard.command(port), env=env))


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def dbt(ctx: typer.Context) -> None:
    """Run dbt on dbt/ against the current target, e.g. `lake dbt build` or `lake dbt docs generate`."""
    from lake import dbt as dbt_runner

    _step(lambda s, e: dbt_runner.run(s, e, list(ctx.args)))


@catalog_app.command("sync")
def catalog_sync() -> None:
    """Register every landing entity and its load-date partitions in the Glue Data Catalog."""
    from lake import pipeline

    output.print_catalog(_step(pipeline.catalog_sync))


@infra_app.command("synth")
def infra_synth(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("cdktf.out"),
    env: Annotated[list[str] | None, typer.Option(help="Only this environment (repeatable).")] = None,
    config: Annotated[Path | None, typer.Option(help="Settings file (default cdktf/environments.toml).")] = None,
) -> None:
    """Synthesize the AWS and Snowflake stacks, one per environment, into Terraform JSON (offline)."""
    from lake import infra

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

    reports = infra.check_all(out)
    output.print_checkov(reports)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@app.command("dbt-lint")
def dbt_lint(
    fix: Annotated[bool, typer.Option("--fix", help="Rewrite the files where sqlfluff can.")] = False,
) -> None:
    """Lint the dbt models with sqlfluff (Snowflake dialect, dbt templater) against the target."""
    from lake import dbt as dbt_runner

    result = _step(lambda s, e: dbt_runner.lint(s, e, fix=fix))
    console.print(result.stdout + result.stderr, markup=False, highlight=False)
    if result.returncode != 0:
        raise typer.Exit(result.returncode)


# --------------------------------------------------------------------------- inspection


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help='SQL to run, one or more statements ("select * from vault.hub_customer limit 5"); '
            '"-" reads them from standard input.'
        ),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Run the statements of this file, in order.")] = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
) -> None:
    """Run SQL on the target and print each statement's result; stops at the first
    statement that fails, naming it, with the server's message in one line."""
    from lake import sqlfiles

    if (query is None) == (file is None):
        raise typer.BadParameter("give SQL, - to read it from standard input, or --file FILE (one of them)")
    if file is not None:
        try:
            text = file.read_text()
        except OSError as err:
            raise typer.BadParameter(f"{file}: {err.strerror}", param_hint="--file") from None
    else:
        text = sys.stdin.read() if query == "-" else str(query)
    statements = sqlfiles.split(text)
    if not statements:
        where = str(file) if file is not None else "standard input" if query == "-" else "QUERY"
        raise typer.BadParameter(f"{where} is empty: give one or more SQL statements")
    from lake import pipeline

    several = len(statements) > 1

    def show(number: int, statement: str, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        if several:
            heading = f"-- [{number}/{len(statements)}] {' '.join(statement.split())[:100]}"
            (console if format == Format.table else err_console).print(heading, markup=False, highlight=False)
        output.write_rows(names, rows, format.value)

    _step(lambda s, e: pipeline.queries(s, e, statements, show), shared=True)


@app.command()
def config(
    format: Annotated[
        Format, typer.Option("--format", "-f", help="table (readable) or json (for scripts).")
    ] = Format.table,
) -> None:
    """Show the resolved configuration (secrets are never part of it)."""
    from lake.config import config_path

    settings = _settings()
    path = config_path()
    resolved = json.loads(settings.model_dump_json())
    if format == Format.json:
        sys.stdout.write(output.to_json({"config_file": str(path) if path else None, "settings": resolved}) + "\n")
        return
    console.print(f"config file: {path or '(none; defaults and environment)'}")
    console.print_json(data=resolved)


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

    settings = _settings()
    with (
        _exclusive(settings),
        pipeline.target(settings) as endpoints,
        console.status(f"installing {name} and running its procedures"),
    ):
        report = local_app.install_and_run(
            settings, local_app.local_endpoints(settings, endpoints), bundle, name, scale
        )
    output.print_app_run(settings, report, name)


@native_app.command("call")
def app_call(
    procedure: Annotated[str, typer.Argument(help="A procedure of the app, e.g. VALIDATE_DATA.")],
    arguments: Annotated[list[str] | None, typer.Argument(help="Its arguments, as strings.")] = None,
    name: AppNameOpt = "LAKE_APP",
) -> None:
    """CALL one of the locally installed app's procedures; prints its result as JSON."""
    from lake import pipeline
    from lake.local import app as local_app

    settings = _settings()
    with _exclusive(settings), pipeline.target(settings) as endpoints:
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

    settings = _settings()
    with _exclusive(settings), pipeline.target(settings) as endpoints:
        existed = local_app.uninstall(settings, local_app.local_endpoints(settings, endpoints), name)
    console.print(f"{name} {'dropped' if existed else 'was not installed; nothing to drop'}")


if __name__ == "__main__":
    main()
