"""The report page in a real headless Chromium: no console error, no request leaving the report
folder, every image decoded, every interactive figure drawn; a screenshot of the first screen is
kept under the test's tmp dir.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port,
no extra package). ``scripts/install_system_deps.sh`` installs it; the test is skipped only
where no Chromium binary can be found.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from emofx.analysis.config import AnalysisParams
from tests.analysis_stores import analyse, write_stores

pytestmark = pytest.mark.slow
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
PARAMS = AnalysisParams(n_bootstrap=100, projection={"method": "tsne", "max_tracks": 10})
VIEWPORT = {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False}
LOCAL = ("file://", "data:", "about:", "blob:")


class DevTools:
    """A Chromium started with ``--remote-debugging-pipe``: commands out on fd 3, replies and
    events in on fd 4, one JSON message per NUL-terminated frame."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_child, self._out = os.pipe()
        self._in, from_child = os.pipe()
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--no-first-run", f"--user-data-dir={profile}", "about:blank"]  # fmt: skip
        # bash (dash takes single-digit fds only) puts the pipe ends on fds 3 and 4, where
        # Chromium expects them
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_child} 4>&{from_child}', "bash", *args],
            pass_fds=(to_child, from_child),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer, self._next_id = b"", 0
        self.events: list[dict] = []

    def _read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no message from Chromium")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        frame, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(frame)

    def send(self, method: str, session: str | None = None, timeout: float = 60, **params):
        """Send a command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        while True:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                self.events.remove(found)
                return found
            self.events.append(self._read(timeout))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self._out)
        os.close(self._in)


def open_page(tools: DevTools, url: str) -> str:
    """A new tab at ``url`` with console, log and network events on, once loaded; its session."""
    target = tools.send("Target.createTarget", url="about:blank")["targetId"]
    session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        tools.send(f"{domain}.enable", session)
    tools.send("Emulation.setDeviceMetricsOverride", session, **VIEWPORT)
    tools.send("Page.navigate", session, url=url)
    tools.wait_for("Page.loadEventFired")
    return session


def evaluate(tools: DevTools, session: str, expression: str):
    result = tools.send(
        "Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True
    )
    return result["result"].get("value")


def problems(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions, error log entries, requests leaving the folder."""
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            out.append(f"console: {[a.get('value') for a in params['args']]}")
        elif method == "Runtime.exceptionThrown":
            out.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            if not params["request"]["url"].startswith(LOCAL):
                out.append(f"external request: {params['request']['url']}")
        elif method == "Network.loadingFailed":
            out.append(f"failed to load: {params.get('errorText')}")
    return out


def _report(root: Path, tasks: tuple[str, ...], n_tracks: int) -> Path:
    paths = write_stores(
        root, n_tracks=n_tracks, tasks=tasks, effects={"reverb": [3, 8], "gain": [8]},
        chains=("heavy",), encoders={"enc_a": [("head", 6)]},
    )  # fmt: skip
    analyse(paths, root / "reports", PARAMS, 2, ["enc_a"])
    return root / "reports"


@pytest.fixture
def chromium(tmp_path):
    if CHROMIUM is None:
        pytest.skip("no chromium binary (scripts/install_system_deps.sh installs it)")
    tools = DevTools(CHROMIUM, tmp_path / "profile")
    yield tools
    tools.close()


@pytest.mark.parametrize(
    ("tasks", "n_tracks", "small"),
    [(("regression",), 80, False), (("multilabel",), 40, True)],
    ids=["valence-arousal", "gems-labels-only"],
)
def test_the_report_renders_offline_without_errors(chromium, tmp_path, tasks, n_tracks, small):
    out = _report(tmp_path / "run", tasks, n_tracks)
    session = open_page(chromium, (out / "index.html").as_uri())
    images = evaluate(
        chromium, session,
        "Promise.all(Array.from(document.images).map(i => i.decode().then(() => 1, () => 0)))"
        ".then(() => Array.from(document.images)"
        ".map(i => [i.getAttribute('src'), i.naturalWidth]))",
    )  # fmt: skip
    assert images and all(width > 0 for _, width in images), images
    assert {src for src, _ in images} >= {"figures/headline_scores.png",
                                          "figures/headline_shifts.png"}  # fmt: skip
    text = evaluate(chromium, session, "document.body.innerText")
    assert ("fewer than 30" in text) == small
    shot = chromium.send("Page.captureScreenshot", session, format="png")["data"]
    (tmp_path / "first_screen.png").write_bytes(base64.b64decode(shot))
    first = evaluate(chromium, session, "document.images[0].getBoundingClientRect().top")
    assert first < VIEWPORT["height"]  # the first headline figure starts on the first screen
    figure = open_page(chromium, (out / "figures" / "headline_shifts.html").as_uri())
    drawn = evaluate(chromium, figure, "typeof Plotly + ':' + document.querySelectorAll("
                     "'.plot-container .main-svg').length")  # fmt: skip
    assert drawn.startswith("object:") and int(drawn.split(":")[1]) > 0
    assert problems(chromium.events) == []
