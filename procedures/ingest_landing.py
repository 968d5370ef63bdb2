"""``CALL INGEST_LANDING(batch_id)``: producer files from the S3 stage into landing tables.

Default: every batch whose control files have not been ingested yet. See
``procedures/ingest.py`` for what lands where.
"""

from __future__ import annotations

from typing import Any

from procedures.audit import audited, checked_batch_id, checked_name
from procedures.ingest import ingest

PROCEDURE = "INGEST_LANDING"


def run(
    session: Any,
    batch_id: str = "",
    stage: str = "LANDING.LANDING_STAGE",
    landing_schema: str = "LANDING",
    audit_table: str = "AUDIT.PROCEDURE_RUNS",
) -> dict[str, Any]:
    checked_batch_id(batch_id)
    checked_name(stage, "stage")
    checked_name(landing_schema, "landing_schema")
    with audited(session, PROCEDURE, {"batch_id": batch_id}, audit_table) as audit:
        summary = ingest(session, stage, landing_schema, batch_id, run_id=audit.run_id).as_dict()
        audit.rows_written = int(summary["total_rows"])
        audit.result = summary
    return summary


def main(session: Any, batch_id: str = "") -> dict[str, Any]:
    """Stored procedure handler for INGEST_LANDING.

    Args:
        batch_id: one batch to (re)ingest, e.g. ``B20260105``; default: every batch whose
            control files were not ingested yet. Files loaded before are skipped.
    """
    return run(session, batch_id=batch_id)
