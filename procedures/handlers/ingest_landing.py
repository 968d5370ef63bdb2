"""``CALL INGEST_LANDING(batch_id, stage)``: producer files from the S3 stage into landing tables.

Default: every batch whose control files have not been ingested yet, from the stage
``LANDING.SETTINGS`` names (``CALL BIND_LANDING_STAGE``), else ``LANDING.LANDING_STAGE``.
See ``procedures/ingest.py`` for what lands where.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from procedures import erasure
from procedures.audit import audited, checked_batch_id, checked_name, checked_schemas
from procedures.ingest import IngestSummary, ingest

PROCEDURE = "INGEST_LANDING"
DEFAULT_STAGE = "LANDING_STAGE"
STAGE_SETTING = "LANDING_STAGE"


def landing_stage(session: Any, landing_schema: str = "LANDING") -> str:
    """The stage to ingest from: the one bound with ``BIND_LANDING_STAGE`` (a Native App
    consumer's own external stage) if any, else the landing schema's ``LANDING_STAGE``."""
    rows = session.sql(
        f"SELECT VALUE FROM {checked_name(landing_schema, 'landing_schema')}.SETTINGS WHERE NAME = '{STAGE_SETTING}'"
    ).collect()
    return str(rows[0][0]) if rows and rows[0][0] else f"{landing_schema}.{DEFAULT_STAGE}"


def run(session: Any, batch_id: str = "", stage: str = "", schemas: Mapping[str, str] | None = None) -> IngestSummary:
    """Ingest ``batch_id`` (default: every batch not ingested yet) from ``stage`` (default:
    the bound one) into the landing schema; ``schemas`` names the landing and audit
    schemas (default LANDING, AUDIT)."""
    checked_batch_id(batch_id)
    names = checked_schemas(schemas, "landing", "audit")
    landing_schema, audit_schema = names["landing"], names["audit"]
    stage = checked_name(stage or landing_stage(session, landing_schema), "stage")
    audit_table = f"{audit_schema}.PROCEDURE_RUNS"
    with audited(session, PROCEDURE, {"batch_id": batch_id, "stage": stage}, audit_table) as audit:
        result = ingest(session, stage, landing_schema, batch_id, run_id=audit.run_id, audit_schema=audit_schema)
        # an erased subject's values, delivered again, are overwritten as they land
        erased = sum(
            int(session.sql(sql).collect()[0][0])
            for sql in erasure.scrub_sql(landing_schema, audit_schema, result.batches)
        )
        summary = result.as_dict(erased_on_landing=erased)
        audit.rows_written = int(summary["total_rows"])
        audit.result = summary
    return summary


def main(session: Any, batch_id: str = "", stage: str = "") -> IngestSummary:
    """Stored procedure handler for INGEST_LANDING.

    Args:
        batch_id: one batch to (re)ingest, e.g. ``B20260105``; default: every batch whose
            control files were not ingested yet. Files loaded before are skipped.
        stage: the stage to read, e.g. ``MY_DB.LANDING.S3_LANDING``; default: the one bound
            with ``BIND_LANDING_STAGE``, else ``LANDING.LANDING_STAGE``.
    """
    return run(session, batch_id=batch_id, stage=stage)
