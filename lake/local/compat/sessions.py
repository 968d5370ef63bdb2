"""The server's sessions: a failure answered as a failed query (not HTTP 500), a login
answer with a master token, and the open transaction of an idle or orphaned session
rolled back, as Snowflake aborts a detached transaction.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from typing import Any

import duckdb

from lake.local.compat import state
from lake.local.stack import pid_alive


class _Activity:
    """Requests in flight and the time of the last one, per session token."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()


_activity: dict[str, _Activity] = {}


_activity_lock = threading.Lock()


# session token -> the process id its client gave at login (session parameter
# LAKE_CLIENT_PID, set by lake.session for the local target): the server and its clients
# share this machine, so a session whose client process is gone is known at once
CLIENT_PID_PARAMETER = "LAKE_CLIENT_PID"


_client_pids: dict[str, int] = {}


def client_pid(login_body: bytes) -> int | None:
    """The client's process id from a login request's body, if it gave one."""
    try:
        if login_body[:2] == b"\x1f\x8b":
            login_body = gzip.decompress(login_body)
        value = json.loads(login_body)["data"]["SESSION_PARAMETERS"].get(CLIENT_PID_PARAMETER)
        return int(value) if value is not None else None
    except (ValueError, KeyError, TypeError, OSError):
        return None


TOKEN_HEADER = re.compile(r'^Snowflake Token="(?P<token>[^"]+)"$')


def _session_token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization" and (match := TOKEN_HEADER.match(value.decode("latin-1"))):
            return match["token"]
    return None


def abort_idle_transactions(idle_seconds: float) -> int:
    """Roll back the open transaction of every session idle for over ``idle_seconds``, and
    at once that of a session whose client process has exited (a killed ``lake run``);
    returns how many were rolled back."""
    aborted = 0
    now = time.monotonic()
    with _activity_lock:  # a request for a session being checked waits for the check
        for token, activity in list(_activity.items()):
            conn = state.fakesnow_server.sessions.get(token)
            if conn is None:
                del _activity[token]
                _client_pids.pop(token, None)
                continue
            pid = _client_pids.get(token)
            orphaned = pid is not None and not pid_alive(pid)
            if activity.in_flight or (now - activity.last < idle_seconds and not orphaned):
                continue
            activity.last = now
            try:
                conn._duck_conn.execute("ROLLBACK")
            except duckdb.TransactionException:
                continue  # no transaction open
            conn._in_transaction = False
            aborted += 1
            if orphaned:
                _client_pids.pop(token, None)
                state.log.warning("rolled back the transaction of a session whose client (pid %s) has exited", pid)
            else:
                state.log.warning("rolled back the transaction of a session idle for over %.0f s", idle_seconds)
    return aborted


def server_fixes(app: Any) -> Any:
    """ASGI middleware around fakesnow's server app.

    * HTTP 500 (an unsupported statement, a bug) becomes the failed-query answer the
      connector reports as a ProgrammingError, instead of a transient error it retries.
    * The login answer gains a ``masterToken``: without one the connector's ``close()``
      fails before it marks itself closed, so Snowpark's exit hook later tries to cancel
      queries on a server that is gone, and retries for ever.
    """

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        login = scope["path"] == "/session/v1/login-request"
        held: dict[str, Any] = {}
        body = bytearray()

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message.get("type") == "http.request":
                body.extend(message.get("body", b""))
            return message

        token = _session_token(scope)
        activity = None
        if token is not None:
            with _activity_lock:
                activity = _activity.setdefault(token, _Activity())
                activity.in_flight += 1

        async def patched_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if message["status"] >= 500:
                    message = {**message, "status": 200}
                if login:
                    held["start"] = message
                    return
            elif login and message["type"] == "http.response.body":
                answer = json.loads(message.get("body", b"{}") or b"{}")
                if isinstance(answer.get("data"), dict) and "token" in answer["data"]:
                    answer["data"].setdefault("masterToken", answer["data"]["token"])
                    if (pid := client_pid(bytes(body))) is not None:
                        _client_pids[answer["data"]["token"]] = pid
                payload = json.dumps(answer).encode()
                start = held["start"]
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(payload)).encode()))
                await send({**start, "headers": headers})
                message = {**message, "body": payload, "more_body": False}
            await send(message)

        try:
            await app(scope, recording_receive if login else receive, patched_send)
        finally:
            if activity is not None:
                with _activity_lock:
                    activity.in_flight -= 1
                    activity.last = time.monotonic()

    return wrapped
