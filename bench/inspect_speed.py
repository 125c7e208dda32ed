"""Benchmark: how long the Inspect page's script takes to answer a new picture, per view.

Trains the default net on the embedded MNIST-5k set for one epoch and publishes it as a
class model (a temporary folder), opens the Inspect page headless with Streamlit's
AppTest, then, for each view of the page's picker, switches the sidebar sample to a new
MNIST digit several times and times the whole rerun. It prints the first switch (the
view's compilation and caches filling) and the median of the later ones, which is what a
user drawing digit after digit waits for on the server. Figure transfer to a browser and
its drawing are not included: ``python -m bench.browser_latency`` measures those.

Usage: python -m bench.inspect_speed [--switches 6]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer import train
from explorer.ui import inspect_page

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "tests" / "app_entry.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=6)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="inspect-bench-"))
    os.environ["CNN_EXPLORER_RUNS"] = str(folder / "runs")
    os.environ["CNN_EXPLORER_CLASS_MODELS"] = str(folder / "class")
    model = folder / "class" / "tiny"
    train.main(["--dataset", "mnist-5k", "--epochs", "1", "--out", str(model), "--quiet"])

    app = AppTest.from_file(str(ENTRY), default_timeout=300)
    app.run()
    started = time.perf_counter()
    app.switch_page(str(ROOT / "pages" / "6_inspect.py")).run()
    opened = time.perf_counter() - started
    samples = [s for s in app.sidebar.selectbox(key="sample_name").options if "MNIST" in s]
    print(f"opening the page (first use, compiles): {opened:.2f} s")
    print(f"{'view':26s} {'first switch':>13s} {'later median':>13s}")
    for view in inspect_page.INSPECT_VIEWS:
        app.get("button_group")[0].set_value(view.label).run()
        seconds = []
        for sample in samples[: args.switches + 1]:
            started = time.perf_counter()
            app.sidebar.selectbox(key="sample_name").select(sample).run()
            seconds.append(time.perf_counter() - started)
            if app.exception:
                raise SystemExit(f"The Inspect page failed in {view.label!r}: {app.exception}")
        later = statistics.median(seconds[1:])
        print(f"{view.label:26s} {seconds[0]:12.3f}s {later:12.3f}s")


if __name__ == "__main__":
    main()
