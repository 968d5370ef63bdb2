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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Capture:
    text: str  # the page's text
    charts: int  # chart elements on the page
    drawn: int  # of which drawn (a canvas or svg of real size inside)


# What the page is doing: Streamlit's script state ("running" until the script ends, then
# "notRunning"), the page's text, and how many of its Vega-Lite charts have been drawn.
PAGE_STATE = """(() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')];
  const drawn = charts.filter(c => [...c.querySelectorAll('canvas, svg')].some(e => {
    const box = e.getBoundingClientRect(); return box.width > 50 && box.height > 50; })).length;
  return JSON.stringify({state: app ? app.getAttribute('data-test-script-state') : null,
                         text: document.body ? document.body.innerText : '', charts: charts.length, drawn});
})()"""


def capture(url: str, out: Path, ready: str, timeout: float = 90.0, size: tuple[int, int] = (1400, 1000)) -> Capture:
    """Open ``url`` in headless Chromium (Debian's ``chromium``), wait until the dashboard
    has finished running and drawn every chart (``ready`` in its text, Streamlit's script
    state ``notRunning``, each chart holding a drawn canvas, and the page unchanged for
    three polls), then write a PNG screenshot to ``out``. Driven over the DevTools protocol
    on loopback. Raises BrowserError if the page shows an exception or never settles."""
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
                page_state = {}
                previous = None
                stable = 0
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    result = call("Runtime.evaluate", expression=PAGE_STATE)
                    page_state = json.loads(str(dict(result["result"]).get("value") or "{}"))  # type: ignore[call-overload]
                    text = str(page_state.get("text", ""))
                    if "Traceback" in text or "StreamlitAPIException" in text:
                        raise BrowserError(f"the dashboard shows an error:\n{text[:2000]}")
                    settled = (
                        ready in text
                        and page_state.get("state") == "notRunning"
                        and page_state.get("charts", 0) > 0
                        and page_state.get("drawn") == page_state.get("charts")
                    )
                    now = (page_state.get("charts"), page_state.get("drawn"), len(text))
                    stable = stable + 1 if settled and now == previous else 0
                    previous = now
                    if stable >= 2:  # the same drawn page three polls running: nothing left to render
                        break
                    time.sleep(0.5)
                else:
                    raise BrowserError(
                        f"the dashboard did not finish rendering within {timeout:.0f}s (script "
                        f"{page_state.get('state')}, {page_state.get('drawn')} of {page_state.get('charts')} charts "
                        f"drawn); the page shows:\n{str(page_state.get('text', ''))[:2000]}"
                    )
                shot = call("Page.captureScreenshot", format="png")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(base64.b64decode(str(shot["data"])))
                return Capture(str(page_state["text"]), int(page_state["charts"]), int(page_state["drawn"]))
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
