"""Corrections of what producers landed, and of batches recorded by mistake: never a
silent delete, always a row in ``AUDIT.CORRECTIONS``.

* ``withdraw``: a landing file is moved out of every reader's way, under
  ``_withdrawn/<UTC time>/<path>`` in the same bucket (kept, not deleted). What ingestion
  took from it goes with it: a control file's rows in ``LANDING.CONTROL_FILES``; a data
  file's landed rows and its ``INGESTED_FILES`` row, as long as the vault has not loaded
  them (the vault keeps history: a loaded file is corrected by a later delivery).
* ``supersede``: ``withdraw``, then the corrected file lands under the same name (a
  control file is checked against the contract first, so a bad correction changes
  nothing). The next ingestion copies it (``FORCE``, as its path has a correction).
* ``remove_batch``: a batch recorded as loaded that landed no file (``lake load --batch``
  with a mistyped id, before LOAD_VAULT refused one): its ``LOADED_BATCHES`` and
  ``VAULT_LOAD_RUNS`` rows are removed.

A batch that ingestion already reconciled is ingested again after a correction, so
``LANDING.RECONCILIATION`` says what the batch now holds. See docs/producer-contract.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lake.config import Settings
from lake.local.stack import Endpoints
from lake.session import connection
from procedures import landing
from procedures import spec as entity_spec
from procedures.errors import UserError
from procedures.ingest import CONTROL_TABLE, DRIFT_TABLE, ERRORS_TABLE, FILES_TABLE, RECONCILIATION_TABLE

WITHDRAWN_PREFIX = "_withdrawn"
TABLE = "CORRECTIONS"


class CorrectionError(UserError, ValueError):
    """A correction that cannot be made as asked; nothing was changed."""


@dataclass
class Correction:
    action: str
    target: str
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)
    reconciled: int | None = None  # the batch's issues after it was ingested again, if it was
    seconds: float = 0.0


def _reason(reason: str) -> str:
    if not reason.strip():
        raise CorrectionError("--reason is required: say why, it is kept in AUDIT.CORRECTIONS")
    return reason.strip()


def _checked(path: str, reason: str) -> tuple[str, str, str]:
    """(producer, entity, load date) of a landing-relative delivery path."""
    path = path.strip().lstrip("/")
    _reason(reason)
    if not landing.in_layout(path) or path.startswith(("_generator/", f"{WITHDRAWN_PREFIX}/")):
        raise CorrectionError(
            f"{path!r} is not a delivery file: give its path in the landing zone, "
            "<producer>/<entity>/load_date=YYYY-MM-DD/<file>"
        )
    producer, entity, folder = path.split("/")[:3]
    return producer, entity, folder.removeprefix("load_date=")


def _scalar(cur: Any, sql: str, params: list[Any] | None = None) -> Any:
    cur.execute(sql, params)
    row = cur.fetchone()
    return row[0] if row else None


def withdraw(
    settings: Settings,
    endpoints: Endpoints | None,
    path: str,
    reason: str,
    replacement: bytes | None = None,
) -> Correction:
    """Withdraw ``path`` (and, with ``replacement``, land the corrected file under its name)."""
    from lake import pipeline

    started = time.perf_counter()
    path = path.strip().lstrip("/")
    _, entity, load_date = _checked(path, reason)
    batch = landing.batch_id_for_date(load_date)
    is_control = path.endswith("/" + landing.CONTROL_FILE)
    if replacement is not None and is_control and (problems := landing.control_problems(replacement)):
        raise CorrectionError(f"the corrected {path} is refused, nothing was changed: {'; '.join(problems)}")
    bucket, prefix = landing.split_landing_url(settings.landing_url)
    s3 = pipeline.aws_clients(endpoints)[1]
    try:
        s3.head_object(Bucket=bucket, Key=prefix + path)
    except Exception as err:
        raise CorrectionError(
            f"no file s3://{bucket}/{prefix}{path}: nothing to withdraw ({str(err).splitlines()[0]})"
        ) from None
    names = settings.names
    lnd, vault, audit = names.landing, names.vault, names.audit
    action = "withdraw" if replacement is None else "supersede"
    moved = f"{WITHDRAWN_PREFIX}/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}/{path}"
    detail: dict[str, Any] = {"moved_to": f"s3://{bucket}/{prefix}{moved}", "batch": batch}
    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        ingested = bool(_scalar(cur, f"SELECT COUNT(*) FROM {lnd}.{CONTROL_TABLE} WHERE batch_id = %s", [batch]))
        if not is_control and entity_spec.ENTITY_BY_NAME.get(entity):
            table = f"{lnd}.{entity_spec.entity(entity).name}"
            load_ts = _scalar(cur, f"SELECT MAX(load_ts) FROM {vault}.LOADED_BATCHES WHERE batch_id = %s", [batch])
            landed = int(_scalar(cur, f"SELECT COUNT(*) FROM {table} WHERE file_name = %s", [path]) or 0)
            taken = (
                int(
                    _scalar(
                        cur,
                        f"SELECT COUNT(*) FROM {table} WHERE file_name = %s AND ingested_at <= %s",
                        [path, load_ts],
                    )
                    or 0
                )
                if load_ts is not None
                else 0
            )
            if taken:
                raise CorrectionError(
                    f"{path}: LOAD_VAULT loaded its {taken} rows into the vault (batch {batch}, {load_ts}); the vault "
                    "keeps history, so a loaded file is not withdrawn: deliver the corrected rows in a later batch "
                    f"(docs/producer-contract.md, Corrections). Nothing was changed"
                )
            detail["landed_rows_removed"] = landed
        cur.execute("BEGIN")
        try:
            if is_control:
                cur.execute(f"DELETE FROM {lnd}.{CONTROL_TABLE} WHERE control_path = %s", [path])
                detail["control_rows_removed"] = int(cur.rowcount or 0)
                folder = path.rsplit("/", 1)[0] + "/"
                cur.execute(
                    f"DELETE FROM {lnd}.{RECONCILIATION_TABLE} WHERE batch_id = %s AND STARTSWITH(file_name, %s)",
                    [batch, folder],
                )
            else:
                if entity_spec.ENTITY_BY_NAME.get(entity):
                    cur.execute(f"DELETE FROM {lnd}.{entity_spec.entity(entity).name} WHERE file_name = %s", [path])
                for bookkeeping in (FILES_TABLE, ERRORS_TABLE, DRIFT_TABLE, RECONCILIATION_TABLE):
                    cur.execute(f"DELETE FROM {lnd}.{bookkeeping} WHERE file_name = %s", [path])
            cur.execute(
                f"INSERT INTO {audit}.{TABLE} (corrected_at, action, target, reason, corrected_by, detail) "
                "SELECT SYSDATE(), %s, %s, %s, CURRENT_USER(), %s",
                [action, path, reason.strip(), json.dumps(detail, sort_keys=True)],
            )
            # the object moves last: a failure before leaves the bucket as it was
            s3.copy_object(Bucket=bucket, Key=prefix + moved, CopySource={"Bucket": bucket, "Key": prefix + path})
            s3.delete_object(Bucket=bucket, Key=prefix + path)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    if replacement is not None:
        landing.S3Sink(bucket, prefix, s3).put(path, replacement)
    done = Correction(action, path, reason.strip(), detail)
    if ingested:
        # the batch was reconciled before: ingest it again so RECONCILIATION says what it holds now
        done.reconciled = int(pipeline.ingest(settings, endpoints, batch_id=batch).detail["reconciliation_issues"])
    done.seconds = time.perf_counter() - started
    return done


def supersede(settings: Settings, endpoints: Endpoints | None, path: str, corrected: Path, reason: str) -> Correction:
    """``path`` withdrawn and the file ``corrected`` landed under its name."""
    if not corrected.is_file():
        raise CorrectionError(f"--with {corrected}: no such file")
    return withdraw(settings, endpoints, path, reason, replacement=corrected.read_bytes())


def remove_batch(settings: Settings, endpoints: Endpoints | None, batch: str, reason: str) -> Correction:
    """Remove a batch recorded as loaded that landed nothing, with its audit rows."""
    started = time.perf_counter()
    _reason(reason)
    names = settings.names
    with connection(settings, endpoints) as conn:
        cur = conn.cursor()
        recorded = int(
            _scalar(cur, f"SELECT COUNT(*) FROM {names.vault}.LOADED_BATCHES WHERE batch_id = %s", [batch]) or 0
        )
        if not recorded:
            raise CorrectionError(f"batch {batch} is not recorded in {names.vault}.LOADED_BATCHES: nothing to remove")
        files = int(
            _scalar(
                cur,
                f"SELECT COUNT(*) FROM {names.landing}.{FILES_TABLE} WHERE batch_id = %s AND status = 'LOADED'",
                [batch],
            )
            or 0
        )
        if files:
            raise CorrectionError(
                f"batch {batch} landed {files} files: it is a delivery, not a mistake; correct its files with "
                "`lake landing supersede` or a later delivery. Nothing was changed"
            )
        cur.execute("BEGIN")
        try:
            cur.execute(f"DELETE FROM {names.vault}.LOADED_BATCHES WHERE batch_id = %s", [batch])
            detail = {"loaded_batches": int(cur.rowcount or 0)}
            cur.execute(f"DELETE FROM {names.audit}.VAULT_LOAD_RUNS WHERE batch_id = %s", [batch])
            detail["vault_load_runs"] = int(cur.rowcount or 0)
            cur.execute(
                f"INSERT INTO {names.audit}.{TABLE} (corrected_at, action, target, reason, corrected_by, detail) "
                "SELECT SYSDATE(), 'remove_batch', %s, %s, CURRENT_USER(), %s",
                [batch, reason.strip(), json.dumps(detail, sort_keys=True)],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
    return Correction("remove_batch", batch, reason.strip(), detail, seconds=time.perf_counter() - started)
