"""The local servers' process: moto (S3) and fakesnow (Snowflake) on loopback.

Started by ``lake up`` (kept in the background) or for the length of one command.
One process owns the state folder (a lock file guards it):

* ``warehouse/LAKE.db``: the DuckDB file behind the fakesnow server, so ``lake sql``
  sees what the last run left;
* ``s3/``: a snapshot of the moto buckets, restored at start and saved at stop;
* ``servers.json``: the endpoints, written once both servers answer;
* ``snowflake.port``: the fakesnow server's port, taken again at the next start when it
  is free (dbt's profile includes the port, and a changed profile costs dbt a full
  parse of the project on every command);
* ``servers.log``: the servers' own log.

Run as ``python -m lake.local.serve --state-dir .lake``; stop with SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

log = logging.getLogger("lake.serve")

S3_REGION = "us-east-1"
# moto accepts any key pair; these only satisfy boto3 and DuckDB's secret.
LOCAL_KEY_ID = "lake-local"
LOCAL_SECRET = "lake-local"  # pragma: allowlist secret


def s3_client(endpoint: str) -> Any:
    return boto3_client("s3", endpoint)


def boto3_client(service: Any, endpoint: str) -> Any:
    """A client of the moto server (it serves every AWS service on one endpoint)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id=LOCAL_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET,
        region_name=S3_REGION,
    )


def _index(snapshot: Path) -> dict[str, dict[str, str]]:
    """The snapshot's index: ``bucket/key`` -> its ETag and modification time (an index an
    earlier version wrote holds the ETag only)."""
    path = snapshot / "index.json"
    raw: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return {k: v if isinstance(v, dict) else {"etag": v} for k, v in raw.items()}


def restore_s3(client: Any, snapshot: Path) -> int:
    """Upload a saved snapshot (``s3/<bucket>/<key>``) into the fresh moto server, each
    object with the modification time it had when saved: a landing file is "changed after
    its load" (``procedures.ingest._changed_after_load``) only when someone changed it, not
    because the servers restarted."""
    if not snapshot.is_dir():
        return 0
    uploads: list[tuple[str, str, Path]] = []
    for bucket_dir in sorted(p for p in snapshot.iterdir() if p.is_dir()):
        client.create_bucket(Bucket=bucket_dir.name)
        for path in bucket_dir.rglob("*"):
            if path.is_file():
                uploads.append((bucket_dir.name, path.relative_to(bucket_dir).as_posix(), path))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda u: client.put_object(Bucket=u[0], Key=u[1], Body=u[2].read_bytes()), uploads))
    _keep_modified_times(_index(snapshot), uploads)
    return len(uploads)


def _keep_modified_times(index: dict[str, dict[str, str]], uploads: list[tuple[str, str, Path]]) -> None:
    """Set each restored object's LastModified to the saved one. S3 has no call for it, so
    this writes moto's in-process model (moto serves from this process): the object's
    ``last_modified``, a naive UTC datetime, is what LIST and HEAD report."""
    from datetime import UTC, datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    for bucket, key, _ in uploads:
        modified = index.get(f"{bucket}/{key}", {}).get("modified")
        found = backend.get_object(bucket, key)
        if modified and found is not None:
            found.last_modified = datetime.fromisoformat(modified).astimezone(UTC).replace(tzinfo=None)


def save_s3(client: Any, snapshot: Path) -> int:
    """Save every bucket to ``snapshot``, downloading only objects that changed, with each
    object's ETag and modification time in ``index.json``."""
    index = _index(snapshot)
    seen: dict[str, dict[str, str]] = {}
    downloads: list[tuple[str, str, Path]] = []
    for bucket in client.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        (snapshot / name).mkdir(parents=True, exist_ok=True)
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                ident = f"{name}/{obj['Key']}"
                seen[ident] = {"etag": obj["ETag"], "modified": obj["LastModified"].isoformat()}
                target = snapshot / name / obj["Key"]
                if index.get(ident, {}).get("etag") != obj["ETag"] or not target.is_file():
                    downloads.append((name, obj["Key"], target))

    def fetch(item: tuple[str, str, Path]) -> None:
        bucket, key, target = item
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(fetch, downloads))
    for stale in set(index) - set(seen):
        (snapshot / stale).unlink(missing_ok=True)
    (snapshot / "index.json").write_text(json.dumps(seen, sort_keys=True))
    return len(downloads)


def _free_socket(preferred: int = 0) -> socket.socket:
    """A loopback socket on ``preferred`` when that port is free, else on any free port."""
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on connections whose
    # socket says TCP, and without it every answer (headers, then body) waited for the
    # client's delayed ACK: 48 ms for `select 1`, against about 2 ms with it
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", preferred))
    except OSError:  # taken since the last start
        sock.bind(("127.0.0.1", 0))
    return sock


def _httpfs_path() -> str:
    import duckdb
    import duckdb_extension_httpfs

    root = Path(duckdb_extension_httpfs.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    path = root / "httpfs.duckdb_extension"
    if not path.is_file():
        raise RuntimeError(f"DuckDB httpfs extension for duckdb {duckdb.__version__} not found at {path}")
    return str(path)


def serve(
    state_dir: Path,
    bucket: str,
    persist_s3: bool = True,
    idle_transaction_seconds: float = 300.0,
    landing_prefix: str = "landing/",
    glue_database: str = "",
) -> None:
    """Run both servers until SIGTERM or SIGINT."""
    import importlib

    import duckdb
    import uvicorn
    from fakesnow.instance import FakeSnow
    from moto.server import ThreadedMotoServer

    from lake.local import compat, strict
    from lake.local.unsupported import NOP_REGEXES

    state_dir.mkdir(parents=True, exist_ok=True)
    lock = (state_dir / "servers.lock").open("w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(f"another lake server already owns {state_dir}") from None

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    _, s3_port = moto.get_host_and_port()
    s3_endpoint = f"http://127.0.0.1:{s3_port}"
    client = s3_client(s3_endpoint)
    restored = restore_s3(client, state_dir / "s3") if persist_s3 else 0
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    if restored and glue_database:
        # moto keeps its Glue catalog in memory: catalogue the restored landing zone again
        from lake import catalog

        glue = boto3_client("glue", s3_endpoint)
        report = catalog.sync(glue, client, f"s3://{bucket}/{landing_prefix}", glue_database)
        log.info("Glue catalog %s: %d tables re-registered", glue_database, len(report.tables))

    warehouse = state_dir / "warehouse"
    warehouse.mkdir(exist_ok=True)
    instance = FakeSnow(db_path=warehouse, nop_regexes=NOP_REGEXES)
    compat.persist_global(instance, warehouse / "_fs_global.db")
    # every database of the account is visible to every session, as on Snowflake: attach
    # each database file now (fakesnow attaches one only when a session logs into it), so
    # `lake sql` reads the Native App's database (LAKE_APP) after a restart too
    for db_file in sorted(warehouse.glob("*.db")):
        if not db_file.stem.startswith("_fs"):
            instance.connect(database=db_file.stem.upper()).close()
    compat.apply(instance)
    compat.notifications.record.path = state_dir / compat.notifications.RECORD
    strict.apply(instance.duck_conn)
    instance.duck_conn.execute(f"LOAD '{_httpfs_path()}'")
    instance.duck_conn.execute(
        "CREATE OR REPLACE SECRET lake_moto (TYPE s3, KEY_ID ?, SECRET ?, ENDPOINT ?, URL_STYLE 'path', "
        "USE_SSL false, REGION ?)",
        [LOCAL_KEY_ID, LOCAL_SECRET, f"127.0.0.1:{s3_port}", S3_REGION],
    )
    # the package's `server` function shadows its `server` module as an attribute
    fakesnow_server: Any = importlib.import_module("fakesnow.server")
    fakesnow_server.shared_fs = instance

    port_file = state_dir / "snowflake.port"
    previous = port_file.read_text().strip() if port_file.exists() else ""
    sock = _free_socket(int(previous) if previous.isdigit() else 0)
    sf_port = sock.getsockname()[1]
    port_file.write_text(f"{sf_port}\n")
    server = uvicorn.Server(
        uvicorn.Config(compat.server_fixes(fakesnow_server.app), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fakesnow", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    if not server.started:
        raise SystemExit("the fakesnow server did not start; see servers.log")

    info = {
        "pid": os.getpid(),
        "s3_endpoint": s3_endpoint,
        "snowflake_host": "127.0.0.1",
        "snowflake_port": sf_port,
        "bucket": bucket,
        "duckdb": duckdb.__version__,
        "restored_objects": restored,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    tmp = state_dir / "servers.json.tmp"
    tmp.write_text(json.dumps(info, indent=2))
    tmp.replace(state_dir / "servers.json")
    log.info("serving: s3 %s, snowflake 127.0.0.1:%s", s3_endpoint, sf_port)

    while not stop.wait(1.0):
        compat.abort_idle_transactions(idle_transaction_seconds)
    log.info("stopping")
    (state_dir / "servers.json").unlink(missing_ok=True)
    server.should_exit = True
    thread.join(timeout=30)
    if persist_s3:
        saved = save_s3(client, state_dir / "s3")
        log.info("saved %d changed objects to %s", saved, state_dir / "s3")
    moto.stop()
    instance.duck_conn.close()
    if (state_dir / COMPACT_FLAG).exists():
        compacted = compact(warehouse)
        (state_dir / COMPACT_FLAG).unlink()
        log.info("compacted %s after an erasure: %s", warehouse, ", ".join(compacted))
    lock.close()


# written by `lake erase` on the local target: the next stop rewrites the database files
COMPACT_FLAG = "compact-after-erasure"


def compact(warehouse: Path) -> list[str]:
    """Rewrite every database file of the warehouse into a fresh one (DuckDB's COPY FROM
    DATABASE) and put it in the old one's place. DuckDB marks the blocks an UPDATE frees as
    free but leaves their bytes in the file until they are reused, so after an erasure the
    old values would stay readable in the file; the copy holds only what the tables hold.
    Runs when the servers stop, with no connection open."""
    import duckdb

    files = sorted(warehouse.glob("*.db"))
    for db_file in files:  # whatever a write-ahead log still holds goes into its file first
        duckdb.connect(str(db_file)).close()
    done = []
    for db_file in (f for f in files if not f.stem.startswith("_fs")):
        fresh = db_file.with_suffix(".compact")
        fresh.unlink(missing_ok=True)
        con = duckdb.connect()
        try:
            # every database under its own name, so a view naming another one still binds
            for other in files:
                con.execute(f"ATTACH '{other}' AS \"{other.stem}\" (READ_ONLY)")
            con.execute(f"ATTACH '{fresh}' AS compacted")
            con.execute(f'COPY FROM DATABASE "{db_file.stem}" TO compacted')
        finally:
            con.close()
        fresh.replace(db_file)
        done.append(db_file.name)
    return done


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lake.local.serve", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--bucket", default="lake-landing")
    parser.add_argument("--no-persist-s3", action="store_true", help="do not snapshot the buckets at stop")
    parser.add_argument("--landing-prefix", default="landing/")
    parser.add_argument("--glue-database", default="", help="re-catalogue the restored landing zone in this database")
    parser.add_argument(
        "--idle-transaction-seconds",
        type=float,
        default=300.0,
        help="roll back a session's open transaction after this long without a request (Snowflake: 5 min)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    serve(
        args.state_dir.resolve(),
        args.bucket,
        persist_s3=not args.no_persist_s3,
        idle_transaction_seconds=args.idle_transaction_seconds,
        landing_prefix=args.landing_prefix,
        glue_database=args.glue_database,
    )


if __name__ == "__main__":
    main()
