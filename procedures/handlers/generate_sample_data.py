"""``CALL GENERATE_SAMPLE_DATA(scale, days, seed, ...)``: sample producer files in the landing zone.

Writes day-by-day batches for seven entities from three producers to
``<landing_url>/<producer>/<entity>/load_date=YYYY-MM-DD/part-NNNN.<ext>``, with a
control file per producer, entity and date, and the generator's defect manifest under
``_generator/``. See ``procedures/sample_data.py`` for what a batch contains.

In Snowflake the procedure writes to S3 with boto3 through an external access
integration; locally the same handler writes to the moto server.
"""

from __future__ import annotations

from typing import Any

from procedures import landing
from procedures.audit import audited, checked_name
from procedures.sample_data import DEFAULT_START, GenerationSummary, Plan, Progress, generate

PROCEDURE = "GENERATE_SAMPLE_DATA"


def stage_url(session: Any, stage: str) -> str:
    """The URL of an external stage, e.g. ``s3://bucket/landing/``."""
    schema, _, name = checked_name(stage, "stage").rpartition(".")
    rows = session.sql(f"SHOW STAGES LIKE '{name}' IN SCHEMA {schema}").collect()
    if not rows:
        raise landing.LandingError(f"stage {stage} does not exist; apply sql/020_landing.sql first")
    url = rows[0]["url"]
    if not url:
        raise landing.LandingError(f"stage {stage} is internal; the landing stage must point at S3")
    return str(url)


def run(
    session: Any,
    plan: Plan,
    landing_url: str = "",
    stage: str = "LANDING.LANDING_STAGE",
    audit_table: str = "AUDIT.PROCEDURE_RUNS",
    sink: landing.Sink | None = None,
    progress: Progress | None = None,
    workers: int = 2,
) -> GenerationSummary:
    """Generate ``plan``, write, audit (with ``plan.arguments()``); return the summary."""
    url = landing_url or stage_url(session, stage)
    if sink is None:
        bucket, prefix = landing.split_landing_url(url)
        s3 = landing.S3Sink(bucket, prefix, landing.s3_client())
        s3.check_writable()
        sink = s3
    with audited(session, PROCEDURE, {**plan.arguments(), "landing_url": url}, audit_table) as audit:
        summary = generate(plan, sink, progress=progress, workers=workers).as_dict(landing_url=url)
        audit.rows_written = summary["total_rows"]
        audit.result = summary
    return summary


def main(
    session: Any,
    scale: int = 1000,
    days: int = 1,
    seed: int = 42,
    start_date: str = DEFAULT_START.isoformat(),
    formats: str = "parquet",
    defect_rate: float = 0.005,
    late_rate: float = 0.02,
    landing_url: str = "",
) -> GenerationSummary:
    """Stored procedure handler for GENERATE_SAMPLE_DATA.

    Args:
        scale: customers on day 1; other entities in proportion (2 accounts, 8
            transactions, 3 orders, 4 interactions and 0.5 opportunities each).
        days: daily batches to write, from ``start_date``.
        seed: the same seed writes byte-identical files.
        start_date: load date of the first batch, YYYY-MM-DD.
        formats: ``parquet``, ``csv`` or ``json`` for every producer, or per producer
            as ``crm=csv,finance=json`` (the rest stay Parquet).
        defect_rate: share of rows given one deliberate defect (0 to 0.5).
        late_rate: share of rows arriving late, and of yesterday's changes re-sent out
            of order (0 to 0.5).
        landing_url: ``s3://bucket/prefix/``; default: the URL of LANDING.LANDING_STAGE.
    """
    plan = Plan.build(
        scale=int(scale),
        days=int(days),
        seed=int(seed),
        start_date=start_date,
        formats=formats,
        defect_rate=float(defect_rate),
        late_rate=float(late_rate),
    )
    return run(session, plan, landing_url=landing_url)
