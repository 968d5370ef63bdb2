"""The whole pipeline on the configured target, step by step.

Apply ``sql/``, ``GENERATE_SAMPLE_DATA``, reconcile the landing zone with the producers'
control files, register it in the Glue catalog, then walk the task graph
(``lake/task_graph.py``): ``INGEST_LANDING``, ``LOAD_VAULT``, ``VALIDATE_DATA`` and the dbt
builds, each validated layer before the next. Each step calls the same handler
Snowflake calls, with a Snowpark Session on the target.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lake import sqlfiles, steps, task_graph
from lake.config import Settings
from lake.local.compat import notifications
from lake.local.stack import Endpoints, LocalStack, lock_holder
from lake.reconcile import Reconciliation, reconcile, recorded
from lake.session import connection, procedure_session, snowpark_session
from lake.steps import Built, Loaded, StepReport
from procedures import landing, quality
from procedures.errors import UserError
from procedures.handlers import generate_sample_data, ingest_landing, load_vault, publish_gold, validate_data
from procedures.handlers import replay as replay_days
from procedures.ingest import IngestSummary, landing_table
from procedures.sample_data import GenerationSummary, Plan, Progress, plan_day
from procedures.sql import quote

if TYPE_CHECKING:
    from snowflake.snowpark import Session

Summary = TypeVar("Summary", bound=Mapping[str, Any])  # what a procedure returns
R = TypeVar("R", bound=StepReport[Any])

# dbt's folders in build order: the business vault (point-in-time and bridge tables, in
# the vault's schema), then the marts
DBT_LAYERS: tuple[str, ...] = ("business_vault", *quality.MART_LAYERS)


@dataclass
class RunReport:
    """A whole run: its steps, then what the run summary shows (none for a step not run)."""

    steps: list[StepReport[Any]] = field(default_factory=list)
    generation: GenerationSummary | None = None
    ingestion: IngestSummary | None = None
    vault: Loaded | None = None
    dbt: Built | None = None
    quality: list[validate_data.Summary] = field(default_factory=list)  # one per layer group

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    @property
    def reconciliation_problems(self) -> int:
        """Files that did not match their control files: found before ingestion (the
        landing zone's LIST) and by it (row counts), each counted once."""
        found = {f.split(": ")[0] for s in self.steps if isinstance(s, steps.Reconciliation) for f in s.detail["found"]}
        if self.ingestion:
            found |= {i["file"] for i in self.ingestion.get("reconciliation", [])}
        return len(found)


@contextmanager
def target(settings: Settings, persist_s3: bool = True) -> Iterator[Endpoints | None]:
    """The local servers for the length of the block (reusing `lake up`'s), or nothing
    for a real Snowflake account."""
    if settings.target == "local":
        with LocalStack(settings.local, settings.glue_database).ensure(persist_s3=persist_s3) as endpoints:
            yield endpoints
    else:
        yield None


def expected_rows(plan: Plan) -> int:
    """Rows the plan will write before duplicates: sizes the progress bar."""
    return sum(len(plan_day(plan, entity, day).ids) for day in range(1, plan.days + 1) for entity in plan.entities)


def setup(settings: Settings, endpoints: Endpoints | None) -> StepReport[steps.Applied]:
    started = time.perf_counter()
    with connection(settings, endpoints) as conn:
        applied = sqlfiles.apply(conn, settings)
    return StepReport(
        "apply sql/",
        time.perf_counter() - started,
        {"files": len(applied), "statements": sum(a.statements for a in applied)},
    )


def call(
    settings: Settings,
    endpoints: Endpoints | None,
    procedure: str,
    handler: Callable[[Session], Summary],
    **arguments: Any,
) -> Summary:
    """Run a stored procedure the way its users do.

    On Snowflake: ``CALL`` the deployed procedure (``lake deploy``) with ``arguments`` by
    name, so it runs inside the warehouse with the packages it was created with. Locally:
    ``handler`` with the Session such a procedure gets (its schema, owner's-rights rules:
    ``lake.session.procedure_session``)."""
    if settings.target == "snowflake":
        import json

        from lake import deploy

        proc = deploy.procedure(procedure)
        names = [a.name for a in proc.arguments]
        unknown = set(arguments) - set(names)
        assert not unknown, f"{procedure} takes no argument {sorted(unknown)}"
        passed = [a for a in names if a in arguments]
        placeholders = ", ".join(f"{a} => %s" for a in passed)
        schema = settings.names.schemas[proc.layer]
        # arguments by name: https://docs.snowflake.com/en/sql-reference/sql/call
        rows = fetch(
            settings,
            endpoints,
            f"CALL {settings.names.database}.{schema}.{procedure}({placeholders})",
            [arguments[a] for a in passed],
        )
        # a procedure that returned nothing (NULL) answers as an empty summary, as before
        result: Summary = json.loads(rows[0][0]) if rows and rows[0][0] else {}  # type: ignore[assignment]
        return result
    with procedure_session(settings, endpoints, procedure) as session:
        return handler(session)


def schema_exists(settings: Settings, endpoints: Endpoints | None) -> bool:
    """Whether ``sql/`` was applied on the target (the audit table of runs is there)."""
    try:
        rows = fetch(
            settings,
            endpoints,
            f"SELECT COUNT(*) FROM {settings.names.database}.INFORMATION_SCHEMA.TABLES "
            "WHERE UPPER(TABLE_SCHEMA) = %s AND UPPER(TABLE_NAME) = 'PROCEDURE_RUNS'",
            (settings.names.audit,),
        )
    except Exception:  # no database yet
        return False
    return bool(rows and rows[0][0])


RUNS_COLUMNS = ("procedure_name", "status", "started_at", "finished_at", "rows_written", "error")
# a graph run: SUCCEEDED, FAILED or INTERRUPTED, and whether it published gold
GRAPH_RUNS_COLUMNS = ("graph_run_id", "status", "finished_at", "failed_task", "published", "notified")


def status(settings: Settings) -> dict[str, Any]:
    """The target, its database and, locally, the state folder, whether the servers run,
    and the last procedure runs (``recent_runs``), as ``lake status --json`` prints them."""
    doc: dict[str, Any] = {"target": settings.target, "database": settings.names.database}
    runs: list[tuple[Any, ...]] = []
    if settings.target == "local":
        stack = LocalStack(settings.local)
        ep = stack.running()
        doc["state_dir"] = str(stack.state_dir)
        doc["command"] = lock_holder(stack.state_dir)  # the lake command running there, if any
        doc["servers"] = (
            {"running": True, "pid": ep.pid, "s3": ep.s3_endpoint, "snowflake_port": ep.snowflake_port}
            if ep
            else {"running": False}
        )
        runs = recent_runs(settings, ep)
        graph_runs = recent_runs(settings, ep, GRAPH_RUNS_COLUMNS, table="PIPELINE_RUNS", newest="finished_at")
        doc["alerts"] = local_alerts(settings, ep)
        doc["pipeline_runs"] = [dict(zip(GRAPH_RUNS_COLUMNS, r, strict=True)) for r in graph_runs]
        doc["notifications"] = [
            dataclasses.asdict(n) for n in reversed(notifications.read(stack.state_dir / notifications.RECORD)[-5:])
        ]
    doc["recent_runs"] = [dict(zip(RUNS_COLUMNS, r, strict=True)) for r in runs]
    return doc


def local_alerts(settings: Settings, endpoints: Endpoints | None) -> dict[str, Any]:
    """The shipped alerts evaluated at their latest scheduled time not evaluated yet (when
    the servers run), and the last notifications they sent (lake/local/alerts.py)."""
    from lake.local import alerts

    record = settings.local.state_dir / alerts.RECORD
    evaluated: list[alerts.Evaluation] = []
    if endpoints is not None:
        try:
            evaluated = alerts.evaluate(settings, endpoints, record=record)
        except alerts.AlertError as err:
            return {"error": str(err), "evaluated": [], "notifications": []}
    return {
        "evaluated": list(alerts.as_dicts(evaluated)),
        "notifications": list(alerts.as_dicts(alerts.notifications(record))),
    }


def recent_runs(
    settings: Settings,
    endpoints: Endpoints | None,
    columns: tuple[str, ...] = RUNS_COLUMNS,
    limit: int = 5,
    table: str = "PROCEDURE_RUNS",
    newest: str = "started_at",
) -> list[tuple[Any, ...]]:
    """The last runs (``columns`` of ``AUDIT.<table>``, newest ``newest`` first): from the
    running server, or straight from the warehouse's database file when the servers are
    down (read-only); none when there is no audit table yet."""
    query = f"SELECT {', '.join(columns)} FROM {{table}} ORDER BY {newest} DESC LIMIT {limit}"
    if endpoints is not None:
        try:
            return fetch(
                settings,
                endpoints,
                query.format(table=f"{settings.names.database}.{settings.names.audit}.{table}"),
            )
        except Exception:
            return []
    import duckdb

    path = settings.local.state_dir / "warehouse" / f"{settings.names.database}.db"
    if not path.exists():
        return []
    try:
        with duckdb.connect(str(path), read_only=True) as db:
            return db.execute(query.format(table=f"{settings.names.audit}.{table}")).fetchall()
    except duckdb.Error:  # no audit table yet
        return []


def last_quality_run(settings: Settings, endpoints: Endpoints | None) -> validate_data.Summary:
    """The summary of the newest VALIDATE_DATA run, read back from its results (a run
    that failed the quality gate returns none)."""
    quality_schema = settings.names.quality
    rows = fetch(
        settings,
        endpoints,
        f"SELECT RULE_NAME, VERDICT, ROWS_FAILED, RUN_ID, RULE_TYPE, DETAIL FROM {quality_schema}.RULE_RESULTS "
        f"WHERE RUN_ID = (SELECT RUN_ID FROM {quality_schema}.RULE_RESULTS ORDER BY CHECKED_AT DESC LIMIT 1)",
    )
    verdicts = [str(r[1]) for r in rows]
    controls = [r for r in rows if r[4] == "control_total"]
    differ = [f"{r[0]}: {group}" for r in controls for group in json.loads(str(r[5] or "{}")).get("differ", [])]
    return {
        "run_id": str(rows[0][3]) if rows else "",
        "layers": [],
        "batch_id": "",
        "rules": {str(r[0]): {"verdict": str(r[1]), "rows_failed": int(r[2])} for r in rows},
        "rules_run": len(rows),
        "passed": verdicts.count("PASS"),
        "warned": verdicts.count("WARN"),
        "failed": verdicts.count("FAIL"),
        "exceptions": 0,
        "control_totals": {
            "rules": len(controls),
            "balanced": sum(1 for r in controls if not r[2]),
            "differ": differ[: validate_data.SAMPLE_KEYS],
        },
        "seconds": 0.0,
    }


def query(
    settings: Settings, endpoints: Endpoints | None, sql: str, params: Any = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One statement's column names and rows, on a connection of its own (none for a
    statement that returns none)."""
    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        cur.execute(sql, params)
        names = [d[0] for d in cur.description or []]
        return names, list(cur.fetchall()) if cur.description else []


class StatementError(UserError, RuntimeError):
    """A statement of several that failed: which one, and the server's message."""


def queries(
    settings: Settings,
    endpoints: Endpoints | None,
    statements: list[str],
    each: Callable[[int, str, list[str], list[tuple[Any, ...]]], None],
) -> int:
    """Run ``statements`` in order on one connection (a SET or a temporary table holds for
    the next), calling ``each(number, statement, column names, rows)`` after each; stops
    at the first that fails with a ``StatementError`` naming it. Returns how many ran."""
    from lake.output import error_line
    from lake.sqlfiles import syntax_error

    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        for number, statement in enumerate(statements, start=1):
            try:
                cur.execute(statement)
            except Exception as err:
                if not type(err).__module__.startswith("snowflake.connector"):
                    raise
                said = syntax_error(statement) or error_line(err)
                which = f"statement {number} of {len(statements)}" if len(statements) > 1 else "the statement"
                first = " ".join(statement.split())[:80]
                raise StatementError(f"{which} ({first}) failed: {said}") from None
            names = [d[0] for d in cur.description or []]
            each(number, statement, names, list(cur.fetchall()) if cur.description else [])
    return len(statements)


def fetch(settings: Settings, endpoints: Endpoints | None, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Every row of one statement, on a connection of its own."""
    return query(settings, endpoints, sql, params)[1]


def generate(
    settings: Settings, endpoints: Endpoints | None, plan: Plan, progress: Progress | None = None
) -> steps.Generation:
    started = time.perf_counter()

    def locally(session: Session) -> GenerationSummary:
        stage = f"{settings.names.landing}.{settings.names.landing_stage}"
        audit_table = f"{settings.names.audit}.PROCEDURE_RUNS"
        return generate_sample_data.run(session, plan, stage=stage, audit_table=audit_table, progress=progress)

    summary = call(settings, endpoints, generate_sample_data.PROCEDURE, locally, **plan.arguments())
    return steps.Generation("GENERATE_SAMPLE_DATA", time.perf_counter() - started, summary)


def landing_files(folder: Path) -> list[Path]:
    """Every file of ``folder``, which must be in the landing layout
    (``<producer>/<entity>/load_date=YYYY-MM-DD/<file>``); an error names the files outside it."""
    if not folder.is_dir():
        raise landing.LandingError(f"{folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    stray = [p.relative_to(folder).as_posix() for p in files if not landing.in_layout(p.relative_to(folder).as_posix())]
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        raise landing.LandingError(
            f"{len(stray)} files in {folder} are outside the landing layout "
            f"<producer>/<entity>/load_date=YYYY-MM-DD/<file>: {shown}; nothing was uploaded"
        )
    refused: list[str] = []
    for path in files:
        relative = path.relative_to(folder).as_posix()
        producer, entity = relative.split("/")[:2]
        if producer == "_generator":
            continue
        if problem := landing.folder_problem(producer, entity):
            refused.append(f"{relative}: {problem}")
        elif path.name == landing.CONTROL_FILE:
            refused += [f"{relative}: {p}" for p in landing.control_problems(path.read_bytes())]
    if refused:
        shown = "; ".join(refused[:5]) + (f"; and {len(refused) - 5} more" if len(refused) > 5 else "")
        raise landing.LandingError(f"{len(refused)} problems in {folder}, nothing was uploaded: {shown}")
    return files


def upload(
    settings: Settings, folder: Path, files: list[Path], advance: Callable[[int, int], None] | None = None
) -> None:
    """``files`` of ``folder`` into the landing zone under the same keys, as a producer
    drops them; ``advance(done, total)`` after each."""
    bucket, prefix = landing.split_landing_url(settings.landing_url)
    sink = landing.S3Sink(bucket, prefix, landing.s3_client())
    sink.check_writable()
    for number, path in enumerate(files, start=1):
        sink.put(path.relative_to(folder).as_posix(), path.read_bytes())
        if advance is not None:
            advance(number, len(files))


def aws_clients(endpoints: Endpoints | None) -> tuple[Any, Any]:
    """Glue and S3 clients: the moto server locally, boto3's default chain on AWS."""
    if endpoints is None:
        import boto3

        return boto3.client("glue"), landing.s3_client()
    from lake.local.serve import boto3_client

    return boto3_client("glue", endpoints.s3_endpoint), boto3_client("s3", endpoints.s3_endpoint)


def catalog_sync(settings: Settings, endpoints: Endpoints | None) -> StepReport[dict[str, Any]]:
    """Every landing entity as a Glue table with its load-date partitions."""
    from lake import catalog

    glue, s3 = aws_clients(endpoints)
    report = catalog.sync(glue, s3, settings.landing_url, settings.glue_database)
    return StepReport("Glue catalog sync", report.seconds, report.as_dict())


def landing_reconciliation(settings: Settings, endpoints: Endpoints | None, batch: str = "") -> Reconciliation:
    """The landing zone (or ``batch``'s folders) against the producers' control files, on
    the target, with what ingestion recorded of the files it read."""
    with connection(settings, endpoints) as conn:
        stage = f"{settings.names.landing}.{settings.names.landing_stage}"
        result = reconcile(conn, landing.s3_client(), settings.landing_url, stage, batch)
        seen = {p.path for p in result.problems}
        if schema_exists(settings, endpoints):
            result.problems += [p for p in recorded(conn, settings.names.landing, batch) if p.path not in seen]
        return result


def ingest(settings: Settings, endpoints: Endpoints | None, batch_id: str = "") -> steps.Ingestion:
    started = time.perf_counter()
    names = settings.names

    def locally(session: Session) -> IngestSummary:
        stage = f"{names.landing}.{names.landing_stage}"
        return ingest_landing.run(session, batch_id=batch_id, stage=stage, schemas=names.schemas)

    summary = call(settings, endpoints, ingest_landing.PROCEDURE, locally, batch_id=batch_id)
    if summary.get("erased_on_landing"):
        summary["rewritten_on_landing"] = rewrite_erased(settings, endpoints, summary["batches"])
    return steps.Ingestion("INGEST_LANDING", time.perf_counter() - started, summary)


def rewrite_erased(settings: Settings, endpoints: Endpoints | None, batches: list[str]) -> list[str]:
    """The landing files of ``batches`` that deliver an erased subject again: rewritten
    without its personal values as ``lake erase`` rewrites them (same format, the control
    file's size and MD5 updated, older versions deleted, each recorded in
    ``AUDIT.REWRITTEN_FILES``). INGEST_LANDING has already cleared the rows it landed;
    the files need the bucket's credentials, which this machine has and the procedure
    does not: on a schedule inside Snowflake they stay until `lake ingest` or `lake erase`
    runs here (docs/governance.md, Right to erasure)."""
    from lake import landing_erasure
    from procedures import erasure, vault

    names = settings.names
    if not batches:
        return []
    in_batches = ", ".join(f"'{b}'" for b in batches)
    by_subject: dict[tuple[str, str], dict[str, erasure.Place]] = {}
    with snowpark_session(settings, endpoints) as session:
        for place in erasure.places():
            table = f"{names.landing}.{landing_table(place.entity)}"
            subject = vault.hash_key_sql([place.subject_column])
            for customer_id, request_id, file_name in session.sql(
                f"SELECT DISTINCT r.customer_id, r.request_id, l.FILE_NAME "
                f"FROM (SELECT FILE_NAME, {subject} AS SUBJECT_HK FROM {table} WHERE BATCH_ID IN ({in_batches})) l "
                f"JOIN {names.audit}.{erasure.REGISTER_TABLE} r ON r.customer_hk = l.SUBJECT_HK"
            ).collect():
                by_subject.setdefault((str(customer_id), str(request_id)), {})[str(file_name)] = place
        _, s3 = aws_clients(endpoints)
        bucket, prefix = landing.split_landing_url(settings.landing_url)
        rewritten: list[str] = []
        for (customer_id, request_id), files in sorted(by_subject.items()):
            done, md5s = landing_erasure.rewrite(s3, bucket, prefix, files, customer_id)
            landing_erasure.record(session, names.audit, md5s, request_id)
            rewritten += done.files
    return sorted(rewritten)


def load(settings: Settings, endpoints: Endpoints | None, batch_id: str = "") -> steps.VaultLoad:
    started = time.perf_counter()
    names = settings.names

    def locally(session: Session) -> load_vault.Summary:
        return load_vault.run(session, batch_id=batch_id, schemas=names.schemas)

    summary: steps.Loaded = {**call(settings, endpoints, load_vault.PROCEDURE, locally, batch_id=batch_id)}
    with snowpark_session(settings, endpoints) as session:
        summary["tables"] = vault_counts(session, settings)
        summary["quarantine"] = {
            str(r[0]): int(r[1])
            for r in session.sql(
                f"SELECT entity || ': ' || SPLIT_PART(reason, ':', 1), COUNT(*) FROM {names.vault}.QUARANTINE "
                "GROUP BY 1 ORDER BY 1"
            ).collect()
        }
    return steps.VaultLoad("LOAD_VAULT", time.perf_counter() - started, summary)


def repair(settings: Settings, endpoints: Endpoints | None) -> StepReport[steps.Repaired]:
    """Delete the rows beyond the first per hash key from every hub and link, in one
    transaction (``procedures.vault_statements.repair_sql``); the detail counts them per table."""
    from procedures.vault_statements import repair_sql

    started = time.perf_counter()
    removed: dict[str, int] = {}
    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        cur.execute("BEGIN")
        try:
            for table, statement in repair_sql(settings.names.vault):
                cur.execute(statement)
                removed[table] = int(cur.rowcount or 0)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    return StepReport("repair hubs and links", time.perf_counter() - started, {"removed": removed})


def erase(
    settings: Settings, endpoints: Endpoints | None, customer_id: str, request_id: str, verify: bool = True
) -> steps.Erasure:
    """Right to erasure, everywhere the lake stores a client's contact people:
    ``ERASE_SUBJECT(customer_id, request_id, verify)`` for the tables, then their landing
    files rewritten (``lake.landing_erasure``). With ``verify``, the landing zone is scanned
    for the former values before and after too; the values are read once, held in this
    process's memory only, and the result is added to the request's ``AUDIT.ERASURE_LOG``
    row (``files``)."""
    import json

    from lake import landing_erasure
    from procedures import erasure, vault
    from procedures.handlers import erase_subject

    started = time.perf_counter()
    names = settings.names
    hk = vault.hash_key(customer_id)
    _, s3 = aws_clients(endpoints)
    bucket, prefix = landing.split_landing_url(settings.landing_url)
    values: set[str] = set()
    if verify:
        # read here as well as inside the procedure: the values never travel as CALL
        # arguments, which Snowflake keeps in its query history
        with snowpark_session(settings, endpoints) as session:
            values = erase_subject.former_values(session, hk, names.schemas)
    files_before = landing_erasure.scan(s3, bucket, prefix, values)

    def locally(session: Session) -> erase_subject.Summary:
        return erase_subject.run(session, customer_id, request_id, verify, schemas=names.schemas)

    summary = call(
        settings,
        endpoints,
        erase_subject.PROCEDURE,
        locally,
        customer_id=customer_id,
        request_id=request_id,
        verify=verify,
    )
    with snowpark_session(settings, endpoints) as session:
        files: dict[str, erasure.Place] = {}
        keys: dict[str, set[str]] = {}
        for place in erasure.places():
            table = f"{names.landing}.{landing_table(place.entity)}"
            key = quote(place.entity.key)
            # every file the table was loaded from, with the subject's keys in it (one scan)
            ingested: set[str] = set()
            for file_name, subject_key in session.sql(
                f"SELECT DISTINCT FILE_NAME, CASE WHEN {erasure.is_subject(place.subject_column, hk)} "
                f"THEN UPPER(TRIM({key})) END FROM {table}"
            ).collect():
                ingested.add(str(file_name))
                if subject_key is not None:
                    files[str(file_name)] = place
                    keys.setdefault(place.entity.name, set()).add(str(subject_key))
            # and the deliveries no ingestion has read yet, which may hold the subject too
            for name in landing_erasure.not_ingested(s3, bucket, prefix, place.entity, ingested):
                files.setdefault(name, place)
            # and the copies corrections withdrew, kept under _withdrawn/
            for name in landing_erasure.withdrawn(s3, bucket, prefix, place.entity):
                files.setdefault(name, place)
        rewrite, md5s = landing_erasure.rewrite(s3, bucket, prefix, files, customer_id)
        for entity, found in rewrite.keys.items():
            keys.setdefault(entity, set()).update(found)
        manifests = landing_erasure.rewrite_manifests(s3, bucket, prefix, keys)
        landing_erasure.record(session, names.audit, md5s, request_id)
        files_after = landing_erasure.scan(s3, bucket, prefix, values)
        record = {
            "rewritten": rewrite.files,
            "rows": rewrite.rows,
            "versions_deleted": rewrite.versions_deleted + manifests.versions_deleted,
            "manifests": manifests.files,
            "unreadable": rewrite.unreadable,
            "found_before": files_before,
            "found_after": files_after,
        }
        session.sql(
            f"UPDATE {names.audit}.ERASURE_LOG SET files = ? WHERE run_id = ?",
            params=[json.dumps(record, sort_keys=True), summary["run_id"]],
        ).collect()
    if settings.target == "local":
        # the local engine's file keeps freed blocks' bytes: compacted when its servers stop
        from lake.local.serve import COMPACT_FLAG

        (settings.local.state_dir / COMPACT_FLAG).write_text(request_id + "\n")
    if files_after:
        raise erase_subject.ErasureError(
            f"values of {customer_id!r} are still in landing files {sorted(files_after)} after their rewrite"
        )
    summary["files"] = record
    return steps.Erasure(erase_subject.PROCEDURE, time.perf_counter() - started, summary)


def vault_counts(session: Any, settings: Settings) -> dict[str, int]:
    """Rows in every table of the vault, in one statement."""
    from procedures import vault

    tables = vault.tables()
    union = " UNION ALL ".join(f"SELECT '{t}', COUNT(*) FROM {settings.names.vault}.{t}" for t in tables)
    return {str(r[0]): int(r[1]) for r in session.sql(union).collect()}


def dbt_build(
    settings: Settings,
    endpoints: Endpoints | None,
    args: tuple[str, ...] = (),
    layers: tuple[str, ...] = DBT_LAYERS,
    schemas: Mapping[str, str] | None = None,
) -> steps.DbtBuild:
    """``dbt build`` on dbt/ (bronze, silver, gold and their data tests) against the target;
    the summary counts results by kind and status from dbt's run_results.json, and the
    marts' rows where the build wrote them (``schemas``: a layer built elsewhere than its
    own schema, as ``{"gold": "GOLD_PENDING"}``)."""
    from lake import dbt

    # unit tests check the models' logic, not the data: CI runs them (dbt's advice), the
    # scheduled build leaves them out; after a build whose data tests failed, every row
    # is tested again (dbt.test_scope)
    command = ["build", "--exclude-resource-type", "unit_test", *dbt.test_scope(settings), *args]
    started = time.time()
    try:
        seconds = dbt.run(settings, endpoints, command, capture=True)
    finally:
        dbt.record_test_failures(settings, started)
    detail = dbt.results(settings)
    detail["marts"] = mart_counts(settings, endpoints, layers, schemas)
    return steps.DbtBuild("dbt build", seconds, detail)


def validate(
    settings: Settings, endpoints: Endpoints | None, layer: str = "all", batch_id: str = "", gold_schema: str = ""
) -> steps.Validation:
    """``VALIDATE_DATA(layer, batch_id, gold_schema)``: the quality rules of the layer(s),
    pushed down; raises ``QualityGateError`` (after writing the results) when an error rule
    fails. ``gold_schema``: check gold there (the unpublished build)."""
    started = time.perf_counter()
    names = settings.names
    schemas = {name: names.schemas[name] for name in quality.LAYERS}
    by_name = {"layer": layer, "batch_id": batch_id} | ({"gold_schema": gold_schema} if gold_schema else {})

    def locally(session: Session) -> validate_data.Summary:
        return validate_data.run(
            session,
            layer=layer,
            batch_id=batch_id,
            schemas=schemas,
            quality_schema=names.quality,
            audit_schema=names.audit,
            gold_schema=gold_schema,
        )

    summary = call(settings, endpoints, validate_data.PROCEDURE, locally, **by_name)
    return steps.Validation(f"VALIDATE_DATA {layer}", time.perf_counter() - started, summary)


def replay(settings: Settings, from_date: str, to_date: str) -> tuple[steps.Replay, RunReport | None]:
    """``REPLAY(from_date, to_date)``: the range's batches ingested and loaded again from the
    files still held, then the rest of the pipeline as a graph run. Locally the task graph
    is walked here (its ingestion and load find nothing pending); on Snowflake its root task
    is executed (``EXECUTE TASK``) and the graph runs in the warehouse."""
    from lake import progress

    names = settings.names
    remote = settings.target == "snowflake"
    with target(settings) as endpoints:

        def locally(session: Session) -> replay_days.Summary:
            stage = f"{names.landing}.{names.landing_stage}"
            return replay_days.run(session, from_date, to_date, stage=stage, schemas=names.schemas)

        def days() -> steps.Replay:
            started = time.perf_counter()
            arguments = {"from_date": from_date, "to_date": to_date}
            summary = call(settings, endpoints, replay_days.PROCEDURE, locally, **arguments)
            return steps.Replay(replay_days.PROCEDURE, time.perf_counter() - started, summary)

        report = progress.step(replay_days.PROCEDURE, days)
        if not report.detail["replayed"]:
            return report, None
        if remote:  # https://docs.snowflake.com/en/sql-reference/sql/execute-task
            fetch(settings, endpoints, f"EXECUTE TASK {names.database}.{names.audit}.{task_graph.ROOT}")
            return report, None
        run = RunReport(steps=[report])
        walked(settings, endpoints, run)
        return report, run


def publish(settings: Settings, endpoints: Endpoints | None) -> steps.Published:
    """``PUBLISH_GOLD()``: the validated gold build swapped in front of readers."""
    started = time.perf_counter()
    names = settings.names

    def locally(session: Session) -> publish_gold.Summary:
        return publish_gold.run(
            session,
            schemas={"gold": names.gold, "gold_pending": names.gold_pending},
            audit_schema=names.audit,
            database=names.database,
        )

    summary = call(settings, endpoints, publish_gold.PROCEDURE, locally)
    return steps.Published(publish_gold.PROCEDURE, time.perf_counter() - started, summary)


def defects_caught(settings: Settings, endpoints: Endpoints | None, run_id: str) -> dict[str, Any]:
    """The generator's injected defects (its manifest) against the landing rows the
    quality run flagged: how many of each kind were caught."""
    import io

    import pyarrow.parquet as pq

    _, s3 = aws_clients(endpoints)
    bucket, prefix = landing.split_landing_url(settings.landing_url)
    manifest: list[dict[str, Any]] = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}{landing.MANIFEST_PREFIX}/"):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                manifest += [r for r in pq.read_table(io.BytesIO(body)).to_pylist() if r["category"] == "defect"]
    flagged = {
        (str(f), int(n))
        for f, n in fetch(
            settings,
            endpoints,
            f"SELECT DISTINCT FILE_NAME, FILE_ROW_NUMBER FROM {settings.names.quality}.RULE_EXCEPTIONS "
            "WHERE RUN_ID = %s AND LAYER = 'landing'",
            (run_id,),
        )
    }
    by_kind: dict[str, list[int]] = {}
    for r in manifest:
        caught = (r["file_name"], int(r["row_number"])) in flagged
        counts = by_kind.setdefault(r["kind"], [0, 0])
        counts[0] += 1
        counts[1] += int(caught)
    return {
        "injected": len(manifest),
        "caught": sum(c for _, c in by_kind.values()),
        "by_kind": {k: {"injected": n, "caught": c} for k, (n, c) in sorted(by_kind.items())},
    }


def dbt_schema(settings: Settings, layer: str, schemas: Mapping[str, str] | None = None) -> str:
    if schemas and layer in schemas:
        return schemas[layer]
    return settings.names.vault if layer == "business_vault" else settings.names.schemas[layer]


def marts() -> dict[str, tuple[str, ...]]:
    """Every dbt model by folder, as ``dbt/models/<folder>/_<folder>.yml`` declares them."""
    from lake.governance import dbt_models

    found: dict[str, list[str]] = {}
    for model in dbt_models():
        found.setdefault(model.layer, []).append(model.name)
    return {layer: tuple(found.get(layer, ())) for layer in DBT_LAYERS}


def mart_counts(
    settings: Settings,
    endpoints: Endpoints | None,
    layers: tuple[str, ...] = DBT_LAYERS,
    schemas: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Rows in every mart of the layers, as ``{"SCHEMA.model": rows}``, in one statement
    (``schemas``: where a layer was built instead of its own schema)."""
    names = settings.names
    union = " UNION ALL ".join(
        f"SELECT '{dbt_schema(settings, layer, schemas)}.{model}', COUNT(*) "
        f"FROM {names.database}.{dbt_schema(settings, layer, schemas)}.{model}"
        for layer, models in marts().items()
        if layer in layers
        for model in models
    )
    return {str(name): int(rows) for name, rows in fetch(settings, endpoints, union)}


def reconcile_landing(settings: Settings, endpoints: Endpoints | None) -> steps.Reconciliation:
    started = time.perf_counter()
    result = landing_reconciliation(settings, endpoints)
    found = [f"{p.path}: {p.kind} ({p.detail})" for p in result.problems]
    return steps.Reconciliation(
        "reconcile landing",
        time.perf_counter() - started,
        {"partitions": len(result.partitions), "problems": len(result.problems), "found": found},
    )


def run(settings: Settings, plan: Plan | None) -> RunReport:
    """Every pipeline step that exists, in order, on the configured target, each reported
    to ``progress.current()`` as it starts and ends. Sample data from ``plan`` first; with
    no plan the pipeline runs on the files producers dropped (``lake upload``)."""
    from lake import dbt, progress

    report = RunReport()
    dbt.log_file(settings).unlink(missing_ok=True)  # this run's dbt output only

    def step(name: str, work: Callable[[], R]) -> R:
        done = progress.step(name, work)
        report.steps.append(done)
        return done

    with target(settings) as endpoints:
        step("apply sql/", lambda: setup(settings, endpoints))
        if plan is not None:
            advance = progress.row_counter(expected_rows(plan))
            report.generation = step(
                "GENERATE_SAMPLE_DATA", lambda: generate(settings, endpoints, plan, progress=advance)
            ).detail
        step("reconcile landing", lambda: reconcile_landing(settings, endpoints))
        step("Glue catalog sync", lambda: catalog_sync(settings, endpoints))
        by_task = walked(settings, endpoints, report)
        raw = by_task["LAKE_VALIDATE_RAW"].detail
        if report.generation and report.generation["defects"]:
            raw["defects"] = defects_caught(settings, endpoints, raw["run_id"])
    return report


def walked(settings: Settings, endpoints: Endpoints | None, report: RunReport) -> dict[str, Any]:
    """Walk the task graph and add its steps and what the summary shows to ``report``
    (``lake run``, ``lake replay``); returns the steps by task."""
    graph = task_graph.walk(settings, endpoints, RUNNERS)
    report.steps += graph.steps
    by_task = dict(zip([n.task for n in task_graph.order()], graph.steps, strict=False))
    report.ingestion = by_task["LAKE_INGEST_LANDING"].detail
    report.vault = by_task["LAKE_LOAD_VAULT"].detail
    report.dbt = merge_dbt(by_task["LAKE_DBT_SILVER"].detail, by_task["LAKE_DBT_GOLD"].detail)
    # what readers now see: gold was counted where it was built, before the swap
    report.dbt["marts"] = mart_counts(settings, endpoints)
    report.quality = [s.detail for t, s in by_task.items() if t.startswith("LAKE_VALIDATE_")]
    return by_task


def merge_dbt(*details: steps.Built) -> steps.Built:
    """One summary of several dbt invocations (counts added, problems joined, marts last)."""
    counts: dict[str, dict[str, int]] = {}
    for d in details:
        for kind, statuses in d["counts"].items():
            for status, n in statuses.items():
                counts.setdefault(kind, {})[status] = counts.get(kind, {}).get(status, 0) + n
    return {
        "counts": counts,
        "problems": [p for d in details for p in d["problems"]],
        "elapsed": round(sum(d["elapsed"] for d in details), 2),
        "marts": {k: v for d in details for k, v in d["marts"].items()},
    }


BUILDABLE = ("--indirect-selection", "buildable")


def runner(node: task_graph.Node) -> task_graph.Runner:
    """What ``node`` runs locally: the handler its Snowflake task calls, with the arguments
    the task passes, or dbt build on the task's selection (and its vars)."""
    if node.select:
        layers = tuple(folder for folder in node.select if folder in DBT_LAYERS)

        def build(s: Settings, e: Endpoints | None) -> steps.DbtBuild:
            schemas = s.names.schemas
            extra = ("--vars", node.vars_arg(schemas)) if node.builds_in else ()
            where = {layer: schemas[key] for layer, key in node.builds_in}
            return dbt_build(s, e, ("--select", *node.select, *BUILDABLE, *extra), layers, where)

        return build
    if node.procedure == "VALIDATE_DATA":

        def check(s: Settings, e: Endpoints | None) -> steps.Validation:
            layer, *rest = node.values(s.names.schemas)  # what its task passes
            return validate(s, e, layer, *rest)

        return check
    by_procedure: dict[str, task_graph.Runner] = {"INGEST_LANDING": ingest, "LOAD_VAULT": load, "PUBLISH_GOLD": publish}
    return by_procedure[node.procedure]


RUNNERS: dict[str, task_graph.Runner] = {node.task: runner(node) for node in task_graph.NODES}
