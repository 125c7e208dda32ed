"""Benchmark: what a user waits for in the browser, end to end, lab by lab.

Starts the app on a free loopback port (with an empty temporary runs folder and,
for the Inspect page, a freshly trained MNIST model published as a class model),
opens ``/`` once (app.py runs and starts its warm-up), waits until the server has
answered its health check ``--warm-seconds`` ago, then drives headless Debian
Chromium through Playwright (viewport 1440×900):

* first visit: each lab is opened once at its URL in a new session; the figure
  is the last DOM change of the page minus the navigation start;
* control changes: each lab's main controls are moved back and forth
  (``--steps`` in all: one key press on a focused slider, or one click on a
  radio or select option) and every change is measured from the input event
  (``keydown``/``mouseup``) to the last DOM change of the page;
* Inspect: with image source "Draw", digit-like strokes are drawn on the canvas
  with the mouse; measured from pen-up (``mouseup``) to the moment the
  probabilities shown change, and to the last DOM change of the page.

A page counts as settled once the server has reported that its script run has
ended (a ``session_status_changed`` message on the websocket), no Streamlit
running indicator or stale element is left, every visible Plotly chart has
been drawn, and the app's DOM has not changed for ``--quiet-ms``. The last DOM
change inside the app's root is recorded in the page by a MutationObserver
(``performance.timeOrigin + performance.now()``, the same clock as the input
events). After each settled
change the benchmark pauses for a second, like a user looking at the result;
a DOM or websocket change in that pause is reported as "late" (settled too
early).

Bytes are the payload sizes of the websocket frames the server sent between the
input and the settled page (Streamlit's protobuf messages; files fetched over
HTTP are not included; a message the browser already holds is sent as a short
reference, so returning to an earlier value can cost few bytes). "Server" is
the time from the first to the last of those frames as they reached this
process: about the script run time, plus sending, not a server-side measurement.

Usage (from the repository root): python -m bench.browser_latency
    [--labs convolution,inspect] [--steps 20] [--strokes 6] [--warm-seconds 30]
    [--quiet-ms 300] [--json PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from bench.app_driver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    INIT_SCRIPT,
    PAGE_STATE,
    PREDICTION,
    VIEWPORT,
    percentile,
    run_status,
    streamlit_server,
)

LABS = (
    "image_as_numbers",
    "convolution",
    "activation_pooling",
    "frequency",
    "train",
    "learning",
    "inspect",
)
SETTLE_TIMEOUT_S = 300
LOCATOR_TIMEOUT_MS = 60_000
POLL_MS = 50
PAUSE_MS = 1000
OPEN_TRIES, OPEN_WAIT_MS = 3, 5000
CLASS_MODELS = "class-models"
MEDIA_PATH = "/media/"
"""Where Streamlit serves the PNGs of ``st.image`` (its fonts are under ``/static/media/``)."""
MODEL_RUN = "bench-mnist-5k"

PREDICTION_CHANGED = f"""before => {{
    const now = ({PREDICTION})();
    return now !== null && JSON.stringify(now) !== JSON.stringify(before)
        && performance.timeOrigin + performance.now();
}}"""


@dataclass(frozen=True)
class Step:
    """One user input: a key on a focused slider, or a click on a radio or select option."""

    kind: str  # "slider", "radio" or "select"
    label: str  # the control's accessible label
    value: str  # the key (slider) or the option's text

    def __str__(self) -> str:
        return f"{self.label}: {self.value}"


def slider(label: str, reach: int) -> list[Step]:
    """``reach`` steps to the right, then as many back to the start."""
    return [Step("slider", label, "ArrowRight")] * reach + [
        Step("slider", label, "ArrowLeft")
    ] * reach


def options(kind: str, label: str, *values: str) -> list[Step]:
    """Pick each option in turn; end on the control's default to come back to the start."""
    return [Step(kind, label, value) for value in values]


CONTROLS: dict[str, list[Step]] = {
    "image_as_numbers": [
        *slider("Working size (longest side, px)", 2),
        *options("radio", "Colour", "RGB (H×W×3)", "Grayscale (H×W×1)"),
        *options(
            "radio", "Transform", "rescale to 0–1", "standardise (mean 0, std 1)", "raw 0–255"
        ),
        *slider("Patch size", 2),
    ],
    "convolution": [
        *slider("Kernel size k", 2),
        *slider("Stride s", 1),
        *slider("Filter count F", 2),
    ],
    "activation_pooling": [
        *options("select", "Activation", "leaky ReLU", "sigmoid", "tanh", "none (linear)", "ReLU"),
        *slider("Pool window", 2),
        *options("radio", "Pooling", "average", "max"),
    ],
    "frequency": [
        *slider("Cutoff (fraction of Nyquist)", 3),
        *options("radio", "Filter", "high-pass", "band-pass", "low-pass"),
        *options("select", "Kernel", "sobel y", "laplacian", "gaussian blur", "sobel x"),
    ],
    "learning": [
        *slider("Image of the batch to look at", 2),
        *options("radio", "Section", "2 · One step", "3 · Learning rate", "1 · Targets & losses"),
    ],
    "train": [
        *slider("Epochs", 2),
        *slider("Batch size", 1),
        *slider("Label smoothing", 1),
        *options("select", "Optimizer", "sgd", "momentum", "adamw", "adam"),
    ],
}

# Digit-like drawings for the Inspect page, one list of strokes each; each stroke is a
# list of points as fractions of the canvas. The canvas is cleared before each digit.
CIRCLE = [
    (0.5 + 0.28 * math.cos(a * math.pi / 12), 0.5 + 0.33 * math.sin(a * math.pi / 12))
    for a in range(25)
]
DIGITS = [
    [[(0.25, 0.2), (0.75, 0.2)], [(0.75, 0.2), (0.45, 0.85)]],  # 7
    [[(0.35, 0.15), (0.28, 0.55), (0.72, 0.55)], [(0.6, 0.3), (0.6, 0.88)]],  # 4
    [CIRCLE],  # 0
    [[(0.5, 0.12 + 0.075 * step) for step in range(11)]],  # 1
]


@dataclass
class Change:
    """What one input (or one page visit) cost the user.

    ``settled_ms`` runs from the input event (a visit: the navigation start) to the
    page's last DOM change; ``prediction_ms`` (Inspect) to the new probabilities.
    ``late_ms`` is set when the DOM changed again during the pause after "settled":
    then the time of that later change from the input.
    """

    action: str
    settled_ms: float
    ws_bytes: int
    ws_frames: int
    server_ms: float
    picture_bytes: int = 0
    prediction_ms: float | None = None
    late_ms: float | None = None
    late_bytes: int = 0


@dataclass
class LabResult:
    """A lab's first visit and its measured changes."""

    lab: str
    first_visit: Change
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Frame:
    """A websocket frame from the server: when it reached this process, and its size."""

    at: float  # time.perf_counter() seconds
    size: int
    running: bool | None  # a session_status_changed frame: is a script run going on


class SocketLog:
    """Every websocket frame the page receives, from all its connections, and every
    picture it fetches from the server's media endpoint (``st.image``)."""

    def __init__(self, page: Page) -> None:
        self.frames: list[Frame] = []
        self.pictures: list[Frame] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._received))
        page.on("response", self._response)

    def _received(self, payload: bytes | str) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.frames.append(Frame(time.perf_counter(), len(data), run_status(data)))

    def _response(self, response) -> None:
        if urllib.parse.urlparse(response.url).path.startswith(MEDIA_PATH):
            size = int(response.headers.get("content-length", 0))
            self.pictures.append(Frame(time.perf_counter(), size, None))

    def between(self, start: float, end: float) -> list[Frame]:
        return [frame for frame in self.frames if start <= frame.at <= end]

    def pictures_between(self, start: float, end: float) -> list[Frame]:
        return [picture for picture in self.pictures if start <= picture.at <= end]

    def server_idle_since(self, mark: float) -> bool:
        """True once a script run has ended after ``mark`` and no other one has started."""
        statuses = [frame.running for frame in self.frames if frame.at >= mark]
        statuses = [running for running in statuses if running is not None]
        return bool(statuses) and not statuses[-1]


class Browser:
    """One Chromium tab on the app, with its websocket log and the settle logic."""

    def __init__(self, page: Page, url: str, quiet_ms: int) -> None:
        self.page, self.url, self.quiet_ms = page, url, quiet_ms
        self.log = SocketLog(page)

    def state(self) -> dict:
        return self.page.evaluate(PAGE_STATE)

    def wait_settled(self, mark: float) -> tuple[dict, float]:
        """Wait until the page has settled after ``mark``; return its state and the time."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        waiting_for = "the end of a script run on the server"
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(POLL_MS)  # also lets Playwright deliver the frames
            if not self.log.server_idle_since(mark):
                waiting_for = "the end of a script run on the server"
                continue
            state = self.state()
            if state["failed"]:
                raise RuntimeError(
                    f"the app shows an exception on {self.page.url}:\n{state['failed']}"
                )
            if state["busy"]:
                waiting_for = state["busy"]
            elif state["now"] - state["lastMutation"] < self.quiet_ms:
                waiting_for = f"{self.quiet_ms} ms without DOM changes"
            else:
                return state, time.perf_counter()
        raise TimeoutError(
            f"{self.page.url} did not settle within {SETTLE_TIMEOUT_S} s: "
            f"still waiting for {waiting_for}"
        )

    def measure(self, action: str, act: Callable[[], None], since_input: bool = True) -> Change:
        """Do ``act`` (an input, or a navigation when not ``since_input``) and measure it."""
        before = self.state()["lastInput"] if since_input else None
        mark = time.perf_counter()
        act()
        state, settled_at = self.wait_settled(mark)
        if since_input and state["lastInput"] <= before:
            raise RuntimeError(f"no input event was seen for {action!r}")
        start = state["lastInput"] if since_input else state["timeOrigin"]
        frames = self.log.between(mark, settled_at)
        change = Change(
            action,
            settled_ms=state["lastMutation"] - start,
            ws_bytes=sum(frame.size for frame in frames),
            ws_frames=len(frames),
            server_ms=1000 * (frames[-1].at - frames[0].at),
            picture_bytes=sum(p.size for p in self.log.pictures_between(mark, settled_at)),
        )
        self.check_late(change, state, settled_at, start)
        return change

    def check_late(self, change: Change, settled: dict, settled_at: float, start: float) -> None:
        """Pause like a user; note any DOM or websocket change that came after "settled"."""
        self.page.wait_for_timeout(PAUSE_MS)
        later = self.state()["lastMutation"]
        if later > settled["lastMutation"]:
            change.late_ms = later - start
        change.late_bytes = sum(f.size for f in self.log.between(settled_at, time.perf_counter()))

    def visit(self, path: str) -> Change:
        """Open ``/path`` in a new session and measure it from the navigation start."""
        url = f"{self.url}/{path}"
        return self.measure(
            f"open /{path}", lambda: self.page.goto(url, wait_until="commit"), since_input=False
        )


def labelled(page: Page, role: str, label: str) -> Locator:
    """The control of ``role`` whose ``aria-label`` is exactly ``label``.

    Streamlit's sliders also name themselves by their label element, so their
    accessible name repeats the label; the attribute is the exact one.
    """
    return page.get_by_role(role).and_(
        page.locator(f"[aria-label={json.dumps(label, ensure_ascii=False)}]")
    )


def input_action(page: Page, step: Step) -> Callable[[], None]:
    """Get ``step``'s control ready (focus, open the list) and return the timed input."""
    if step.kind == "slider":
        thumb = labelled(page, "slider", step.label)
        thumb.focus()
        return lambda: thumb.press(step.value)
    if step.kind == "radio":
        group = page.get_by_role("radiogroup", name=step.label, exact=True)
        option = group.get_by_text(step.value, exact=True)
        option.scroll_into_view_if_needed()
        return option.click
    option = page.get_by_role("option", name=step.value, exact=True)
    combobox = labelled(page, "combobox", step.label)

    def open_list() -> bool:
        """Open the list; a key press that lands while the page redraws can be lost."""
        for _ in range(OPEN_TRIES):
            combobox.press("ArrowDown")  # opens the list anywhere
            try:
                option.wait_for(timeout=OPEN_WAIT_MS)
                return True
            except PlaywrightTimeoutError:
                page.keyboard.press("Escape")
        return False

    def choose() -> None:
        """Click the option; if a redraw closed the list first, open it again and retry
        (the change is timed from the last input event, the click that lands)."""
        for _ in range(OPEN_TRIES):
            try:
                option.click(timeout=OPEN_WAIT_MS)
                return
            except PlaywrightTimeoutError:
                page.keyboard.press("Escape")
                open_list()
        raise RuntimeError(f"could not pick {step.value!r} in {step.label!r}")

    if not open_list():
        raise RuntimeError(f"the list of {step.label!r} did not open in {OPEN_TRIES} tries")
    return choose


def measure_controls(browser: Browser, lab: str, steps: int) -> list[Change]:
    """Move ``lab``'s controls back and forth, ``steps`` inputs in all."""
    plan = itertools.islice(itertools.cycle(CONTROLS[lab]), steps)
    return [browser.measure(str(step), input_action(browser.page, step)) for step in plan]


def canvas_points(page: Page, stroke: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The stroke's points in page pixels on the sidebar's drawing canvas."""
    canvas = page.locator("section[data-testid='stSidebar'] canvas").last
    box = canvas.bounding_box()
    if box is None:
        raise RuntimeError("the drawing canvas is not visible")
    return [(box["x"] + box["width"] * x, box["y"] + box["height"] * y) for x, y in stroke]


def measure_stroke(browser: Browser, stroke: list[tuple[float, float]], name: str) -> Change:
    """Draw ``stroke`` with the mouse; time pen-up to new probabilities and to settled."""
    page = browser.page
    points = canvas_points(page, stroke)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=3)
    shown = page.evaluate(PREDICTION)
    seen: dict[str, float] = {}

    def pen_up() -> None:
        page.mouse.up()
        changed = page.wait_for_function(
            PREDICTION_CHANGED, arg=shown, polling=POLL_MS, timeout=1000 * SETTLE_TIMEOUT_S
        )
        seen["at"] = changed.json_value()

    change = browser.measure(name, pen_up)
    change.prediction_ms = seen["at"] - page.evaluate("window.__bench.lastInput")
    return change


def clear_canvas(browser: Browser) -> None:
    """Clear the drawing pad with its own button and wait for the page (not reported)."""
    sidebar = browser.page.locator("section[data-testid='stSidebar']")
    browser.measure("clear the pad", sidebar.get_by_role("button", name="Clear", exact=True).click)


def measure_drawing(browser: Browser, strokes: int) -> list[Change]:
    """Choose Draw in the sidebar, then draw ``strokes`` strokes of the digits in turn."""
    if browser.page.evaluate(PREDICTION) is None:
        raise RuntimeError("the Inspect page shows no prediction for the sample: no model?")
    sidebar = browser.page.locator("section[data-testid='stSidebar']")
    draw = sidebar.get_by_role("radiogroup", name="Image source").get_by_text("Draw", exact=True)
    browser.measure("image source: Draw", draw.click)
    plan = [(digit, index) for digit, drawing in enumerate(DIGITS) for index in range(len(drawing))]
    changes = []
    for number, (digit, index) in enumerate(itertools.islice(itertools.cycle(plan), strokes)):
        if index == 0 and number > 0:
            clear_canvas(browser)
        name = f"stroke {number + 1} (digit {digit + 1})"
        changes.append(measure_stroke(browser, DIGITS[digit][index], name))
    return changes


def train_model(class_models: Path) -> None:
    """Train the default tiny CNN on MNIST-5k for one epoch into ``class_models`` (Inspect).

    Every session sees the class models; a session's own runs folder starts empty.
    """
    from explorer import train  # imports JAX: only when the Inspect page is measured

    arguments = ["--dataset", "mnist-5k", "--epochs", "1", "--out", str(class_models / MODEL_RUN)]
    if train.main([*arguments, "--quiet"]) != 0:
        raise SystemExit("training the model for the Inspect page failed")


def measure_labs(browser: Browser, labs: list[str], args: argparse.Namespace) -> list[LabResult]:
    """First visit of each lab in a new session, then its control changes or drawings."""
    results = []
    for lab in labs:
        result = LabResult(lab, browser.visit(lab))
        print(f"{lab}: first visit {result.first_visit.settled_ms:.0f} ms", file=sys.stderr)
        if lab == "inspect":
            result.changes = measure_drawing(browser, args.strokes)
        else:
            result.changes = measure_controls(browser, lab, args.steps)
        results.append(result)
    return results


def run(args: argparse.Namespace, labs: list[str]) -> dict:
    """Start the server and the browser, measure, and return the raw numbers."""
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as temp:
        if "inspect" in labs:
            train_model(Path(temp) / CLASS_MODELS)
        models = {"CNN_EXPLORER_CLASS_MODELS": str(Path(temp) / CLASS_MODELS)}
        with streamlit_server(Path(temp), environment=models) as (url, _):
            healthy_at = time.monotonic()
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = chromium.new_context(viewport=VIEWPORT)
                context.add_init_script(INIT_SCRIPT)
                page = context.new_page()
                page.set_default_timeout(LOCATOR_TIMEOUT_MS)
                browser = Browser(page, url, args.quiet_ms)
                warm_up = browser.visit("")  # app.py runs, compiles, sets up the navigation
                page.wait_for_timeout(
                    1000 * max(0.0, healthy_at + args.warm_seconds - time.monotonic())
                )
                results = measure_labs(browser, labs, args)
                version = chromium.version
                chromium.close()
    return {"chromium": version, "warm_up": asdict(warm_up), "labs": [asdict(r) for r in results]}


def spread(values: list[float]) -> str:
    """p50, p95 and max of ``values`` in whole milliseconds."""
    return " ".join(f"{percentile(values, p):6.0f}" for p in (50, 95, 100))


def report(numbers: dict) -> str:
    """The plain-text table of :func:`run`'s numbers."""
    machine = numbers["machine"]
    lines = [
        f"Chromium {numbers['chromium']}, {machine['cpus']} CPUs, load average "
        f"{machine['load_start']} at start, {machine['load_end']} at end",
        f"first visits once the server had been up ≥ {numbers['options']['warm_seconds']:g} s; "
        f"quiet window {numbers['options']['quiet_ms']} ms; warm-up visit of / "
        f"{numbers['warm_up']['settled_ms']:.0f} ms",
        "",
        f"{'lab':18s} {'first visit':>11s} {'n':>3s}  {'input → settled, ms':^20s}  "
        f"{'KB per change':^13s}  {'server':>6s}  {'late':>4s}",
        f"{'':18s} {'ms':>11s} {'':3s}  {'p50':>6s} {'p95':>6s} {'max':>6s}  "
        f"{'median':>6s} {'max':>6s}  {'p50 ms':>6s}  {'':4s}",
    ]
    for lab in numbers["labs"]:
        changes = lab["changes"]
        kilobytes = [(change["ws_bytes"] + change["picture_bytes"]) / 1000 for change in changes]
        late = sum(c["late_ms"] is not None or c["late_bytes"] > 0 for c in changes)
        lines.append(
            f"{lab['lab']:18s} {lab['first_visit']['settled_ms']:11.0f} {len(changes):3d}  "
            f"{spread([c['settled_ms'] for c in changes])}  "
            f"{statistics.median(kilobytes):6.0f} {max(kilobytes):6.0f}  "
            f"{statistics.median(c['server_ms'] for c in changes):6.0f}  {late:4d}"
        )
        predictions = [c["prediction_ms"] for c in changes if c["prediction_ms"] is not None]
        if predictions:
            lines.append(
                f"{'  pen-up → answer':18s} {'':11s} {len(predictions):3d}  {spread(predictions)}"
            )
    lines += [
        "",
        "first visit: navigation start → last DOM change; settled: input event (keydown, "
        "mouseup; Inspect: pen-up) → last DOM change",
        "pen-up → answer: until the probabilities shown change; KB: websocket payload plus "
        "pictures (PNG over HTTP) from the server per change (1 KB = 1000 bytes)",
        "server: first → last websocket frame of a change as received here (≈ script run time); "
        f"late: changes with DOM or websocket activity within {PAUSE_MS / 1000:g} s after "
        "'settled'",
        "p95: nearest rank (the 19th of 20 values; the largest of fewer than 20)",
    ]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default=",".join(LABS), help="comma list of " + ",".join(LABS))
    parser.add_argument("--steps", type=int, default=20, help="control changes per lab")
    parser.add_argument("--strokes", type=int, default=6, help="strokes drawn on Inspect")
    parser.add_argument(
        "--warm-seconds", type=float, default=30, help="server uptime before visits"
    )
    parser.add_argument(
        "--quiet-ms", type=int, default=300, help="quiet DOM that counts as settled"
    )
    parser.add_argument("--json", type=Path, help="write the raw numbers to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    # A SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the server is still stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    args = parse_args(argv)
    labs = [lab.strip() for lab in args.labs.split(",") if lab.strip()]
    unknown = sorted(set(labs) - set(LABS))
    if unknown:
        raise SystemExit(f"unknown labs {unknown}; choose from {', '.join(LABS)}")
    load_start = load_average()
    numbers = run(args, labs)
    numbers["machine"] = {
        "cpus": os.cpu_count(),
        "load_start": load_start,
        "load_end": load_average(),
    }
    numbers["options"] = {**vars(args), "json": args.json and str(args.json)}
    print(report(numbers))
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
