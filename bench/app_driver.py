"""What the browser benchmarks share: the app on a loopback port, Chromium's settings, and the
in-page probes that say when a page has settled.

Used by :mod:`bench.browser_latency` (one user, every lab) and :mod:`bench.load` (several
users while one trains).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from google.protobuf.message import DecodeError
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
HEALTH_TIMEOUT_S = 90
STATUS_FRAME_MAX_BYTES = 256

# Runs in every document before its own scripts: the time of the last DOM change (or
# picture loaded) in the app and of the last input event, in milliseconds since the epoch
# (comparable across pages). Changes outside the app's root do not count: the hidden live
# region that announces a selection to screen readers is cleared about a second later.
INIT_SCRIPT = """(() => {
    const now = () => performance.timeOrigin + performance.now();
    const bench = (window.__bench = { lastMutation: now(), lastInput: 0 });
    const inApp = record => {
        const node = record.target.nodeType === Node.ELEMENT_NODE
            ? record.target : record.target.parentElement;
        return node?.closest('[data-testid="stApp"]') != null;
    };
    new MutationObserver(records => {
        if (records.some(inApp)) bench.lastMutation = now();
    }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
    for (const type of ["keydown", "mouseup"]) {
        window.addEventListener(type, () => { bench.lastInput = now(); }, true);
    }
    // A picture that has loaded changed what the user sees, without a DOM change.
    document.addEventListener("load", event => {
        if (event.target.tagName === "IMG" && inApp(event)) bench.lastMutation = now();
    }, true);
})();"""

# The page's state for the settle check: ``busy`` names what is still going on ("" when
# nothing is), ``failed`` holds the text of an exception the app shows (else null).
PAGE_STATE = """() => {
    const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
    return {
        now: performance.timeOrigin + performance.now(),
        timeOrigin: performance.timeOrigin,
        lastMutation: window.__bench.lastMutation,
        lastInput: window.__bench.lastInput,
        busy: document.querySelector('[data-testid="stStatusWidgetRunningIcon"]')
            ? "the running indicator"
            : document.querySelector('[data-stale="true"]') ? "stale elements"
            : charts.some(chart => chart.checkVisibility() && !chart.querySelector(".main-svg"))
            ? "charts to be drawn"
            : [...document.querySelectorAll('[data-testid="stImage"] img')]
                .some(img => img.checkVisibility() && !img.complete)
            ? "pictures to load" : "",
        failed: document.querySelector('[data-testid="stException"]')?.innerText.slice(0, 500),
    };
}"""

# The Inspect page's answer: the softmax chart's title and bar labels (null when absent).
PREDICTION = """() => {
    const chart = [...document.querySelectorAll('.js-plotly-plot')]
        .find(plot => plot.querySelector('.gtitle')?.textContent.includes('Softmax'));
    return chart ? [chart.querySelector('.gtitle').textContent,
                    ...[...chart.querySelectorAll('.bartext')].map(bar => bar.textContent)]
                 : null;
}"""


def run_status(data: bytes) -> bool | None:
    """``script_is_running`` of a session_status_changed message; None for other frames."""
    if len(data) > STATUS_FRAME_MAX_BYTES:
        return None
    try:
        message = ForwardMsg.FromString(data)
    except DecodeError:
        return None
    if message.WhichOneof("type") != "session_status_changed":
        return None
    return message.session_status_changed.script_is_running


def percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile: the smallest value with ``percent`` % of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, log_path: Path) -> None:
    """Poll ``/_stcore/health`` until it answers; fail if the server exits or is too slow."""
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            raise SystemExit(f"the Streamlit server exited; the end of its log:\n{log}")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return
        time.sleep(0.5)
    raise SystemExit(f"the Streamlit server did not answer within {HEALTH_TIMEOUT_S} s")


@contextlib.contextmanager
def streamlit_server(
    folder: Path,
    app_root: Path = ROOT,
    environment: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``app_root``'s app on loopback ``port`` (a free one if None; a caller names it when
    something must know the address first, such as a sign-in redirect) until the block ends;
    yield its URL and process. Runs live in ``folder / "runs"``, beside the server's log;
    ``environment`` adds variables."""
    port = port or free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    command += ["--browser.gatherUsageStats", "false"]
    variables = {**os.environ, "CNN_EXPLORER_RUNS": str(folder / "runs"), **(environment or {})}
    log_path = folder / "streamlit.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=app_root, env=variables, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(url, process, log_path)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
