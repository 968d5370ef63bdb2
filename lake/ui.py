"""`lake ui`: the Native App's Streamlit dashboard, served locally on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lake.config import Settings
from procedures.errors import UserError

DASHBOARD = Path(__file__).resolve().parent.parent / "native_app" / "streamlit" / "dashboard.py"


def environment(settings: Settings) -> dict[str, str]:
    """What the dashboard reads: local mode, and the schema names of this configuration."""
    env = {
        "LAKE_UI_LOCAL": "1",
        "LAKE_TARGET": settings.target,
        "LAKE_STATE_DIR": str(settings.local.state_dir),
        "LAKE_DATABASE": settings.names.database,  # the lake's, or a locally installed app's
    }
    for layer in ("audit", "vault", "quality", "gold"):
        env[f"LAKE_UI_{layer.upper()}_SCHEMA"] = settings.names.schemas[layer]
    return env


def command(port: int) -> list[str]:
    """streamlit run, headless, on loopback only, with no usage statistics sent anywhere."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
        "--client.toolbarMode=viewer",
    ]


class BrowserError(UserError, RuntimeError):
    """The dashboard could not be served, or the headless browser could not capture it."""


@contextmanager
def served(settings: Settings, port: int, timeout: float = 60.0) -> Iterator[str]:
    """The dashboard served on 127.0.0.1:``port`` for the length of the block; yields its URL."""
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen(
        command(port), env={**os.environ, **environment(settings)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as response:  # loopback only
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                errors = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
                raise BrowserError(f"the dashboard did not come up on {url}: {errors}")
            time.sleep(0.3)
        yield url
    finally:
        _stop(process)


BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--no-first-run",
    "--hide-scrollbars",
    # loopback only: none of Chromium's own calls home
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def capture(url: str, out: Path, ready: str, timeout: float = 90.0, size: tuple[int, int] = (1400, 1000)) -> str:
    """Open ``url`` in headless Chromium (Debian's ``chromium``), wait until the page's text
    contains ``ready`` (the dashboard has rendered its data), write a PNG screenshot to
    ``out`` and return the page's text. Driven over the DevTools protocol on loopback.
    Raises BrowserError if the page shows an exception or ``ready`` never appears."""
    import base64
    import json
    import re
    import shutil
    import tempfile

    from websockets.sync.client import connect

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise BrowserError("chromium is not installed (Debian: apt-get install chromium; `make browser`)")
    # chromium's helpers (zygote, renderers, crashpad) write to the profile until they
    # exit: the browser runs in its own process group, which _stop ends as a whole
    with tempfile.TemporaryDirectory(prefix="lake-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [binary, *BROWSER_FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert process.stderr is not None
            endpoint = ""
            deadline = time.monotonic() + 30
            while not endpoint and time.monotonic() < deadline:
                line = process.stderr.readline()
                if not line and process.poll() is not None:
                    break
                if found := re.search(r"DevTools listening on (ws://\S+)", line):
                    endpoint = found.group(1)
            if not endpoint:
                raise BrowserError(f"chromium did not start its DevTools endpoint (exit {process.poll()})")
            port = endpoint.split("/")[2]
            page = next(t for t in _json(f"http://{port}/json/list") if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=64 * 2**20) as ws:
                counter = iter(range(1, 1_000_000))

                def call(method: str, **params: object) -> dict[str, object]:
                    ident = next(counter)
                    ws.send(json.dumps({"id": ident, "method": method, "params": params}))
                    while True:
                        message = json.loads(ws.recv(timeout=timeout))
                        if message.get("id") == ident:
                            if "error" in message:
                                raise BrowserError(f"{method}: {message['error']}")
                            return dict(message.get("result", {}))

                call("Page.enable")
                call(
                    "Emulation.setDeviceMetricsOverride",
                    width=size[0],
                    height=size[1],
                    deviceScaleFactor=1,
                    mobile=False,
                )
                call("Page.navigate", url=url)
                text = ""
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    result = call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
                    text = str(dict(result["result"]).get("value", ""))  # type: ignore[call-overload]
                    if "Traceback" in text or "StreamlitAPIException" in text:
                        raise BrowserError(f"the dashboard shows an error:\n{text[:2000]}")
                    if ready in text and "Running..." not in text:
                        break
                    time.sleep(0.5)
                else:
                    raise BrowserError(
                        f"{ready!r} did not appear within {timeout:.0f}s; the page shows:\n{text[:2000]}"
                    )
                time.sleep(1.0)  # let the charts finish drawing
                shot = call("Page.captureScreenshot", format="png")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(base64.b64decode(str(shot["data"])))
                return text
        finally:
            _stop(process, group=True)


def _stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], group: bool = False) -> None:
    """Terminate a child (the dashboard server, the browser); kill it after 10 s. With
    ``group`` (a child started in its own session) its whole process group goes too,
    including helpers still running after the child itself has exited."""
    if group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    else:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers that outlived the browser


def _json(url: str) -> list[dict[str, str]]:
    """GET a JSON list from the local DevTools endpoint."""
    import json

    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return list(json.load(response))
