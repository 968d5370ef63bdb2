"""Ingestion: producer files from the S3 stage into one landing table per entity.

Every column lands as text, with the file it came from, its row number in that file and
the batch, so COPY rejects nothing and every row can be traced. Files are named by the
producers' control files (``_control.csv`` per producer, entity and load date), never by
listing a prefix; COPY's load history skips a file loaded before. A file that cannot be
read is recorded in ``LANDING.INGEST_ERRORS`` and the rest of the batch continues.

Columns are matched by name, not position: before its COPY, each file's columns are read
with ``INFER_SCHEMA``. A column the spec does not know is ignored and recorded in
``LANDING.SCHEMA_DRIFT`` (``extra_column``); a spec column the file lacks lands as NULL,
is recorded (``missing_column``), and the row carries ``missing_columns`` so staging
quarantines it with that reason. What
arrived is reconciled with what the control files promised in
``LANDING.RECONCILIATION``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

from procedures import landing
from procedures import spec as entity_spec
from procedures.audit import INGESTED_FILES, checked_name
from procedures.sql import LOCK_CONFLICT, create_table_ddl, quote, seed_row_sql, sql_literal

LINEAGE_COLUMNS = (
    ("file_name", "VARCHAR", "Stage-relative path of the file the row came from."),
    ("file_row_number", "NUMBER(38,0)", "Row number within that file, from 1."),
    ("batch_id", "VARCHAR", "Batch of the control file that named the file."),
    ("ingested_at", "TIMESTAMP_NTZ", "When the row was copied in."),
    (
        "missing_columns",
        "VARCHAR",
        "Spec columns the row's file lacked (comma-separated), or NULL; staging quarantines such rows.",
    ),
)
CONTROL_TABLE = "CONTROL_FILES"
ERRORS_TABLE = "INGEST_ERRORS"
RECONCILIATION_TABLE = "RECONCILIATION"
DRIFT_TABLE = "SCHEMA_DRIFT"
FILES_TABLE = INGESTED_FILES
# in the audit schema: landing files the lake rewrote (lake/landing_erasure.py)
REWRITTEN_TABLE = "REWRITTEN_FILES"
LOCK_TABLE = "INGEST_LOCK"
LOCK_NAME = "INGEST_LANDING"
# in the audit schema: landing files withdrawn or superseded (lake/corrections.py)
CORRECTIONS_TABLE = "CORRECTIONS"
# "FORCE = TRUE: loads all files, regardless of whether they've been loaded previously and
# have not changed since they were loaded" (https://docs.snowflake.com/en/sql-reference/sql/copy-into-table,
# Copy options): for a corrected file under a name the load history already holds
FORCE = " FORCE = TRUE"
# a run that died holding the ingestion lease frees it after this long
LEASE_MINUTES = 60


class IngestBusy(RuntimeError):
    """Another INGEST_LANDING held the ingestion lease for longer than this run would wait."""


# named file formats (sql/020_landing.sql) that INFER_SCHEMA reads each file's columns with
SCHEMA_FORMATS = {"parquet": "PARQUET_TEXT", "csv": "CSV_HEADER", "json": "JSON_TEXT"}
CONTROL_PATH = re.compile(
    r"^(?P<producer>[a-z_]+)/(?P<entity>[a-z_]+)/load_date=(?P<date>\d{4}-\d{2}-\d{2})/_control\.csv$"
)
FILE_FORMATS = {
    "parquet": "TYPE = 'PARQUET'",
    "csv": "TYPE = 'CSV' SKIP_HEADER = 1 FIELD_OPTIONALLY_ENCLOSED_BY = '\"'",
    "json": "TYPE = 'JSON'",
}


def landing_table(entity: entity_spec.Entity) -> str:
    return quote(entity.name)


# --------------------------------------------------------------------------- DDL


def _create(name: str, columns: list[tuple[str, str]], comment: str) -> str:
    return create_table_ddl("landing", name, columns, comment)


def ddl() -> str:
    """Landing tables (one per entity, every column text) and ingestion's bookkeeping."""
    parts = [
        "-- Generated from procedures/spec.py by `make ddl`; do not edit by hand",
        "-- (tests/procedures/test_ingest.py fails when this file and the spec disagree).",
        "",
    ]
    for ent in entity_spec.ENTITIES:
        columns = [(c, "VARCHAR") for c in ent.column_names]
        columns += [(c, kind) for c, kind, _ in LINEAGE_COLUMNS]
        parts.append(_create(ent.name, columns, f"{ent.producer} {ent.name} as landed, every field as text") + "\n")
    parts.append(
        _create(
            CONTROL_TABLE,
            [(c, "VARCHAR") for c in landing.CONTROL_COLUMNS]
            + [("control_path", "VARCHAR"), ("ingested_at", "TIMESTAMP_NTZ")],
            "Producers control files: the files, row counts and checksums each batch promised",
        )
        + "\n"
    )
    parts.append(
        _create(
            ERRORS_TABLE,
            [
                ("batch_id", "VARCHAR"),
                ("file_name", "VARCHAR"),
                ("reason", "VARCHAR"),
                ("recorded_at", "TIMESTAMP_NTZ"),
            ],
            "Files that could not be read, and why; the rest of their batch was loaded",
        )
        + "\n"
    )
    parts.append(
        _create(
            RECONCILIATION_TABLE,
            [
                ("batch_id", "VARCHAR"),
                ("producer", "VARCHAR"),
                ("entity", "VARCHAR"),
                ("file_name", "VARCHAR"),
                ("issue", "VARCHAR"),
                ("expected_rows", "NUMBER(38,0)"),
                ("landed_rows", "NUMBER(38,0)"),
                ("recorded_at", "TIMESTAMP_NTZ"),
                ("detail", "VARCHAR"),
            ],
            "Where a batch differs from its control files: missing, short, extra or changed files, and "
            "control files that cannot be used; DETAIL says what was found",
        )
        + "\n"
    )
    parts.append(
        _create(
            FILES_TABLE,
            [
                ("batch_id", "VARCHAR"),
                ("file_name", "VARCHAR"),
                ("status", "VARCHAR"),
                ("rows_loaded", "NUMBER(38,0)"),
                ("ingested_at", "TIMESTAMP_NTZ"),
            ],
            "Every data file ingestion loaded, with its row count (0 for an empty extract), "
            "so reconciliation tells a quiet day from a missing file",
        )
        + "\n"
    )
    parts.append(
        _create(
            DRIFT_TABLE,
            [
                ("batch_id", "VARCHAR"),
                ("file_name", "VARCHAR"),
                ("entity", "VARCHAR"),
                ("column_name", "VARCHAR"),
                ("change", "VARCHAR"),
                ("recorded_at", "TIMESTAMP_NTZ"),
            ],
            "Files whose columns differ from the spec: extra_column (ignored, rows load) or "
            "missing_column (rows quarantined)",
        )
        + "\n"
    )
    parts.append(
        _create(
            LOCK_TABLE,
            [("lock_name", "VARCHAR"), ("run_id", "VARCHAR"), ("locked_at", "TIMESTAMP_NTZ")],
            "The ingestion lease: one INGEST_LANDING at a time, so two runs never land a file twice",
        )
    )
    parts.append(seed_row_sql(f"<% database %>.<% landing_schema %>.{LOCK_TABLE}", "LOCK_NAME", LOCK_NAME))
    return "\n".join(parts)


# --------------------------------------------------------------------------- ingestion


@contextmanager
def lease(session: Any, schema: str, run_id: str, wait_seconds: float = 900.0) -> Iterator[None]:
    """Hold the ingestion lease for the block: one INGEST_LANDING at a time (a manual run
    beside the schedule waits, then finds the files loaded). Taken with one autocommitted
    UPDATE of the lock row, so no transaction stays open while files are copied; a run that
    died holding it frees it after ``LEASE_MINUTES``."""
    table = f"{schema}.{LOCK_TABLE}"
    deadline = time.monotonic() + wait_seconds
    pause = 0.2
    while True:
        try:
            taken = session.sql(
                f"UPDATE {table} SET run_id = ?, locked_at = SYSDATE() WHERE lock_name = '{LOCK_NAME}' "
                f"AND (run_id IS NULL OR locked_at < DATEADD(MINUTE, -{LEASE_MINUTES}, SYSDATE()))",
                params=[run_id],
            ).collect()
            if int(taken[0][0]):
                break
        except Exception as err:
            if not LOCK_CONFLICT.search(str(err)):
                raise
        if time.monotonic() >= deadline:
            held = session.sql(f"SELECT run_id, locked_at FROM {table} WHERE lock_name = '{LOCK_NAME}'").collect()
            holder, since = (held[0][0], held[0][1]) if held else ("?", "?")
            raise IngestBusy(
                f"INGEST_LANDING run {holder} has held {table} since {since} UTC; waited {wait_seconds:.0f}s "
                f"(a run that died frees it after {LEASE_MINUTES} minutes)"
            )
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
    try:
        yield
    finally:
        session.sql(
            f"UPDATE {table} SET run_id = NULL, locked_at = NULL WHERE lock_name = '{LOCK_NAME}' AND run_id = ?",
            params=[run_id],
        ).collect()


@dataclass
class FileResult:
    file_name: str
    entity: str
    status: str  # LOADED | LOAD_SKIPPED | FAILED
    rows: int = 0
    error: str | None = None
    extra_columns: tuple[str, ...] = ()
    missing_columns: tuple[str, ...] = ()


class FailedFile(TypedDict):
    file: str
    error: str | None


class SchemaDrift(TypedDict):
    file: str
    extra_columns: list[str]
    missing_columns: list[str]


class ReconciliationIssue(TypedDict):
    batch: str
    file: str
    issue: str
    detail: str | None


class IngestSummary(TypedDict):
    """What INGEST_LANDING returns: files by status, rows per entity and in all, the
    reconciliation issues recorded, the files that changed after their load, failed
    files with their error, files with schema drift, and an erased subject's rows
    overwritten as they landed."""

    batches: list[str]
    files: dict[str, int]
    rows: dict[str, int]
    total_rows: int
    reconciliation_issues: int
    reconciliation: list[ReconciliationIssue]
    changed_after_load: list[str]
    failed_files: list[FailedFile]
    schema_drift: list[SchemaDrift]
    erased_on_landing: int
    seconds: float
    # added by `lake ingest` on this machine: the landing files of an erased subject it
    # rewrote (lake.pipeline.rewrite_erased)
    rewritten_on_landing: NotRequired[list[str]]


@dataclass
class IngestResult:
    batches: list[str] = field(default_factory=list)
    files: list[FileResult] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    issues: int = 0
    changed: list[str] = field(default_factory=list)  # landing files rewritten after their load
    reconciliation: list[ReconciliationIssue] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self, erased_on_landing: int = 0) -> IngestSummary:
        status: dict[str, int] = {}
        for f in self.files:
            status[f.status] = status.get(f.status, 0) + 1
        return {
            "batches": self.batches,
            "files": status,
            "rows": self.rows,
            "total_rows": sum(self.rows.values()),
            "reconciliation_issues": self.issues,
            "reconciliation": self.reconciliation,
            "changed_after_load": self.changed,
            "failed_files": [{"file": f.file_name, "error": f.error} for f in self.files if f.status == "FAILED"],
            "schema_drift": [
                {
                    "file": f.file_name,
                    "extra_columns": list(f.extra_columns),
                    "missing_columns": list(f.missing_columns),
                }
                for f in self.files
                if f.extra_columns or f.missing_columns
            ],
            "erased_on_landing": erased_on_landing,
            "seconds": round(self.seconds, 3),
        }


def control_paths(session: Any, stage: str) -> Iterator[tuple[str, re.Match[str]]]:
    """Control files under the stage, as stage-relative paths, from the stage's directory
    table. A SELECT, not ``LIST``: an owner's-rights procedure may run SELECT, DML, DDL,
    DESCRIBE and SHOW, and nothing else
    (https://docs.snowflake.com/en/developer-guide/stored-procedure/stored-procedures-rights).
    The directory lists what the last refresh found, so the procedure refreshes it first
    (USAGE on an external stage allows that:
    https://docs.snowflake.com/en/user-guide/data-load-dirtables-manage)."""
    try:
        session.sql(f"ALTER STAGE {stage} REFRESH").collect()
    except Exception as err:
        raise landing.LandingError(
            f"stage {stage} cannot be read ({str(err).splitlines()[0]}): it must exist, have a directory table, "
            "and be readable by this procedure's owner; a Native App reads the stage its consumer named with "
            "CALL BIND_LANDING_STAGE('DATABASE.SCHEMA.STAGE')"
        ) from err
    rows = session.sql(
        f"SELECT RELATIVE_PATH FROM DIRECTORY(@{stage}) WHERE RIGHT(RELATIVE_PATH, 13) = '/_control.csv'"
    ).collect()
    for row in rows:
        path = str(row[0]).lstrip("/")
        if match := CONTROL_PATH.match(path):
            yield path, match


def ingest(
    session: Any,
    stage: str,
    landing_schema: str,
    batch_id: str = "",
    run_id: str = "",
    wait_seconds: float = 900.0,
    audit_schema: str = "AUDIT",
) -> IngestResult:
    """Load every batch not ingested yet (or only ``batch_id``), holding the ingestion lease."""
    schema = quote(landing_schema)
    with lease(session, schema, run_id or uuid.uuid4().hex, wait_seconds):
        audit = checked_name(audit_schema, "audit_schema")
        corrected = {
            str(r[0])
            for r in session.sql(
                f"SELECT DISTINCT target FROM {audit}.{CORRECTIONS_TABLE} WHERE action IN ('withdraw', 'supersede')"
            ).collect()
        }
        return _ingest(session, stage, schema, batch_id, f"{audit}.{REWRITTEN_TABLE}", corrected)


@dataclass(frozen=True)
class ControlIssue:
    """A control file ingestion could not use: its folder is not the spec's, or it cannot
    be read against the contract. Its data files wait, the batch's other files load."""

    batch_id: str
    path: str
    issue: str  # unknown_folder | unreadable_control
    detail: str


def _ingest(session: Any, stage: str, schema: str, batch_id: str, rewritten: str, corrected: set[str]) -> IngestResult:
    started = time.perf_counter()
    result = IngestResult()
    done = {r[0] for r in session.sql(f"SELECT DISTINCT control_path FROM {schema}.{CONTROL_TABLE}").collect()}
    # files whose path was withdrawn or superseded (AUDIT.CORRECTIONS) and that ingestion has
    # not loaded since: the load history knows their path from the file that was there
    # before, so they are copied with FORCE
    loaded = {r[0] for r in session.sql(f"SELECT DISTINCT file_name FROM {schema}.{FILES_TABLE}").collect()}
    forced = corrected - loaded
    found = sorted(control_paths(session, stage))
    pending = [
        (path, m)
        for path, m in found
        if (not batch_id and path not in done) or (batch_id and landing.batch_id_for_date(m["date"]) == batch_id)
    ]
    if batch_id and not pending:
        landed = sorted({landing.batch_id_for_date(m["date"]) for _, m in found})
        shown = f"{landed[0]} to {landed[-1]} ({len(landed)} batches)" if landed else "none"
        raise landing.LandingError(
            f"batch {batch_id} has no control file in @{stage}: nothing to ingest (batches in the landing "
            f"zone: {shown})"
        )
    problems: list[ControlIssue] = []
    for path, match in pending:
        batch = landing.batch_id_for_date(match["date"])
        if batch not in result.batches:
            result.batches.append(batch)
        if problem := landing.folder_problem(match["producer"], match["entity"]):
            problems.append(ControlIssue(batch, path, "unknown_folder", problem))
            continue
        if path not in done and (problem := _copy_control(session, stage, schema, path, path in corrected)):
            problems.append(ControlIssue(batch, path, "unreadable_control", problem))
            continue
        ent = entity_spec.entity(match["entity"])
        control = session.sql(
            f"SELECT file_name, file_format, row_count FROM {schema}.{CONTROL_TABLE} "
            f"WHERE control_path = {sql_literal(path)}"
        ).collect()
        prefix = path.rsplit("/", 1)[0] + "/"
        for row in control:
            file = prefix + str(row[0])
            file_result = _copy_file(session, stage, schema, ent, file, str(row[1]), batch, file in forced)
            result.files.append(file_result)
            result.rows[ent.name] = result.rows.get(ent.name, 0) + file_result.rows
    result.issues = _reconcile(session, stage, schema, result.batches, problems)
    result.changed = _changed_after_load(session, stage, schema, rewritten)
    result.reconciliation = reconciliation_issues(session, schema, result.batches)
    result.seconds = time.perf_counter() - started
    return result


def _changed_after_load(session: Any, stage: str, schema: str, rewritten: str) -> list[str]:
    """Landing files rewritten after ingestion loaded them (the directory's LAST_MODIFIED
    is later than the load): the vault holds what was loaded, the landing zone no longer
    does. Landing files are immutable (``landing.S3Sink`` never overwrites), so this is a
    producer's tool at work; each is recorded once in RECONCILIATION as
    ``changed_after_load`` under the batch that loaded it. A file the lake rewrote itself
    (an erasure, ``rewritten``) is not, unless it changed again after that."""
    changed = (
        f"SELECT f.batch_id, f.file_name FROM {schema}.{FILES_TABLE} f "
        f"JOIN DIRECTORY(@{stage}) d ON d.RELATIVE_PATH = f.file_name "
        "WHERE f.status = 'LOADED' "
        "AND CONVERT_TIMEZONE('UTC', d.LAST_MODIFIED)::TIMESTAMP_NTZ > f.ingested_at "
        f"AND NOT EXISTS (SELECT 1 FROM {rewritten} w WHERE w.file_name = f.file_name "
        "AND w.rewritten_at >= CONVERT_TIMEZONE('UTC', d.LAST_MODIFIED)::TIMESTAMP_NTZ)"
    )
    session.sql(
        f"INSERT INTO {schema}.{RECONCILIATION_TABLE} ({RECONCILIATION_COLUMNS}) "
        "SELECT c.batch_id, SPLIT_PART(c.file_name, '/', 1), SPLIT_PART(c.file_name, '/', 2), c.file_name, "
        "'changed_after_load', NULL, NULL, SYSDATE(), 'the landing file was rewritten after ingestion loaded it' "
        f"FROM ({changed}) c "
        f"WHERE NOT EXISTS (SELECT 1 FROM {schema}.{RECONCILIATION_TABLE} r WHERE r.file_name = c.file_name "
        "AND r.issue = 'changed_after_load')"
    ).collect()
    rows = session.sql(
        f"SELECT file_name FROM {schema}.{RECONCILIATION_TABLE} WHERE issue = 'changed_after_load' ORDER BY 1"
    ).collect()
    return [str(r[0]) for r in rows]


def _copy_control(session: Any, stage: str, schema: str, path: str, force: bool = False) -> str | None:
    """Copy one control file into CONTROL_FILES, its columns matched by the names of its
    header (INFER_SCHEMA), never by position: a version-1 file has no ``delivery`` column
    and is a delta delivery (NULL, read as ``delta``); a column the contract does not know,
    or a required one missing, refuses the file. Staged files are read by position
    (``$<file_col_num>``, https://docs.snowflake.com/en/user-guide/querying-stage), so
    only the positions the header has are referenced. Returns why the file was refused."""
    try:
        header = [c.strip().lower() for c in file_columns(session, stage, schema, path, "csv")]
    except Exception as err:
        return f"cannot be read as CSV with a header: {str(err).splitlines()[0][:300]}"
    if problems := landing.header_problems(header):
        return "; ".join(problems)
    fields = ", ".join(f"${header.index(c) + 1}" if c in header else "NULL" for c in landing.CONTROL_COLUMNS)
    # columns named: a table an upgrade extended has its new columns last
    columns = ", ".join([*landing.CONTROL_COLUMNS, "control_path", "ingested_at"])
    try:
        session.sql(
            f"COPY INTO {schema}.{CONTROL_TABLE} ({columns}) FROM (SELECT {fields}, {sql_literal(path)}, SYSDATE() "
            f"FROM @{stage}) FILES = ({sql_literal(path)}) FILE_FORMAT = ({FILE_FORMATS['csv']})"
            f"{FORCE if force else ''}"
        ).collect()
    except Exception as err:
        return f"cannot be copied: {str(err).splitlines()[0][:300]}"
    return None


def file_columns(session: Any, stage: str, landing_schema: str, path: str, file_format: str) -> list[str]:
    """The column names of one staged file, in file order (Snowflake's INFER_SCHEMA)."""
    file_format_object = f"{landing_schema}.{SCHEMA_FORMATS[file_format]}"
    rows = session.sql(
        f"SELECT COLUMN_NAME FROM TABLE(INFER_SCHEMA(LOCATION => {sql_literal(f'@{stage}/{path}')}, "
        f"FILE_FORMAT => {sql_literal(file_format_object)})) ORDER BY ORDER_ID"
    ).collect()
    return [str(r[0]) for r in rows]


def copy_projection(
    ent: entity_spec.Entity, columns: list[str], file_format: str
) -> tuple[list[str], list[str], list[str]]:
    """COPY's projection of the spec columns from a file with ``columns``, matched by name
    (case-insensitively), never by position: NULL for a column the file lacks.

    Returns (projection, extra columns, missing columns)."""
    position = {c.lower(): i for i, c in enumerate(columns, start=1)}
    projection, missing = [], []
    for name in ent.column_names:
        i = position.get(name.lower())
        if i is None:
            missing.append(name)
            projection.append("NULL")
        elif file_format == "csv":
            projection.append(f"${i}")
        else:
            found = columns[i - 1]
            projection.append(f"$1:{found}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", found) else f'$1:"{found}"')
    spec = {n.lower() for n in ent.column_names}
    extra = [c for c in columns if c.lower() not in spec]
    return projection, extra, missing


def _copy_file(
    session: Any,
    stage: str,
    schema: str,
    ent: entity_spec.Entity,
    path: str,
    file_format: str,
    batch: str,
    force: bool = False,
) -> FileResult:
    if file_format not in FILE_FORMATS:
        return FileResult(path, ent.name, "FAILED", error=f"unknown file format {file_format!r} in the control file")
    try:
        columns = file_columns(session, stage, schema, path, file_format)
        if not columns:
            # an empty extract (no bytes): nothing to copy, and a quiet day to record
            _record_file(session, schema, batch, path, "LOADED", 0)
            return FileResult(path, ent.name, "LOADED")
        projection, extra, missing = copy_projection(ent, columns, file_format)
        missing_literal = sql_literal(",".join(missing)) if missing else "NULL"
        statement = (
            f"COPY INTO {schema}.{landing_table(ent)} FROM (SELECT {', '.join(projection)}, {sql_literal(path)}, "
            f"METADATA$FILE_ROW_NUMBER, {sql_literal(batch)}, SYSDATE(), {missing_literal} "
            f"FROM @{stage}) FILES = ({sql_literal(path)}) FILE_FORMAT = ({FILE_FORMATS[file_format]})"
            f"{FORCE if force else ''}"
        )
        status, loaded = copy_outcome(session.sql(statement).collect())
    except Exception as err:
        reason = str(err).splitlines()[0][:500]
        session.sql(
            f"INSERT INTO {schema}.{ERRORS_TABLE} VALUES (?, ?, ?, SYSDATE())", params=[batch, path, reason]
        ).collect()
        return FileResult(path, ent.name, "FAILED", error=reason)
    if status == "LOADED":
        _record_file(session, schema, batch, path, status, loaded)
    if status == "LOADED" and (extra or missing):
        changes = [(c, "extra_column") for c in extra] + [(c, "missing_column") for c in missing]
        values = ", ".join("(?, ?, ?, ?, ?, SYSDATE())" for _ in changes)
        session.sql(
            f"INSERT INTO {schema}.{DRIFT_TABLE} VALUES {values}",
            params=[v for column, change in changes for v in (batch, path, ent.name, column, change)],
        ).collect()
    return FileResult(path, ent.name, status, rows=loaded, extra_columns=tuple(extra), missing_columns=tuple(missing))


def _record_file(session: Any, schema: str, batch: str, path: str, status: str, rows: int) -> None:
    session.sql(
        f"INSERT INTO {schema}.{FILES_TABLE} VALUES (?, ?, ?, ?, SYSDATE())", params=[batch, path, status, rows]
    ).collect()


def copy_outcome(rows: list[Any]) -> tuple[str, int]:
    """(status, rows loaded) of a one-file COPY INTO, from either shape Snowflake answers:
    one row per file (``file``, ``status``, ``rows_parsed``, ``rows_loaded``, ...), or, when no
    file was processed (it was loaded before), one row with only ``status`` = "Copy
    executed with 0 files processed."
    (https://docs.snowflake.com/en/sql-reference/sql/copy-into-table, Output)."""
    if not rows:
        raise ValueError("COPY INTO answered no rows")
    fields = {str(k).lower(): v for k, v in rows[0].as_dict().items()}
    if "rows_loaded" not in fields:
        return "LOAD_SKIPPED", 0
    return str(fields["status"]), int(fields["rows_loaded"] or 0)


RECONCILIATION_COLUMNS = "batch_id, producer, entity, file_name, issue, expected_rows, landed_rows, recorded_at, detail"
# what each issue of LANDING.RECONCILIATION means (docs/producer-contract.md lists them)
ISSUES = {
    "missing_or_unreadable": "a file the control file names did not land, or could not be read",
    "row_count_mismatch": "a file landed another number of rows than its control file promised",
    "invalid_control_row": "a control file row whose row_count is not a whole number",
    "extra_file": "a file in a delivery folder that its control file does not name",
    "unknown_folder": "a control file in a producer/entity folder the spec does not know",
    "unreadable_control": "a control file that cannot be read against the contract",
    "changed_after_load": "a landing file rewritten after ingestion loaded it",
}


def _reconcile(session: Any, stage: str, schema: str, batches: list[str], problems: list[ControlIssue]) -> int:
    """Record where the batches differ from their control files: every control-file row
    whose file did not land with the promised rows, a row that promises no number, a file
    of a delivery folder its control file does not name, and the control files that could
    not be used (``problems``)."""
    if not batches:
        return 0
    entity_counts = " UNION ALL ".join(
        f"SELECT file_name, COUNT(*) AS n FROM {schema}.{landing_table(e)} GROUP BY file_name"
        for e in entity_spec.ENTITIES
    )
    in_batches = ", ".join(sql_literal(b) for b in batches)
    prefix = "REGEXP_REPLACE(c.control_path, '_control[.]csv$', '')"
    insert = f"INSERT INTO {schema}.{RECONCILIATION_TABLE} ({RECONCILIATION_COLUMNS}) "
    session.sql(f"DELETE FROM {schema}.{RECONCILIATION_TABLE} WHERE batch_id IN ({in_batches})").collect()
    for p in problems:
        producer, entity = p.path.split("/")[:2]
        session.sql(
            insert + "VALUES (?, ?, ?, ?, ?, NULL, NULL, SYSDATE(), ?)",
            params=[p.batch_id, producer, entity, p.path, p.issue, p.detail],
        ).collect()
    # a file is missing when it neither landed a row nor was recorded as loaded (an empty
    # extract promised as 0 rows loads nothing, and reconciles)
    session.sql(
        insert + f"SELECT c.batch_id, c.producer, c.entity, {prefix} || c.file_name, "
        "CASE WHEN l.n IS NULL AND i.file_name IS NULL THEN 'missing_or_unreadable' ELSE 'row_count_mismatch' END, "
        "TRY_CAST(c.row_count AS NUMBER), COALESCE(l.n, 0), SYSDATE(), "
        "CASE WHEN l.n IS NULL AND i.file_name IS NULL THEN 'named by ' || c.control_path || ', not loaded' "
        "ELSE 'control file promised ' || c.row_count || ' rows, ' || COALESCE(l.n, 0) || ' landed' END "
        f"FROM {schema}.{CONTROL_TABLE} c LEFT JOIN ({entity_counts}) l ON l.file_name = {prefix} || c.file_name "
        f"LEFT JOIN (SELECT DISTINCT file_name FROM {schema}.{FILES_TABLE} WHERE status = 'LOADED') i "
        f"ON i.file_name = {prefix} || c.file_name "
        f"WHERE c.batch_id IN ({in_batches}) AND TRY_CAST(c.row_count AS NUMBER) IS NOT NULL "
        "AND ((l.n IS NULL AND i.file_name IS NULL) OR COALESCE(l.n, 0) <> TRY_CAST(c.row_count AS NUMBER))"
    ).collect()
    session.sql(
        insert + f"SELECT c.batch_id, c.producer, c.entity, {prefix} || c.file_name, 'invalid_control_row', NULL, "
        "NULL, SYSDATE(), 'row_count ' || COALESCE(c.row_count, '(empty)') || ' in ' || c.control_path "
        "|| ' is not a whole number' "
        f"FROM {schema}.{CONTROL_TABLE} c WHERE c.batch_id IN ({in_batches}) "
        "AND TRY_CAST(c.row_count AS NUMBER) IS NULL"
    ).collect()
    # any file of a delivery folder that its control file does not name (whatever its name)
    session.sql(
        insert + "SELECT c.batch_id, c.producer, c.entity, d.path, 'extra_file', NULL, NULL, SYSDATE(), "
        "'not named by ' || c.control_path "
        f"FROM (SELECT DISTINCT batch_id, producer, entity, control_path, {prefix} AS folder "
        f"FROM {schema}.{CONTROL_TABLE} c WHERE batch_id IN ({in_batches})) c "
        f"JOIN (SELECT LTRIM(RELATIVE_PATH, '/') AS path FROM DIRECTORY(@{stage})) d "
        "ON STARTSWITH(d.path, c.folder) AND POSITION('/' IN SUBSTR(d.path, LENGTH(c.folder) + 1)) = 0 "
        "WHERE d.path <> c.control_path "
        f"AND NOT EXISTS (SELECT 1 FROM {schema}.{CONTROL_TABLE} n "
        "WHERE n.control_path = c.control_path AND c.folder || n.file_name = d.path)"
    ).collect()
    found = session.sql(
        f"SELECT COUNT(*) FROM {schema}.{RECONCILIATION_TABLE} WHERE batch_id IN ({in_batches})"
    ).collect()
    return int(found[0][0])


def reconciliation_issues(session: Any, schema: str, batches: list[str]) -> list[ReconciliationIssue]:
    """The batches' recorded issues, one per file and kind, for the summary and the step line."""
    if not batches:
        return []
    in_batches = ", ".join(sql_literal(b) for b in batches)
    rows = session.sql(
        f"SELECT DISTINCT batch_id, file_name, issue, detail FROM {schema}.{RECONCILIATION_TABLE} "
        f"WHERE batch_id IN ({in_batches}) ORDER BY 1, 2, 3"
    ).collect()
    return [{"batch": str(r[0]), "file": str(r[1]), "issue": str(r[2]), "detail": r[3]} for r in rows]
