"""Statements the local engine cannot run, and why. The one place they are listed.

The local fakesnow server is created with these as ``nop_regexes``: a matching
statement succeeds without effect. The same statements run for real on Snowflake, and
every shipped SQL file is parsed as Snowflake SQL by the tests, so a typo is still
caught. Nothing else in the project branches on the target to skip SQL.
"""

from __future__ import annotations

import re

# (pattern, why the local engine cannot run it). Patterns match the whole statement,
# case-insensitively, from its start.
UNSUPPORTED: tuple[tuple[str, str], ...] = (
    (
        r"^\s*(CREATE|ALTER|DROP|DESC(RIBE)?)\s+(OR\s+REPLACE\s+)?STORAGE\s+INTEGRATION\b",
        "storage integrations are account objects backed by AWS IAM",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?NETWORK\s+RULE\b",
        "network rules govern Snowflake's egress",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?SECRET\b",
        "Snowflake secrets; locally boto3 reads the moto endpoint from the environment",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?EXTERNAL\s+ACCESS\s+INTEGRATION\b",
        "external access integrations let procedures reach S3 from inside Snowflake",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(WAREHOUSE|RESOURCE\s+MONITOR)\b",
        "DuckDB has no warehouses",
    ),
    (r"^\s*USE\s+(WAREHOUSE|ROLE)\b", "no warehouses or roles locally"),
    (r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(DATABASE\s+)?ROLE\b", "no roles locally"),
    (r"^\s*(GRANT|REVOKE)\b", "no access control locally"),
    (r"^\s*SHOW\s+GRANTS\b", "no access control locally, so no grants to show"),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?APPLICATION\s+ROLE\b",
        "no application roles locally (lake app install --local: every role sees every object)",
    ),
    (
        r"^\s*CREATE\s+OR\s+ALTER\s+VERSIONED\s+SCHEMA\b",
        "no versioned schemas locally: lake app install --local creates a plain schema of that name",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?STREAMLIT\b",
        "no Streamlit objects locally; `lake ui` runs the same dashboard",
    ),
    (
        r"^\s*ALTER\s+(DATABASE|SCHEMA|TABLE)\s+[\s\S]*\bSET\s+DATA_RETENTION_TIME_IN_DAYS\b",
        "no time travel locally",
    ),
    (r"^\s*ALTER\s+SCHEMA\s+\S+\s+(ENABLE|DISABLE)\s+MANAGED\s+ACCESS\b", "no access control locally"),
    (r"^\s*(CREATE|ALTER|DROP|EXECUTE)\s+(OR\s+REPLACE\s+)?TASK\b", "no tasks locally; lake walks the graph"),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(SECURE\s+)?PROCEDURE\b",
        "no stored procedures locally; lake calls the same handlers in-process",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(TAG|MASKING\s+POLICY|ROW\s+ACCESS\s+POLICY)\b",
        "no tags or policies locally: every role sees every value and row (sql/070 is still parsed)",
    ),
    (
        r"^\s*ALTER\s+(TABLE|VIEW)\s+\S+\s+(MODIFY|ALTER)\s+COLUMN\s+\S+\s+(SET|UNSET)\s+TAG\b",
        "no tags locally",
    ),
    (
        r"^\s*ALTER\s+(TABLE|VIEW)\s+\S+\s+(DROP\s+ALL\s+ROW\s+ACCESS\s+POLICIES|(ADD|DROP)\s+ROW\s+ACCESS\s+POLICY)\b",
        "no row access policies locally",
    ),
    (
        r"^\s*(CREATE\s+(OR\s+REPLACE\s+)?DATA\s+METRIC\s+FUNCTION|ALTER\s+(TABLE|VIEW)\s+\S+\s+"
        r"(SET\s+DATA_METRIC_SCHEDULE|(ADD|DROP)\s+DATA\s+METRIC\s+FUNCTION))\b",
        "no data metric functions locally; VALIDATE_DATA runs the same rules",
    ),
    (
        r"^\s*SELECT\b[\s\S]*\bDATA_METRIC_FUNCTION_REFERENCES\b",
        "no data metric functions locally, so none are attached",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(ALERT|NOTIFICATION\s+INTEGRATION)\b",
        "no alerts locally; the alert conditions are tested as queries",
    ),
    (
        r"^\s*ALTER\s+STAGE\s+\S+\s+SET\s+DIRECTORY\b",
        "every local stage has a directory table (a snapshot ALTER STAGE ... REFRESH takes: compat/stages.py)",
    ),
    (
        r"^\s*(CREATE|ALTER|DROP|EXECUTE)\s+(OR\s+REPLACE\s+)?DBT\s+PROJECT\b",
        "no dbt project objects locally; lake runs the same dbt/ project with dbt Core itself",
    ),
    (
        r"^\s*SELECT\s+SYSTEM\$CANCEL_ALL_QUERIES\b",
        "Snowpark's Session.close cancels queries; nothing to cancel",
    ),
)

NOP_REGEXES: list[str] = [pattern for pattern, _ in UNSUPPORTED]


def skipped_locally(statement: str) -> str | None:
    """The reason a statement does nothing locally, or None if it runs."""
    for pattern, why in UNSUPPORTED:
        if re.match(pattern, statement, re.IGNORECASE | re.DOTALL):
            return why
    return None
