"""Start, find and stop the local servers (see ``lake.local.serve``)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lake.config import GLUE_DATABASE, LocalTarget
from lake.local.serve import LOCAL_KEY_ID, LOCAL_SECRET, S3_REGION
from procedures.errors import UserError


class StackError(UserError, RuntimeError):
    """The local servers could not be started, found or stopped."""


class Busy(StackError):
    """Another lake command is running on the same state folder."""


LOCK_FILE = "command.lock"


def lock_holder(state_dir: Path) -> dict[str, object] | None:
    """The command holding ``state_dir``'s command lock ({"pid", "command", "started_at"}),
    or None when none does."""
    path = state_dir / LOCK_FILE
    if not path.is_file():
        return None
    with path.open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            try:
                return dict(json.loads(f.read() or "{}"))
            except json.JSONDecodeError:
                return {}
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


def describe(holder: dict[str, object]) -> str:
    command = holder.get("command") or "another lake command"
    return f"`{command}` (pid {holder.get('pid', '?')}, started {holder.get('started_at', '?')})"


@contextmanager
def command_lock(state_dir: Path, command: str) -> Iterator[None]:
    """One lake command at a time on a state folder: two would share (and one stop) the
    same servers, and write the same warehouse file. The lock is ``flock`` on
    ``<state>/command.lock``, freed by the kernel when the process ends however it ends;
    the file names the holder for the next command's message."""
    state_dir.mkdir(parents=True, exist_ok=True)
    f = (state_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        try:
            holder = dict(json.loads(f.read() or "{}"))
        except json.JSONDecodeError:
            holder = {}
        f.close()
        raise Busy(
            f"{describe(holder)} is running on the state folder {state_dir}: one command at a time; wait for it "
            "to end, or stop it (Ctrl-C where it runs, or `lake down --force`)"
        ) from None
    try:
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "command": command, "started_at": time.strftime("%H:%M:%S")}))
        f.flush()
        yield
    finally:
        f.seek(0)
        f.truncate()
        fcntl.flock(f, fcntl.LOCK_UN)
        f.close()


def interrupt(state_dir: Path, timeout: float = 120.0) -> dict[str, object] | None:
    """Stop the command holding ``state_dir``'s lock as Ctrl-C would (SIGINT: it ends
    "interrupted", stopping what it started), then SIGTERM if it has not let go within
    ``timeout`` seconds. Returns the holder, or None when none ran."""
    holder = lock_holder(state_dir)
    if holder is None:
        return None
    pid = int(str(holder.get("pid") or 0))
    if pid <= 0 or pid == os.getpid():
        raise Busy(f"cannot interrupt {describe(holder)}: its pid is unknown; stop it where it runs")
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 30.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return holder
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if lock_holder(state_dir) is None:
                return holder
            time.sleep(0.1)
    raise Busy(f"{describe(holder)} did not stop after SIGINT and SIGTERM; stop it where it runs")


@dataclass(frozen=True)
class Endpoints:
    pid: int
    s3_endpoint: str
    snowflake_host: str
    snowflake_port: int
    bucket: str

    def aws_env(self) -> dict[str, str]:
        """What boto3 (and anything else speaking S3) needs to reach the moto server."""
        return {
            "AWS_ENDPOINT_URL_S3": self.s3_endpoint,
            "AWS_ACCESS_KEY_ID": LOCAL_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET,
            "AWS_DEFAULT_REGION": S3_REGION,
        }


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie child of ours is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); reap it if it is ours
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class LocalStack:
    """The servers behind one state folder."""

    def __init__(self, local: LocalTarget, glue_database: str = GLUE_DATABASE) -> None:
        self.local = local
        self.state_dir = local.state_dir.resolve()
        # the server catalogues the landing zone it restores in this Glue database
        self.glue_database = glue_database

    @property
    def info_file(self) -> Path:
        return self.state_dir / "servers.json"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "servers.log"

    def running(self) -> Endpoints | None:
        """The endpoints of servers that are up, or None."""
        try:
            info = json.loads(self.info_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        if not pid_alive(int(info["pid"])):
            self.info_file.unlink(missing_ok=True)
            return None
        return Endpoints(
            pid=int(info["pid"]),
            s3_endpoint=info["s3_endpoint"],
            snowflake_host=info["snowflake_host"],
            snowflake_port=int(info["snowflake_port"]),
            bucket=info["bucket"],
        )

    def start(self, timeout: float = 120, persist_s3: bool = True) -> Endpoints:
        """Start the servers in a background process and wait until both answer."""
        if found := self.running():
            return found
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "lake.local.serve", "--state-dir", str(self.state_dir)]
        cmd += ["--bucket", self.local.bucket]
        cmd += ["--idle-transaction-seconds", str(self.local.idle_transaction_seconds)]
        cmd += ["--landing-prefix", self.local.landing_prefix]
        if self.glue_database:
            cmd += ["--glue-database", self.glue_database]
        if not persist_s3:
            cmd.append("--no-persist-s3")
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if (found := self.running()) and found.pid == proc.pid:
                    return found
                if proc.poll() is not None:
                    raise StackError(
                        f"the local servers did not start: {self.failure_cause()} (exit code {proc.returncode}; "
                        f"whole log: {self.log_file})"
                    )
                time.sleep(0.05)
        except BaseException:  # Ctrl-C while they start: stop what was started, then let it through
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
            raise
        proc.terminate()
        raise StackError(f"the local servers did not start within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 300) -> bool:
        """Stop the servers (they save the S3 snapshot first). False if none were running."""
        found = self.running()
        if not found:
            return False
        os.kill(found.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(found.pid):
            if time.monotonic() > deadline:
                os.kill(found.pid, signal.SIGKILL)
                raise StackError(f"the local servers (pid {found.pid}) did not stop within {timeout:.0f}s; killed")
            time.sleep(0.05)
        return True

    def failure_cause(self) -> str:
        """The line of the servers' log that says why they stopped (the exception of the
        last traceback, e.g. "OSError: [Errno 28] No space left on device")."""
        lines = [line.strip() for line in self.log_tail(200).splitlines() if line.strip()]
        for line in reversed(lines):
            if (
                re.match(r"^[\w.]*(Error|Exception|Exit)\b.*:", line)
                or "No space left" in line
                or "already owns" in line
            ):
                return line
        return lines[-1] if lines else "no log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @contextmanager
    def ensure(self, persist_s3: bool = True) -> Iterator[Endpoints]:
        """Use the running servers, or start them for the length of the block.

        Also points this process's boto3 at the local S3, as the stored procedures'
        handlers use boto3's default chain.
        """
        found = self.running()
        endpoints = found or self.start(persist_s3=persist_s3)
        saved = {k: os.environ.get(k) for k in endpoints.aws_env()}
        os.environ.update(endpoints.aws_env())
        try:
            yield endpoints
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            if not found:
                self.stop()
