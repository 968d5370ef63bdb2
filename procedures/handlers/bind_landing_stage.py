"""``CALL BIND_LANDING_STAGE(stage)``: the stage INGEST_LANDING reads by default.

A Native App cannot be given a consumer's stage through a manifest reference (a
reference holds a table, view, function, procedure, warehouse, integration, secret and a
few more, never a stage: https://docs.snowflake.com/en/sql-reference/functions/system_reference).
The consumer grants the app USAGE on their external stage instead ("GRANT <privileges> ...
TO APPLICATION" takes STAGE: https://docs.snowflake.com/en/sql-reference/sql/grant-privilege-application)
and names it here. USAGE on an external stage is enough to refresh its directory table
(https://docs.snowflake.com/en/release-notes/bcr-bundles/2023_06/bcr-1222), which is how
ingestion finds the producers' control files. The standalone deployment can use it too,
to read another stage than ``LANDING.LANDING_STAGE``.
"""

from __future__ import annotations

from typing import Any, TypedDict

from procedures.audit import ArgumentError, audited, checked_name
from procedures.handlers.ingest_landing import STAGE_SETTING

PROCEDURE = "BIND_LANDING_STAGE"


class Summary(TypedDict):
    """What BIND_LANDING_STAGE returns: the stage it bound and the files it holds."""

    stage: str
    files: int


def run(
    session: Any, stage: str, landing_schema: str = "LANDING", audit_table: str = "AUDIT.PROCEDURE_RUNS"
) -> Summary:
    checked_name(stage, "stage")
    checked_name(landing_schema, "landing_schema")
    if stage.count(".") != 2:
        raise ArgumentError(f"stage must be fully qualified, DATABASE.SCHEMA.STAGE, got {stage!r}")
    with audited(session, PROCEDURE, {"stage": stage}, audit_table) as audit:
        try:
            session.sql(f"ALTER STAGE {stage} REFRESH").collect()
            files = int(session.sql(f"SELECT COUNT(*) FROM DIRECTORY(@{stage})").collect()[0][0])
        except Exception as err:
            raise ArgumentError(
                f"stage {stage} cannot be read: {err}. It must be an external stage with a directory table "
                f"(ALTER STAGE {stage} SET DIRECTORY = (ENABLE = TRUE)), and this app needs USAGE on it and on "
                "its database and schema (GRANT USAGE ON STAGE ... TO APPLICATION ...)"
            ) from err
        session.sql(
            f"MERGE INTO {landing_schema}.SETTINGS AS t "
            f"USING (SELECT '{STAGE_SETTING}' AS NAME, '{stage.upper()}' AS VALUE) AS s ON t.NAME = s.NAME "
            "WHEN MATCHED THEN UPDATE SET VALUE = s.VALUE, UPDATED_AT = SYSDATE() "
            "WHEN NOT MATCHED THEN INSERT (NAME, VALUE, UPDATED_AT) VALUES (s.NAME, s.VALUE, SYSDATE())"
        ).collect()
        summary: Summary = {"stage": stage.upper(), "files": files}
        audit.result = summary
    return summary


def main(session: Any, stage: str) -> Summary:
    """Stored procedure handler for BIND_LANDING_STAGE.

    Args:
        stage: the external stage over the S3 landing zone, ``DATABASE.SCHEMA.STAGE``, with
            a directory table; INGEST_LANDING reads it from now on.
    """
    return run(session, stage)
