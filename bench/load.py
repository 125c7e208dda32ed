"""Benchmark: does exploring stay responsive while someone trains? (a class on one server)

Starts the app on a free loopback port (with an empty temporary runs folder), opens
``--sessions`` headless Chromium sessions (default 4; separate browser contexts, so
separate Streamlit sessions) that move the controls of the Convolution and the
Activation & pooling labs over and over (sessions alternate between the two labs),
and one more session that opens the Train page and presses **Start training** (the
page's defaults: MNIST-5k, the default CNN; ``--epochs`` epochs). The training
session stays open, so its progress fragment refreshes every second as it would for a
student watching.

Each control change is measured from the input event (``keydown``/``mouseup``) to
the page's last DOM change, once the server has reported the end of the script run
it caused (a ``session_status_changed`` websocket message), no running indicator or
stale element is left, every visible chart is drawn, and the DOM has been quiet for
``--quiet-ms``. After each change a session pauses about ``--pause-ms`` (0.5 to 1.5
times it, from a fixed random sequence per session), like a student looking at the
result; the sessions start a fraction of a pause apart, so that they do not move in
lockstep. Printed: p50/p95/max per lab, split into changes made while
the run was training and after it ended; the training run's duration; and, every
``--sample-seconds``, the server's RSS, its training workers' RSS and the 1-minute
load average.

Bounded: each session stops after ``--steps`` changes or ``--seconds`` seconds,
whichever comes first; every wait has a timeout; the server listens on 127.0.0.1
only. ``--app-root`` runs another checkout of the app (e.g. an older commit in a
``git worktree``) with the same measurement.

Usage (from the repository root): python -m bench.load
    [--sessions 4] [--seconds 120] [--steps 60] [--epochs 3] [--no-train]
    [--app-root PATH] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
from playwright.async_api import Page, async_playwright

from bench.app_driver import (
    CHROMIUM,
    CHROMIUM_ARGS,
    INIT_SCRIPT,
    PAGE_STATE,
    ROOT,
    VIEWPORT,
    percentile,
    run_status,
    streamlit_server,
)

SETTLE_TIMEOUT_S = 120
LOCATOR_TIMEOUT_MS = 60_000
POLL_MS = 50

PROGRESS_TEXT = """() => document.querySelector('[data-testid="stProgress"]')?.innerText ?? ''"""

# (kind, accessible label, key or option): a key press on a focused slider, or a click
# on a radio option; each plan comes back to where it started.
PLANS = {
    "convolution": [
        *[("slider", "Kernel size k", "ArrowRight")] * 2,
        *[("slider", "Kernel size k", "ArrowLeft")] * 2,
        ("slider", "Stride s", "ArrowRight"),
        ("slider", "Stride s", "ArrowLeft"),
        *[("slider", "Filter count F", "ArrowRight")] * 2,
        *[("slider", "Filter count F", "ArrowLeft")] * 2,
    ],
    "activation_pooling": [
        *[("slider", "Pool window", "ArrowRight")] * 2,
        *[("slider", "Pool window", "ArrowLeft")] * 2,
        ("radio", "Pooling", "average"),
        ("radio", "Pooling", "max"),
    ],
}


@dataclass
class Change:
    """One control change: which session and lab, when (seconds since the start), and
    the milliseconds from the input to the settled page (None: it failed, i.e. did not
    settle within SETTLE_TIMEOUT_S or the page showed an exception)."""

    session: int
    lab: str
    action: str
    at_s: float
    settled_ms: float | None
    training: bool


class Session:
    """One browser context (a Streamlit session) on one lab, and its websocket log."""

    def __init__(self, page: Page, quiet_ms: int) -> None:
        self.page, self.quiet_ms = page, quiet_ms
        self.statuses: list[tuple[float, bool]] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._received))

    def _received(self, payload: bytes | str) -> None:
        running = run_status(payload.encode() if isinstance(payload, str) else payload)
        if running is not None:
            self.statuses.append((time.perf_counter(), running))

    def server_idle_since(self, mark: float) -> bool:
        after = [running for at, running in self.statuses if at >= mark]
        return bool(after) and not after[-1]

    async def settled(self, mark: float) -> dict | None:
        """The page state once settled after ``mark``; None after SETTLE_TIMEOUT_S."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_MS / 1000)
            if not self.server_idle_since(mark):
                continue
            state = await self.page.evaluate(PAGE_STATE)
            if state["failed"]:
                raise RuntimeError(f"the app shows an exception on {self.page.url}")
            if not state["busy"] and state["now"] - state["lastMutation"] >= self.quiet_ms:
                return state
        return None

    async def open(self, url: str) -> None:
        mark = time.perf_counter()
        await self.page.goto(url, wait_until="commit")
        if await self.settled(mark) is None:
            raise TimeoutError(f"{url} did not settle within {SETTLE_TIMEOUT_S} s")

    async def change(self, kind: str, label: str, value: str) -> float | None:
        """Make one change; milliseconds from the input event to settled (None: timeout)."""
        page = self.page
        if kind == "slider":
            thumb = page.get_by_role("slider").and_(
                page.locator(f"[aria-label={json.dumps(label)}]")
            )
            await thumb.focus()
            act = thumb.press(value)
        else:
            group = page.get_by_role("radiogroup", name=label, exact=True)
            option = group.get_by_text(value, exact=True)
            await option.scroll_into_view_if_needed()
            act = option.click()
        before = (await page.evaluate(PAGE_STATE))["lastInput"]
        mark = time.perf_counter()
        await act
        state = await self.settled(mark)
        if state is None or state["lastInput"] <= before:
            return None
        return state["lastMutation"] - state["lastInput"]


class Training:
    """The training session's state as the benchmark saw it (seconds since the start)."""

    def __init__(self) -> None:
        self.started_s: float | None = None
        self.ended_s: float | None = None
        self.last_text = ""

    @property
    def active(self) -> bool:
        return self.started_s is not None and self.ended_s is None


async def explore(
    number: int, session: Session, lab: str, args, started: float, training: Training
) -> list[Change]:
    changes = []
    deadline = started + args.seconds
    jitter = random.Random(number)  # the same pauses on every run
    await asyncio.sleep(number * args.pause_ms / 1000 / args.sessions)  # not in lockstep
    for kind, label, value in itertools.islice(itertools.cycle(PLANS[lab]), args.steps):
        if time.perf_counter() > deadline:
            break
        during = training.active
        at = time.perf_counter() - started
        try:
            settled = await session.change(kind, label, value)
        except (RuntimeError, TimeoutError) as error:  # counted as failed, not timed
            print(f"session {number}: {label}: {value}: {error}", file=sys.stderr)
            settled = None
        changes.append(Change(number, lab, f"{label}: {value}", at, settled, during))
        await asyncio.sleep(args.pause_ms / 1000 * jitter.uniform(0.5, 1.5))
    return changes


async def train(session: Session, args, started: float, training: Training) -> None:
    """Set the epochs, press Start, and watch the progress text until the run ends."""
    page = session.page
    for _ in range(abs(args.epochs - 3)):  # the slider starts at 3 epochs
        await session.change("slider", "Epochs", "ArrowRight" if args.epochs > 3 else "ArrowLeft")
    await page.get_by_role("button", name="Start training").click()
    training.started_s = time.perf_counter() - started
    deadline = time.perf_counter() + args.seconds + SETTLE_TIMEOUT_S
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        text = await page.evaluate(PROGRESS_TEXT)
        training.last_text = text or training.last_text
        if text.startswith(("finished", "failed", "stopped")):
            training.ended_s = time.perf_counter() - started
            return


async def sample(server: psutil.Process, started: float, every: float, stop: asyncio.Event):
    """(seconds, server RSS MB, workers' RSS MB, load average) every ``every`` seconds."""
    samples = []
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            workers = sum(
                child.memory_info().rss
                for child in server.children(recursive=True)
                if child.is_running()
            )
            samples.append(
                (
                    round(time.perf_counter() - started, 1),
                    round(server.memory_info().rss / 2**20),
                    round(workers / 2**20),
                    round(os.getloadavg()[0], 2),
                )
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return samples


def summary(changes: list[Change]) -> list[dict]:
    """p50/p95/max (ms) per (lab, while training or not), and for all changes."""
    groups: dict[str, list[Change]] = {}
    for change in changes:
        phase = "while training" if change.training else "not training"
        groups.setdefault(f"{change.lab}, {phase}", []).append(change)
        groups.setdefault(f"all labs, {phase}", []).append(change)
    rows = []
    for name, group in sorted(groups.items()):
        times = [c.settled_ms for c in group if c.settled_ms is not None]
        row = {"group": name, "changes": len(group), "failed": len(group) - len(times)}
        if times:
            row |= {
                "p50_ms": round(percentile(times, 50)),
                "p95_ms": round(percentile(times, 95)),
                "max_ms": round(max(times)),
            }
        rows.append(row)
    return rows


async def measure(args, url: str, server: psutil.Process) -> dict:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        async def new_session() -> Session:
            context = await chromium.new_context(viewport=VIEWPORT)
            await context.add_init_script(INIT_SCRIPT)
            page = await context.new_page()
            page.set_default_timeout(LOCATOR_TIMEOUT_MS)
            return Session(page, args.quiet_ms)

        warm = await new_session()
        await warm.open(url)  # app.py runs once, compiles, sets up the navigation
        await warm.page.context.close()
        labs = [list(PLANS)[number % len(PLANS)] for number in range(args.sessions)]
        explorers = [await new_session() for _ in labs]
        for session, lab in zip(explorers, labs, strict=True):
            await session.open(f"{url}/{lab}")
        for session, lab in zip(explorers, labs, strict=True):  # compile each lab's shapes
            await session.change(*PLANS[lab][0])
            await session.change(*PLANS[lab][-1])
        training = Training()
        started = time.perf_counter()
        stop_sampling = asyncio.Event()
        sampler = asyncio.create_task(sample(server, started, args.sample_seconds, stop_sampling))
        trainer = None
        if args.train:
            trainer_session = await new_session()
            await trainer_session.open(f"{url}/train")
            trainer = asyncio.create_task(train(trainer_session, args, started, training))
            while training.started_s is None and not trainer.done():
                await asyncio.sleep(0.2)
        results = await asyncio.gather(
            *(
                explore(number, session, lab, args, started, training)
                for number, (session, lab) in enumerate(zip(explorers, labs, strict=True))
            )
        )
        if trainer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(trainer, 60)  # a little longer for the run to end
        stop_sampling.set()
        samples = await sampler
        await chromium.close()
    changes = [change for group in results for change in group]
    return {
        "sessions": args.sessions,
        "train": args.train,
        "epochs": args.epochs,
        "training_started_s": training.started_s,
        "training_ended_s": training.ended_s,
        "training_last_progress": training.last_text,
        "summary": summary(changes),
        "rss": samples,
        "changes": [asdict(change) for change in changes],
        "cpus": os.cpu_count(),
    }


def report(result: dict) -> None:
    print(
        f"{result['sessions']} sessions exploring, training: {result['train']} "
        f"({result['epochs']} epochs), {result['cpus']} CPUs"
    )
    if result["train"]:
        started, ended = result["training_started_s"], result["training_ended_s"]
        took = f"ended at {ended:.0f} s ({ended - started:.0f} s)" if ended else "did not end"
        print(
            f"training: started at {started:.0f} s, {took}; "
            f"last progress: {result['training_last_progress'][:80]!r}"
        )
    print(f"\n{'group':44} {'changes':>7} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'failed':>6}")
    for row in result["summary"]:
        print(
            f"{row['group']:44} {row['changes']:7d} {row.get('p50_ms', '-'):>7} "
            f"{row.get('p95_ms', '-'):>7} {row.get('max_ms', '-'):>7} {row['failed']:6d}"
        )
    print(f"\n{'t (s)':>6} {'server RSS MB':>14} {'workers RSS MB':>15} {'load avg':>9}")
    for at, server, workers, load in result["rss"]:
        print(f"{at:6.0f} {server:14d} {workers:15d} {load:9.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="exploring sessions (1-8)")
    parser.add_argument("--seconds", type=float, default=120.0, help="exploring time (≤ 600)")
    parser.add_argument("--steps", type=int, default=60, help="changes per session (≤ 500)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the training run")
    parser.add_argument("--no-train", dest="train", action="store_false")
    parser.add_argument("--pause-ms", type=int, default=1000)
    parser.add_argument("--quiet-ms", type=int, default=300)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--app-root", type=Path, default=ROOT)
    parser.add_argument("--json", type=Path, help="also write the raw numbers here")
    args = parser.parse_args(argv)
    if not (1 <= args.sessions <= 8 and 0 < args.seconds <= 600 and 1 <= args.steps <= 500):
        parser.error("--sessions 1-8, --seconds up to 600, --steps 1-500")
    if not 1 <= args.epochs <= 30:
        parser.error("--epochs 1-30")
    with (
        tempfile.TemporaryDirectory(prefix="load-") as temp,
        streamlit_server(Path(temp), args.app_root.resolve()) as (url, process),
    ):
        result = asyncio.run(measure(args, url, psutil.Process(process.pid)))
        if any(row["failed"] for row in result["summary"]):
            log = (Path(temp) / "streamlit.log").read_text(errors="replace")
            print("the server's log ends with:\n" + log[-4000:], file=sys.stderr)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
