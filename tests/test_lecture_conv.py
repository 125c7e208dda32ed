"""The Convolution lab's lessons on a classroom projector: 1366×768, presenter mode.

The stride lesson's output-size arithmetic must show its answer whole (no box around it
scrolls or clips it, and it lies inside the screen); the vertical-edges lesson's input,
kernel and feature map must all lie on the first screen. Screenshots go to
``artifacts/lecture/`` to look at.
"""

from __future__ import annotations

import shutil
import time
import urllib.parse
from pathlib import Path

import pytest

from bench.app_driver import CHROMIUM_ARGS, streamlit_server
from explorer import labs, ops

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "lecture"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREEN = {"width": 1366, "height": 768}

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

# The text node that ends with ``answer`` inside the main area: whether it and every box
# around it (up to the main area) shows all of its content, and where its last characters
# are drawn. Null when no such text is on the page.
ANSWER = """answer => {
    const main = document.querySelector('[data-testid="stMain"]');
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
    let node;
    while ((node = walker.nextNode())) {
        if (!node.textContent.trimEnd().endsWith(answer)) continue;
        const end = node.textContent.trimEnd().length;
        const range = document.createRange();
        range.setStart(node, end - answer.length);
        range.setEnd(node, end);
        const box = range.getBoundingClientRect();
        const clipped = [];
        for (let el = node.parentElement; el && el !== main; el = el.parentElement) {
            if (el.scrollWidth > el.clientWidth + 1) clipped.push(el.tagName);
            const outer = el.getBoundingClientRect();
            if (box.right > outer.right + 1 && getComputedStyle(el).overflowX !== "visible") {
                clipped.push(el.tagName + " cuts it");
            }
        }
        return {text: node.textContent, clipped,
                box: {left: box.left, right: box.right, top: box.top, bottom: box.bottom}};
    }
    return null;
}"""


def lesson(key: str) -> labs.Lesson:
    return next(item for item in labs.LESSONS if item.key == key)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with streamlit_server(tmp_path_factory.mktemp("lecture")) as (url, _):
        yield url


@pytest.fixture(scope="module")
def tab(server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport=SCREEN).new_page()
        page.set_default_timeout(120_000)
        page.goto(server)
        page.get_by_text(labs.title(labs.LABS[-1])).first.wait_for()
        yield page
        browser.close()


def open_in_presenter_mode(tab, server: str, item: labs.Lesson) -> None:
    """Open a lesson's link in presenter mode and wait until its pictures have loaded."""
    query = urllib.parse.urlencode({**dict(item.settings), "lesson": item.key, "presenter": "1"})
    tab.goto(f"{server}/{labs.lab_of(item).url_path}?{query}")
    tab.wait_for_selector("svg.colour-bar")
    time.sleep(0.5)
    tab.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
               && document.querySelectorAll('[data-stale="true"]').length === 0
               && [...document.querySelectorAll('[data-testid="stImage"] img')]
                      .every(img => img.complete)""",
    )
    time.sleep(0.5)
    assert tab.locator('[data-testid="stException"]').count() == 0


def inside_screen(box: dict) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= SCREEN["width"]
        and box["y"] + box["height"] <= SCREEN["height"]
    )


def test_the_stride_lessons_arithmetic_shows_its_answer_whole(tab, server):
    item = lesson("stride-padding")
    open_in_presenter_mode(tab, server, item)
    tab.screenshot(path=str(SHOTS / "stride-padding_1366x768.png"))
    settings = dict(item.settings)
    size, k, s, p = (
        int(settings[name])
        for name in ("working_size", "kernel_size", "stride", "explicit_padding")
    )
    answer = (size + 2 * p - (k - 1) - 1) // s + 1  # the textbook formula, dilation 1
    assert answer == 13 and "= 13 outputs per side" in item.guidance
    (line,) = ops.output_size_arithmetic(ops.conv_geometry((size, size), k, s, p))
    shown = tab.evaluate(ANSWER, f"= {answer}")
    assert shown is not None, "the answer is on the page"
    assert shown["text"].strip() == line
    assert shown["clipped"] == [], f"no box around the answer hides part of it: {shown}"
    box = shown["box"]
    assert box["left"] >= 0 and box["right"] <= SCREEN["width"], box
    assert box["top"] >= 0 and box["bottom"] <= SCREEN["height"], "on the first screen"
    assert tab.locator("svg.conv-figure g.window-centres circle").count() == answer * answer


def test_the_edges_lessons_input_kernel_and_map_are_on_the_first_screen(tab, server):
    open_in_presenter_mode(tab, server, lesson("vertical-edges"))
    tab.screenshot(path=str(SHOTS / "vertical-edges_1366x768.png"))
    main = tab.locator('[data-testid="stMain"]')
    figures = {
        "input": main.locator("svg.conv-figure").first,
        "kernel": main.locator("table").filter(has_text="Kernel 3×3").first,
        "map": main.locator('[data-testid="stImage"] img').first,
        "colour bar": main.locator("svg.colour-bar").first,
    }
    boxes = {name: figure.bounding_box() for name, figure in figures.items()}
    outside = {name: box for name, box in boxes.items() if not inside_screen(box)}
    assert not outside, f"below or beside the first screen: {outside}"
    assert boxes["input"]["x"] < boxes["kernel"]["x"] < boxes["map"]["x"], "input | kernel | map"
    assert boxes["map"]["x"] < boxes["colour bar"]["x"]
