"""The Snowflake Native App: its code archive, the generated parts of its setup script,
and the Snowflake rules an app must follow, checked before anything is installed.

* ``build/procedures.zip``: the ``procedures`` package (modules and rule files, package
  path kept) that the setup script's procedures import (``IMPORTS = ('/procedures.zip')``).
  ``python -m lake.app`` writes it; ``make app-deploy`` runs that before ``snow app run``.
* The setup script (``native_app/setup_script.sql``) is hand-written around three blocks
  ``make ddl`` generates, so nothing the standalone deployment defines is kept twice:
  ``state``: every object the procedures read and write, from the same ``sql/`` files,
  in plain schemas that upgrades keep, each table followed by one ``ALTER TABLE ... ADD
  COLUMN IF NOT EXISTS`` per column, so an upgrade adds a column a new version defines;
  ``code``: the procedures of ``snowflake.yml`` in the versioned schema, with the
  PACKAGES their imports need (``lake.deploy.packages``); ``pipeline``: START_PIPELINE
  and STOP_PIPELINE, which create and suspend the task graph of ``lake.task_graph``
  (``APP_NODES``) in a plain schema.
* ``problems``: what Snowflake refuses in a manifest or setup script, for
  ``lake app install --local`` (lake/local/app.py) to refuse too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lake import deploy, sqlfiles, task_graph
from lake.config import Names
from lake.deploy import ARCHIVE, zip_procedures
from procedures.errors import UserError
from procedures.sql import sql_literal

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "native_app"
SETUP_SCRIPT = APP_DIR / "setup_script.sql"
MANIFEST = APP_DIR / "manifest.yml"

CODE_SCHEMA = "APP_CODE"  # versioned: replaced on every upgrade
TASKS_SCHEMA = "PIPELINE"  # plain: tasks cannot live in a versioned schema
# the layers whose schemas the app holds (no dbt layers: see task_graph.APP_NODES)
STATE_LAYERS = ("landing", "vault", "quality", "audit")
# the files of sql/ whose objects the app's procedures read and write
STATE_FILES = (
    "010_database.sql",
    "020_landing.sql",
    "030_audit.sql",
    "035_landing_tables.sql",
    "040_vault.sql",
    "045_staging.sql",
    "050_vault_views.sql",
    "055_controls.sql",
    "060_quality.sql",
)
# GENERATE_SAMPLE_DATA writes to S3 through an external access integration and a secret
# the standalone deployment creates (sql/deploy/egress.sql); the app would need both as
# consumer references, so it does not ship the generator.
NOT_IN_APP = {
    "GENERATE_SAMPLE_DATA": "writes to S3 through an external access integration and a secret",
    "PUBLISH_GOLD": "publishes the dbt graph's gold, which the app does not build",
    "REPLAY": "starts the standalone graph's root task; the app's consumer re-runs batches with LOAD_VAULT",
}
# procedure -> the application role that may call it
ROLE_OF = {"BIND_LANDING_STAGE": "APP_ADMIN"}
# the tasks' warehouse: the consumer's, bound to the manifest's WAREHOUSE reference (USAGE,
# https://docs.snowflake.com/en/developer-guide/native-apps/requesting-refs). That CREATE
# TASK accepts reference(...) here is not confirmed by a page we could read, and the local
# engine creates no tasks: the statements are parsed, not run (lake/local/strict.py).
WAREHOUSE = "reference('consumer_warehouse')"


class AppError(UserError, RuntimeError):
    """The app's manifest or setup script breaks a rule Snowflake enforces; names it."""


# --------------------------------------------------------------------------- state block

_APP_DB = "LAKE_APP_DATABASE__"  # rendered in place of <% database %>, then removed


def _values(names: Names) -> dict[str, str]:
    values = {"database": _APP_DB, "landing_stage": names.landing_stage, "role_prefix": names.role_prefix}
    values |= {f"{key}_schema": value for key, value in names.schemas.items()}
    # placeholders of statements the app leaves out (integration, external stage)
    return values | {k: "NOT_IN_APP" for k in ("landing_url", "storage_integration", "aws_role_arn")}


_KEPT = re.compile(
    r"^(CREATE SCHEMA IF NOT EXISTS|CREATE FILE FORMAT IF NOT EXISTS|CREATE TABLE IF NOT EXISTS|"
    r"CREATE OR REPLACE VIEW|INSERT INTO)\s",
    re.IGNORECASE,
)
_LEFT_OUT = re.compile(r"^(CREATE DATABASE|CREATE STORAGE INTEGRATION|CREATE STAGE|ALTER STAGE)\b", re.IGNORECASE)


def state_sql(sql_dir: Path = sqlfiles.SQL_DIR, names: Names | None = None) -> str:
    """The state objects of the app, from ``sql/``: schema-qualified only (the app is
    the database), without the database, the storage integration and the stages (the
    consumer's stage is bound, not created: procedures/handlers/bind_landing_stage.py)."""
    names = names or Names()
    values = _values(names)
    dropped_schemas = {s for k, s in names.schemas.items() if k not in STATE_LAYERS}
    out: list[str] = []
    for name in STATE_FILES:
        path = sql_dir / name
        text = sqlfiles.render(path.read_text(), values, name).replace(f"{_APP_DB}.", "")
        for statement in sqlfiles.split(text):
            if _LEFT_OUT.match(statement):
                continue
            if not _KEPT.match(statement):
                raise AppError(
                    f"sql/{name}: the app's setup script has no rule for {statement.splitlines()[0][:80]!r}: "
                    "add it to lake/app.py (kept or left out, and why)"
                )
            created = re.match(r"CREATE SCHEMA IF NOT EXISTS (\w+)", statement)
            if created and created.group(1) in dropped_schemas:
                continue
            if _APP_DB in statement:
                raise AppError(f"sql/{name}: a statement names the database: {statement.splitlines()[0][:80]!r}")
            out.append(statement.strip() + ";")
            if statement.upper().startswith("CREATE TABLE"):
                out.extend(s + ";" for s in sqlfiles.evolution(statement))
    out.append(f"CREATE SCHEMA IF NOT EXISTS {TASKS_SCHEMA} COMMENT = 'The task graph (START_PIPELINE)';")
    for schema in (names.schemas[k] for k in STATE_LAYERS):
        role = "APP_USER" if schema == names.landing else "APP_VIEWER"
        out.append(f"GRANT USAGE ON SCHEMA {schema} TO APPLICATION ROLE {role};")
        out.append(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO APPLICATION ROLE {role};")
        out.append(f"GRANT SELECT ON ALL VIEWS IN SCHEMA {schema} TO APPLICATION ROLE {role};")
    return "\n".join(out)


# --------------------------------------------------------------------------- code block


def app_procedures() -> tuple[deploy.Procedure, ...]:
    return tuple(p for p in deploy.procedures() if p.name not in NOT_IN_APP)


def _signature(proc: deploy.Procedure) -> str:
    return ", ".join(a.sql_type for a in proc.arguments)


def code_sql() -> str:
    """The app's procedures: the standalone ones (same handlers, same archive), in the
    versioned schema, each with the PACKAGES its imports need."""
    out: list[str] = []
    for proc in app_procedures():
        if proc.integrations or proc.secrets:
            raise AppError(f"{proc.name} needs an external access integration: add it to lake/app.NOT_IN_APP")
        out.append(deploy.procedure_ddl(proc, f"{CODE_SCHEMA}.{proc.name}", "/procedures.zip") + ";")
        role = ROLE_OF.get(proc.name, "APP_USER")
        out.append(
            f"GRANT USAGE ON PROCEDURE {CODE_SCHEMA}.{proc.name}({_signature(proc)}) TO APPLICATION ROLE {role};"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------- pipeline block


def pipeline_sql(names: Names | None = None) -> str:
    """START_PIPELINE(SCHEDULE, NOTIFICATION_INTEGRATION) and STOP_PIPELINE(): SQL procedures
    (a setup script cannot create tasks that use a reference before it is bound, so the
    warehouse callback calls START_PIPELINE). Each task statement of ``task_graph.app_sql``
    runs through EXECUTE IMMEDIATE
    (https://docs.snowflake.com/en/sql-reference/sql/execute-immediate); the root's and the
    finalizer's statements are built in a variable with the arguments quoted into them. A
    failed run is told through NOTIFICATION_INTEGRATION, an e-mail integration the consumer
    grants the app USAGE on (none: the run is recorded in AUDIT.PIPELINE_RUNS, not told)."""
    names = names or Names()
    markers = {"__SCHEDULE__": "SCHEDULE", "__INTEGRATION__": "NOTIFICATION_INTEGRATION"}
    statements = task_graph.app_sql(
        TASKS_SCHEMA, CODE_SCHEMA, names.audit, WAREHOUSE, "__SCHEDULE__", "__INTEGRATION__"
    )
    body = [
        "BEGIN",
        "    IF (NOT REGEXP_LIKE(NOTIFICATION_INTEGRATION, '[A-Za-z0-9_$]*')) THEN",
        "        RETURN 'NOTIFICATION_INTEGRATION must be an integration name, got ' || NOTIFICATION_INTEGRATION;",
        "    END IF;",
    ]
    for statement in statements:
        found = [m for m in markers if m in statement]
        if not found:
            body.append(f"    EXECUTE IMMEDIATE {sql_literal(statement)};")
            continue
        pieces = re.split("(" + "|".join(found) + ")", statement)
        parts = []
        for i, piece in enumerate(pieces):
            if piece in markers:
                parts.append(markers[piece])
            else:  # the schedule is a quoted literal in the statement: keep its quotes around it
                text = piece
                if i + 1 < len(pieces) and pieces[i + 1] == "__SCHEDULE__":
                    text += "'"
                if i > 0 and pieces[i - 1] == "__SCHEDULE__":
                    text = "'" + text
                parts.append(sql_literal(text))
        variable = f"stmt_{len(body)}"  # one variable per statement: LET declares it
        body.append(f"    LET {variable} VARCHAR := {' || '.join(parts)};")
        body.append(f"    EXECUTE IMMEDIATE :{variable};")
    body.append(f"    RETURN 'task graph started in {TASKS_SCHEMA}: ' || SCHEDULE;")
    body.append("END;")
    start = (
        f"CREATE OR REPLACE PROCEDURE {CODE_SCHEMA}.START_PIPELINE(SCHEDULE VARCHAR DEFAULT '{task_graph.SCHEDULE}', "
        "NOTIFICATION_INTEGRATION VARCHAR DEFAULT '')\n"
        "    RETURNS VARCHAR\n    LANGUAGE SQL\n    EXECUTE AS OWNER\n    AS $$\n" + "\n".join(body) + "\n$$;"
    )
    stop = (
        f"CREATE OR REPLACE PROCEDURE {CODE_SCHEMA}.STOP_PIPELINE()\n"
        "    RETURNS VARCHAR\n    LANGUAGE SQL\n    EXECUTE AS OWNER\n    AS $$\nBEGIN\n"
        f"    ALTER TASK IF EXISTS {TASKS_SCHEMA}.{task_graph.ROOT} SUSPEND;\n"
        f"    RETURN 'task graph suspended: {TASKS_SCHEMA}.{task_graph.ROOT}';\nEND;\n$$;"
    )
    grants = [
        f"GRANT USAGE ON PROCEDURE {CODE_SCHEMA}.START_PIPELINE(VARCHAR, VARCHAR) TO APPLICATION ROLE APP_ADMIN;",
        f"GRANT USAGE ON PROCEDURE {CODE_SCHEMA}.STOP_PIPELINE() TO APPLICATION ROLE APP_ADMIN;",
    ]
    return "\n".join([start, stop, *grants])


# --------------------------------------------------------------------------- the script

BLOCKS = ("state", "code", "pipeline")


def _markers(block: str) -> tuple[str, str]:
    return f"-- BEGIN generated {block}: `make ddl` writes this block (lake/app.py)", f"-- END generated {block}"


def setup_script(current: str, sql_dir: Path = sqlfiles.SQL_DIR) -> str:
    """``current`` (the setup script) with its generated blocks renewed."""
    parts: dict[str, Callable[[], str]] = {
        "state": lambda: state_sql(sql_dir),
        "code": code_sql,
        "pipeline": pipeline_sql,
    }
    text = current
    for block in BLOCKS:
        begin, end = _markers(block)
        try:
            start, stop = text.index(begin) + len(begin), text.index(end)
        except ValueError:
            raise AppError(f"{SETUP_SCRIPT.name} has lost its '{begin}' ... '{end}' markers") from None
        text = f"{text[:start]}\n{parts[block]()}\n{text[stop:]}"
    return text


# --------------------------------------------------------------------------- Snowflake's rules

# What a manifest reference may hold, and with which privileges: "Object types and
# privileges that a reference can contain"
# (https://docs.snowflake.com/en/developer-guide/native-apps/requesting-refs). A stage is
# not among them (nor among SYSTEM$REFERENCE's object types:
# https://docs.snowflake.com/en/sql-reference/functions/system_reference).
REFERENCE_PRIVILEGES: dict[str, frozenset[str]] = {
    "TABLE": frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"}),
    "VIEW": frozenset({"SELECT", "REFERENCES"}),
    "EXTERNAL TABLE": frozenset({"SELECT", "REFERENCES"}),
    "FUNCTION": frozenset({"USAGE"}),
    "PROCEDURE": frozenset({"USAGE"}),
    "WAREHOUSE": frozenset({"MODIFY", "MONITOR", "USAGE", "OPERATE"}),
    "API INTEGRATION": frozenset({"USAGE"}),
}
DOCS = "https://docs.snowflake.com/en/developer-guide/native-apps"


def manifest_problems(manifest: dict[str, Any]) -> list[str]:
    """References whose object type or privileges a manifest may not ask for."""
    found = []
    for entry in manifest.get("references") or []:
        for name, ref in entry.items():
            kind = str(ref.get("object_type", "")).upper()
            allowed = REFERENCE_PRIVILEGES.get(kind)
            if allowed is None:
                found.append(f"reference {name}: a reference cannot hold a {kind} ({DOCS}/requesting-refs)")
                continue
            extra = sorted(set(map(str.upper, ref.get("privileges") or [])) - allowed)
            if extra:
                found.append(f"reference {name}: {', '.join(extra)} is not a privilege of a {kind} reference")
    return found


_VERSIONED_SCHEMA = re.compile(r"CREATE\s+(?:OR\s+ALTER\s+)?VERSIONED\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)


def versioned_schema(statement: str) -> str | None:
    """The schema a ``CREATE [OR ALTER] VERSIONED SCHEMA`` statement creates, else None."""
    match = _VERSIONED_SCHEMA.match(statement)
    return match.group(1).upper() if match else None


def _versioned_schemas(statements: Iterable[str]) -> set[str]:
    return {name for s in statements if (name := versioned_schema(s))}


def setup_script_problems(statements: list[str]) -> list[str]:
    """What Snowflake refuses in a setup script
    (https://docs.snowflake.com/en/developer-guide/native-apps/creating-setup-script,
    "Restrictions on the setup script") and in a versioned schema ("Tasks are not
    supported in versioned schemas", "Tags and masking policies are not supported", "Grants
    and future grants are not supported"), including the task
    statements START_PIPELINE runs. https://docs.snowflake.com/en/developer-guide/native-apps/versioned-schema"""
    versioned = _versioned_schemas(statements)
    found = []
    task_statements = task_graph.app_sql(TASKS_SCHEMA, CODE_SCHEMA, Names().audit, WAREHOUSE, "'x'")
    for statement in [*statements, *task_statements]:
        first = statement.splitlines()[0][:80]
        if re.match(r"USE\s+(DATABASE|SCHEMA|ROLE|SECONDARY\s+ROLES)\b", statement, re.I):
            found.append(f"{first}: a setup script cannot USE a database, schema or role")
        if re.match(r"CREATE\b.*\bPROCEDURE\b", statement, re.I | re.S) and re.search(
            r"EXECUTE\s+AS\s+CALLER", statement, re.I
        ):
            found.append(f"{first}: a setup script cannot create an EXECUTE AS CALLER procedure")
        created = re.match(
            r"CREATE\s+(?:OR\s+REPLACE\s+)?(TASK|TAG|MASKING\s+POLICY)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\.",
            statement,
            re.I,
        )
        if created and created.group(2).upper() in versioned:
            found.append(f"{first}: a {created.group(1).upper()} cannot live in versioned schema {created.group(2)}")
        future = re.match(r"GRANT\b.*\bON\s+(FUTURE|ALL)\s+\w+\s+IN\s+SCHEMA\s+(\w+)", statement, re.I | re.S)
        if future and future.group(2).upper() in versioned:
            found.append(f"{first}: no bulk or future grants in versioned schema {future.group(2)}")
    return found


def check(manifest: dict[str, Any], setup_statements: list[str]) -> None:
    problems = manifest_problems(manifest) + setup_script_problems(setup_statements)
    if problems:
        raise AppError("the app breaks Snowflake's rules:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    target = zip_procedures(Path(sys.argv[1]) if len(sys.argv) > 1 else ARCHIVE)
    print(f"{target} ({target.stat().st_size:,} bytes)")
