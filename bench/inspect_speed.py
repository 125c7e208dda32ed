"""Benchmark: how long the Inspect page takes to answer a new picture, per view.

Trains the default net on the embedded MNIST-5k set for one epoch (into a temporary
runs folder), opens the Inspect page headless with Streamlit's AppTest, then
switches the sidebar sample to a new MNIST digit several times. For every switch
it times each section of the page (the functions of :mod:`explorer.ui_inspect`)
and the whole rerun; it prints the first use (compilation, caches filling) and
the median of the later switches, which is what a user drawing digit after digit
waits for. Figure transfer to a browser and its drawing are not included.

Usage: python -m bench.inspect_speed [--switches 6]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer import train, ui_inspect

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "tests" / "app_entry.py"
SECTIONS = (
    "choose_model",
    "network_input",
    "show_prediction",
    "show_stages",
    "receptive_field",
    "learned_filters",
    "why",
    "test_split",
    "test_views",
    "robustness_comparison",
    "unit_preferences",
    "edit_network",
)


def time_sections(seconds: dict[str, float]) -> None:
    """Wrap every Inspect section so that each call adds its duration to ``seconds``."""
    for name in SECTIONS:
        section = getattr(ui_inspect, name)

        @functools.wraps(section)
        def timed(*args, _section=section, _name=name, **kwargs):
            started = time.perf_counter()
            try:
                return _section(*args, **kwargs)
            finally:
                seconds[_name] += time.perf_counter() - started

        setattr(ui_inspect, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=6)
    args = parser.parse_args()

    runs = Path(tempfile.mkdtemp(prefix="inspect-bench-"))
    os.environ["CNN_EXPLORER_RUNS"] = str(runs)
    train.main(["--dataset", "mnist-5k", "--epochs", "1", "--out", str(runs / "tiny"), "--quiet"])

    seconds: dict[str, float] = defaultdict(float)
    time_sections(seconds)
    app = AppTest.from_file(str(ENTRY), default_timeout=300)
    app.run()
    started = time.perf_counter()
    app.switch_page(str(ROOT / "pages" / "6_inspect.py")).run()
    opened = time.perf_counter() - started
    samples = [s for s in app.sidebar.selectbox(key="sample_name").options if "MNIST" in s]
    runs_per_view: dict[str, list[float]] = defaultdict(list)
    totals = []
    for sample in samples[: args.switches + 1]:
        seconds.clear()
        started = time.perf_counter()
        app.sidebar.selectbox(key="sample_name").select(sample).run()
        totals.append(time.perf_counter() - started)
        if app.exception:
            raise SystemExit(f"The Inspect page failed: {app.exception}")
        for name, value in seconds.items():
            runs_per_view[name].append(value)

    print(f"opening the page (first use, compiles): {opened:.2f} s")
    print(f"{'view':24s} {'first switch':>13s} {'later median':>13s}")
    for name, values in [("whole rerun", totals), *runs_per_view.items()]:
        print(f"{name:24s} {values[0]:12.3f}s {statistics.median(values[1:]):12.3f}s")


if __name__ == "__main__":
    main()
