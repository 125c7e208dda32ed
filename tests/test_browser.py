"""End to end in a real browser: headless Chromium (Debian package) driven by Playwright.

Starts the app on a free local port, opens every page, moves a control, checks
that the output changes, draws a digit on the canvas with the mouse, trains a
short run and reads a trained network's answer to two drawings, and saves
screenshots under ``artifacts/screenshots``. Skips with a reason where
Chromium or Playwright is missing.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from bench.app_driver import CHROMIUM_ARGS, PREDICTION, streamlit_server
from explorer import labs, model, runs
from explorer.data import registry
from explorer.ui import inspect_page, mistakes_view, train_page

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
INSPECT_TITLE = labs.title(labs.by_file("6_inspect.py"))
LAB_PATHS = [lab.url_path for lab in labs.LABS]

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    """The server's root of private workspaces."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def server_url(runs_root):
    port = _free_port()
    environment = {**os.environ, "CNN_EXPLORER_RUNS": str(runs_root)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the Streamlit server did not start within 60 s")
    yield url
    process.terminate()
    try:  # a busy machine may still be warming up (the warm-up thread finishes its step)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server_url):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 2600})
        tab = context.new_page()
        tab.set_default_timeout(90_000)
        tab.goto(server_url)
        # Deep links only reach app.py once it has set up the navigation: wait for it.
        tab.get_by_text(labs.title(labs.LABS[-1])).first.wait_for()
        wait_for_app(tab)
        yield tab
        browser.close()


def wait_for_app(tab) -> None:
    """Wait until the script has finished running and nothing is stale."""
    tab.wait_for_selector('[data-testid="stApp"]')
    time.sleep(0.5)
    tab.wait_for_function(
        """() => !document.querySelector('[data-testid="stStatusWidget"]')
               && document.querySelectorAll('[data-stale="true"]').length === 0""",
        timeout=90_000,
    )
    time.sleep(0.5)


def open_lab(tab, server_url: str, path: str) -> None:
    tab.goto(f"{server_url}/{path}")
    wait_for_app(tab)
    assert tab.locator('[data-testid="stException"]').count() == 0


def metric_value(tab, label: str) -> str:
    metric = tab.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def press_slider(tab, label: str, key: str, presses: int) -> None:
    """Move a slider with the keyboard, as a user on a projector would."""
    slider = tab.get_by_role("slider", name=label).first
    slider.focus()
    for _ in range(presses):
        slider.press(key)
    wait_for_app(tab)


FIGURE = '.js-plotly-plot, [data-testid="stImage"] img, svg.svg-chart, .st-key-confusion_grid'
"""What counts as a figure on a page: a plotly chart, a server-drawn picture (``st.image``),
an SVG chart (:mod:`explorer.svg_charts`) or the confusion matrix's grid of cells."""


@pytest.mark.parametrize("path", LAB_PATHS)
def test_every_lab_loads_with_figures(page, server_url, path):
    open_lab(page, server_url, path)
    page.wait_for_function(
        """selector => [...document.querySelectorAll(selector)]
                   .filter(el => el.tagName !== "IMG" || (el.complete && el.naturalWidth > 0))
                   .length >= 2""",
        arg=FIGURE,
        timeout=90_000,
    )
    page.screenshot(path=str(SHOTS / f"{path}.png"), full_page=True)


def test_kernel_size_slider_changes_the_output_shape(page, server_url):
    open_lab(page, server_url, "convolution")
    before = metric_value(page, "Output")
    press_slider(page, "Kernel size k", "ArrowRight", 2)
    after = metric_value(page, "Output")
    assert before != after
    height_before, height_after = int(before.split("×")[0]), int(after.split("×")[0])
    assert height_after == height_before - 2
    page.screenshot(path=str(SHOTS / "convolution_after_kernel_change.png"), full_page=True)


def test_drawing_a_digit_feeds_the_labs(page, server_url):
    open_lab(page, server_url, "image_as_numbers")
    page.get_by_text("Draw", exact=True).first.click()
    wait_for_app(page)
    canvas = page.locator("section[data-testid='stSidebar'] canvas").last
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    left, top = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    page.mouse.move(left, top)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(left + step * box["width"] * 0.02, top + step * box["height"] * 0.03)
    page.mouse.up()
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                 .some(e => e.innerText.includes('your drawing'))""",
        timeout=60_000,
    )
    wait_for_app(page)
    assert page.get_by_text("MNIST-style 28×28").count() >= 1
    page.screenshot(path=str(SHOTS / "drawn_digit.png"), full_page=True)


def test_broken_upload_shows_a_message(page, server_url, tmp_path):
    open_lab(page, server_url, "image_as_numbers")
    page.get_by_text("Upload", exact=True).first.click()
    wait_for_app(page)
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a picture")
    page.locator("section[data-testid='stSidebar'] input[type='file']").set_input_files(str(broken))
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stAlert"]')]
                 .some(e => e.innerText.includes('not an image'))""",
        timeout=60_000,
    )
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "broken_upload.png"), full_page=True)


def plotly_chart(tab, title: str):
    """The plotly chart whose title contains ``title``."""
    return tab.locator(".js-plotly-plot").filter(has=tab.locator(".gtitle", has_text=title)).first


def start_short_training(tab, server_url: str) -> None:
    """Start two epochs on the generated shapes (seconds per epoch on a CPU)."""
    open_lab(tab, server_url, "train")
    tab.get_by_label("Dataset").click()
    tab.get_by_role("option", name="Shapes and orientations (generated)").click()
    wait_for_app(tab)
    press_slider(tab, "Epochs", "ArrowLeft", 1)
    tab.get_by_role("button", name="Start training").click()
    tab.wait_for_function("""() => document.body.innerText.includes('running ·')""", timeout=60_000)


def wait_for_results(tab) -> None:
    tab.wait_for_function(
        """() => document.body.innerText.includes('Test accuracy')""", timeout=240_000
    )
    wait_for_app(tab)


def test_training_shows_live_progress_and_results(page, server_url):
    start_short_training(page, server_url)
    page.screenshot(path=str(SHOTS / "training_running.png"), full_page=True)
    wait_for_results(page)
    assert page.get_by_text("Loss (cross-entropy)").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "training_finished.png"), full_page=True)
    film = plotly_chart(page, "First-layer filters over training")
    film.scroll_into_view_if_needed()
    film.screenshot(path=str(SHOTS / "training_filter_film.png"))
    assert "value" in hover_text(page, film) and "filter" in hover_text(page, film)
    change = plotly_chart(page, "Change since initialisation, scale ±")
    change.screenshot(path=str(SHOTS / "training_filter_change.png"))
    plotly_chart(page, "Loss (cross-entropy)").screenshot(path=str(SHOTS / "training_loss.png"))


def hover_text(page, chart) -> str:
    """The hover label shown over a heatmap chart, trying points until one lands on a tile."""
    box = chart.locator(".nsewdrag").first.bounding_box()
    assert box is not None
    for fraction_x, fraction_y in [(0.07, 0.2), (0.13, 0.3), (0.33, 0.45), (0.55, 0.7)]:
        page.mouse.move(box["x"] + box["width"] * fraction_x, box["y"] + box["height"] * fraction_y)
        page.wait_for_timeout(400)
        texts = [text for text in page.locator(".hovertext").all_text_contents() if text]
        if texts:
            return texts[0]
    return ""


def draw(tab, points: list[tuple[float, float]]) -> None:
    """One mouse stroke through ``points``, given as fractions of the sidebar canvas."""
    canvas = tab.locator("section[data-testid='stSidebar'] canvas").last
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    xs = [box["x"] + box["width"] * x for x, _ in points]
    ys = [box["y"] + box["height"] * y for _, y in points]
    tab.mouse.move(xs[0], ys[0])
    tab.mouse.down()
    for x, y in zip(xs[1:], ys[1:], strict=True):
        tab.mouse.move(x, y, steps=3)
    tab.mouse.up()


def new_prediction(tab, before: list[str] | None) -> list[str]:
    """Wait until the probabilities differ from ``before``; return them (title, bar labels)."""
    tab.wait_for_function(
        f"before => {{ const now = ({PREDICTION})(); "
        "return now !== null && JSON.stringify(now) !== JSON.stringify(before); }",
        arg=before,
        timeout=90_000,
    )
    wait_for_app(tab)
    return tab.evaluate(PREDICTION)


def test_a_trained_network_reads_two_drawings_differently(page, server_url):
    open_lab(page, server_url, "inspect")
    page.get_by_text("Look inside").first.wait_for()
    network = page.locator(".st-key-inspect_model input").first.input_value()
    if network != inspect_page.CURRENT_RUN:  # a starter model: train the shapes net here
        start_short_training(page, server_url)
        wait_for_results(page)
        page.locator('[data-testid="stSidebarNav"]').get_by_text(INSPECT_TITLE).click()
        wait_for_app(page)
    page.locator("section[data-testid='stSidebar']").get_by_text("Draw", exact=True).click()
    wait_for_app(page)
    draw(page, [(0.5, 0.15 + 0.07 * step) for step in range(11)])  # a vertical stroke
    line = new_prediction(page, None)
    assert len(line) == 1 + 6, "title and one bar label per shape class"
    page.screenshot(path=str(SHOTS / "inspect_drawn_line.png"), full_page=True)
    sidebar = page.locator("section[data-testid='stSidebar']")
    sidebar.get_by_role("button", name="Clear", exact=True).click()
    page.get_by_text("Draw a digit, upload an image").first.wait_for()
    circle = [
        (0.5 + 0.3 * math.cos(a / 12 * math.pi), 0.5 + 0.3 * math.sin(a / 12 * math.pi))
        for a in range(25)
    ]
    draw(page, circle)
    ring = new_prediction(page, line)
    assert ring != line, "two different drawings, two different sets of probabilities"
    draw(page, [(0.1 + 0.08 * step, 0.5) for step in range(11)])  # a bar across the ring
    crossed = new_prediction(page, ring)
    sidebar.get_by_role("button", name="Undo", exact=True).click()
    assert new_prediction(page, crossed) == ring, "undo brings back the ring's picture exactly"
    sidebar.get_by_role("button", name="Redo", exact=True).click()
    assert new_prediction(page, ring) == crossed
    sidebar.get_by_role("button", name="Undo", exact=True).click()
    assert new_prediction(page, crossed) == ring
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "inspect_drawn_circle.png"), full_page=True)
    page.get_by_text("Robustness: CNN vs MLP", exact=True).click()
    wait_for_app(page)
    robust = plotly_chart(page, "Test accuracy as the images are moved")
    robust.scroll_into_view_if_needed()
    robust.screenshot(path=str(SHOTS / "inspect_robustness.png"))


ONE = [(0.5, 0.15 + 0.07 * step) for step in range(11)]
"""A vertical stroke: a "1"."""
FLAG_AND_BASE = ([(0.5, 0.15), (0.35, 0.3)], [(0.3, 0.85), (0.7, 0.85)])
"""A flag at the top of the "1" and a base under it: the digits model reads a "2"."""
WHY_LINK = urllib.parse.urlencode(
    {"inspect_view": "Why this prediction?", "inspect_model": runs.STARTER_PREFIX + "digits-cnn"}
)


def explained_as_predicted(tab, prediction: list[str]) -> str:
    """The "Explain class" selector's text once it names the class ``prediction`` (the
    softmax chart's title and bar labels) predicts, with the percent the title shows."""
    found = re.fullmatch(r"Softmax probabilities: “(.+)” \((\d+\.\d%)\)", prediction[0])
    assert found, prediction[0]
    expected = f"{found[1]} ({found[2]})"
    shown = widget_shows(tab, "why_class", expected)
    assert shown == expected, f"the maps explain {shown!r}, the prediction is {expected!r}"
    return found[1]


MAP_TITLES = ("Saliency for", "Grad-CAM for", "Occlusion for")


def assert_maps_explain(tab, name: str) -> None:
    """The saliency, Grad-CAM and occlusion maps' titles name class ``name`` (the maps are
    scrolled into view: a chart out of view may not be drawn yet)."""
    for title in MAP_TITLES:
        chart = plotly_chart(tab, title)
        chart.scroll_into_view_if_needed()
        text = chart.locator(".gtitle").first.text_content()
        assert text.startswith(f"{title} “{name}”"), (name, text)


def test_why_this_prediction_explains_the_class_predicted_for_each_drawing(page, server_url):
    """Draw a "1", add a flag and a base (a "2"), pick another class, then undo: at each
    step the "Explain class" selector reads as the prediction reads, and the maps follow."""
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        open_lab(tab, server_url, f"inspect?{WHY_LINK}")
        tab.locator("section[data-testid='stSidebar']").get_by_text("Draw", exact=True).click()
        wait_for_app(tab)
        draw(tab, ONE)
        one = new_prediction(tab, None)
        first = explained_as_predicted(tab, one)
        assert_maps_explain(tab, first)
        flag, base = FLAG_AND_BASE
        draw(tab, flag)
        flagged = new_prediction(tab, one)
        assert_maps_explain(tab, explained_as_predicted(tab, flagged))
        draw(tab, base)
        based = new_prediction(tab, flagged)
        shown = explained_as_predicted(tab, based)
        assert shown != first, "two drawings, two digits"
        assert_maps_explain(tab, shown)
        tab.get_by_role("heading", name="Why this prediction?").scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / "inspect_why_1366x768.png"))
        selector = tab.get_by_label("Explain class", exact=True)
        selector.scroll_into_view_if_needed()
        selector.click()
        tab.keyboard.type("7")  # the list shows only the options that fit below the field
        tab.get_by_role("option", name=re.compile(r"^7 \(")).click()
        wait_for_app(tab)
        assert widget_shows(tab, "why_class", "7 (").startswith("7 (")
        assert_maps_explain(tab, "7")
        sidebar = tab.locator("section[data-testid='stSidebar']")
        sidebar.get_by_role("button", name="Undo", exact=True).click()
        undone = new_prediction(tab, based)
        assert_maps_explain(tab, explained_as_predicted(tab, undone))
        assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def test_the_robustness_view_opens_on_the_shift_study_lesson(page, server_url):
    """No training needed: the shipped study models; the MLP and the pooled ResNet trained
    with shifts are drawn first, each curve named in words; ticking a third adds its curve."""
    view = urllib.parse.quote("Robustness: CNN vs MLP")
    open_lab(page, server_url, f"inspect?inspect_view={view}")
    robust = plotly_chart(page, "Test accuracy as the images are moved")
    robust.wait_for(timeout=240_000)
    robust.locator(".legendtext").nth(1).wait_for()
    legends = robust.locator(".legendtext").all_text_contents()
    assert [re.sub(r" \(mean \d+%\)$", "", text) for text in legends] == [
        "MLP, trained without augmentation",
        "CNN with global average pooling, trained with shift ±4 px",
    ]
    robust.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "inspect_shift_study.png"), full_page=True)
    page.locator(".st-key-robust_study_digits-resnet-flatten label").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.legendtext')].length >= 3", timeout=240_000
    )
    wait_for_app(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    plotly_chart(page, "Test accuracy as the images are moved").screenshot(
        path=str(SHOTS / "inspect_shift_study_three.png")
    )


BYTES_PER_CHANGE_BUDGET = 150_000
"""Most bytes the server may send for one control step at default settings (issue 10)."""

BYTES_AT_LARGEST_BUDGET = 400_000
"""Most bytes for one step at the largest settings: a 256-px picture and 64 filters."""

LARGEST_SETTINGS = "?working_size=256&filter_count=64"

BUDGET_CONTROLS = [
    ("image_as_numbers", "Patch size"),
    ("convolution", "Kernel size k"),
    ("convolution", "Filter count F"),
    ("activation_pooling", "Pool window"),
    ("frequency", "Cutoff (fraction of Nyquist)"),
]


def bytes_of_one_step(
    page, server_url: str, path: str, slider: str, shows: str = "", key: str = "ArrowRight"
) -> tuple[list, list]:
    """The websocket frames' and the pictures' sizes in bytes of one ``key`` step of
    ``slider`` to a value not shown before (the browser caches a picture it has fetched),
    on a page that ``shows`` this text once open (when given).

    The first change after a page opens reruns the whole page once, fragments included
    (118 websocket messages instead of 47 on Lab 3), so one step back and one forward come
    first: the budget is for the steps a user then makes, one after another."""
    back = {"ArrowRight": "ArrowLeft", "ArrowLeft": "ArrowRight"}[key]
    tab = page.context.new_page()
    received: list[int] = []
    tab.on("websocket", lambda ws: ws.on("framereceived", lambda data: received.append(len(data))))
    pictures: list[int] = []
    tab.on(
        "response",
        lambda response: (
            urllib.parse.urlparse(response.url).path.startswith("/media/")
            and pictures.append(int(response.headers.get("content-length", 0)))
        ),
    )
    try:
        open_lab(tab, server_url, path)
        if shows:
            tab.get_by_text(shows, exact=True).first.wait_for()
        press_slider(tab, slider, back, 1)
        press_slider(tab, slider, key, 1)
        received.clear()
        pictures.clear()
        press_slider(tab, slider, key, 1)
        return list(received), list(pictures)
    finally:
        tab.close()


@pytest.mark.parametrize(("path", "slider"), BUDGET_CONTROLS)
def test_one_control_step_sends_at_most_the_byte_budget(page, server_url, path, slider):
    """Counts the bytes of one slider step, websocket and pictures: a count, not a time."""
    received, pictures = bytes_of_one_step(page, server_url, path, slider)
    assert received, "the step reached the server and came back"
    sent = sum(received) + sum(pictures)
    assert sent <= BYTES_PER_CHANGE_BUDGET, (
        f"{path}: {slider} step sent {sent:,} bytes "
        f"(websocket {sum(received):,}, pictures {pictures})"
    )


@pytest.mark.parametrize(
    ("path", "slider", "shows", "key"),
    [
        ("convolution", "Kernel size k", "168×254×64", "ArrowRight"),
        ("convolution", "Filter count F", "168×254×64", "ArrowLeft"),  # 64 is the most
        ("activation_pooling", "Pool window", "168×254×64", "ArrowRight"),
        ("frequency", "Cutoff (fraction of Nyquist)", "256", "ArrowRight"),
    ],
)
def test_a_step_at_the_largest_settings_sends_at_most_its_byte_budget(
    page, server_url, path, slider, shows, key
):
    """256-px pictures and 64 filters (the page shows the 168×254×64 maps of the default
    photo, or the working size): mosaics are drawn at display resolution, so the bytes grow
    far less than the maps (64 maps of 168×254 are 2.7 million values)."""
    link = path + LARGEST_SETTINGS
    received, pictures = bytes_of_one_step(page, server_url, link, slider, shows, key)
    assert pictures or path == "frequency", "a step to a new value fetches its new pictures"
    assert received, "the step reached the server and came back"
    sent = sum(received) + sum(pictures)
    assert sent <= BYTES_AT_LARGEST_BUDGET, (
        f"{link}: {slider} step sent {sent:,} bytes "
        f"(websocket {sum(received):,}, pictures {pictures})"
    )


def choose_section(tab, name: str) -> None:
    tab.get_by_text(name, exact=True).first.click()
    wait_for_app(tab)
    assert tab.locator('[data-testid="stException"]').count() == 0


def wait_for_charts(tab) -> None:
    """Wait until the page shows figures and every plotly chart among them has been drawn."""
    tab.wait_for_function(
        """(figure) => {
            const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
            return document.querySelectorAll(figure).length > 0
                && charts.every(chart => chart.querySelector('.main-svg'));
        }""",
        arg=FIGURE,
    )


def test_learning_lab_takes_a_step_and_shows_each_section(page, server_url):
    open_lab(page, server_url, "learning")
    page.get_by_text("Target, prediction and each loss").first.wait_for()
    wait_for_charts(page)
    page.screenshot(path=str(SHOTS / "learning_losses.png"), full_page=True)
    choose_section(page, "2 · One step")
    before = metric_value(page, "Loss after this step")
    page.get_by_role("button", name="One more step").click()
    wait_for_app(page)
    assert metric_value(page, "Steps taken") == "1"
    assert metric_value(page, "Loss now") == before
    wait_for_charts(page)
    page.screenshot(path=str(SHOTS / "learning_one_step.png"), full_page=True)
    choose_section(page, "3 · Learning rate")
    page.locator('svg.svg-chart[aria-label^="2-D slice"]').wait_for()
    wait_for_charts(page)
    page.screenshot(path=str(SHOTS / "learning_rate.png"), full_page=True)
    choose_section(page, "4 · Initialisation & depth")
    plotly_chart(page, "10 conv layers").wait_for()
    wait_for_charts(page)
    page.screenshot(path=str(SHOTS / "learning_depth.png"), full_page=True)
    choose_section(page, "5 · Epochs & batches")
    assert metric_value(page, "Iterations (steps) per epoch") == "31"
    page.screenshot(path=str(SHOTS / "learning_epochs.png"), full_page=True)


def test_the_imagenet_gallery_compares_the_winners(page, server_url):
    open_lab(page, server_url, "imagenet_gallery")
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=90_000
    )
    assert plotly_chart(page, "Top-5 error of the winning entry").count() == 1
    assert metric_value(page, "Parameters") == "61.10 M", "AlexNet on the left"
    assert page.get_by_text("25.56 M").count() >= 1, "ResNet-50 on the right"
    page.screenshot(path=str(SHOTS / "imagenet_gallery.png"), full_page=True)
    page.get_by_label("Network", exact=True).first.click()
    page.get_by_role("option", name="VGG-16").click()
    wait_for_app(page)
    assert metric_value(page, "Parameters") == "138.36 M"
    assert page.locator('[data-testid="stException"]').count() == 0
    plotly_chart(page, "Top-5 error").screenshot(path=str(SHOTS / "ilsvrc_error_by_year.png"))


@contextlib.contextmanager
def presenter_tab(page, path: str, width: int = 1366, height: int = 768):
    """A new browser session on ``path`` (with its query) in presenter mode at width × height."""
    server_url = "/".join(page.url.split("/", 3)[:3])
    context = page.context.browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        tab.goto(f"{server_url}/{path}{'&' if '?' in path else '?'}presenter=1")
        wait_for_app(tab)
        yield tab
    finally:
        context.close()


OVERFLOW = """element => {
    const scroller = element.querySelector('.dvn-scroller') || element;
    const main = element.closest('[data-testid="stMainBlockContainer"]').getBoundingClientRect();
    return {
        scrollWidth: scroller.scrollWidth,
        clientWidth: scroller.clientWidth,
        right: element.getBoundingClientRect().right,
        mainRight: main.right,
        viewport: window.innerWidth,
    };
}"""
"""How wide an element's content is against its box, and where its right edge is."""
SVG_TEXTS = "elements => elements.map(element => element.textContent)"


def test_the_gallery_s_tables_and_log_axes_fit_a_1366_presenter_screen(page):
    with presenter_tab(page, "imagenet_gallery") as tab:
        plotly_chart(tab, "Size against work").wait_for()
        wait_for_app(tab)
        tab.screenshot(path=str(SHOTS / "presenter_gallery_1366x768.png"))
        tables = tab.locator('[data-testid="stDataFrame"]')
        for index, name in enumerate(["the five networks", "the ILSVRC winners"]):
            table = tables.nth(index)
            table.scroll_into_view_if_needed()
            size = table.evaluate(OVERFLOW)
            assert size["scrollWidth"] <= size["clientWidth"], f"{name}: {size}"
            assert size["right"] <= min(size["mainRight"], size["viewport"]), f"{name}: {size}"
        chart = plotly_chart(tab, "Size against work")
        y_ticks = chart.locator(".ytick text").evaluate_all(SVG_TEXTS)
        x_ticks = chart.locator(".xtick text").evaluate_all(SVG_TEXTS)
        assert y_ticks == ["5", "10", "20", "50", "100", "200"], "parameters (millions)"
        assert x_ticks == ["0.5", "1", "2", "5", "10", "20"], "multiply-adds (billions)"
        tables.nth(1).screenshot(path=str(SHOTS / "presenter_gallery_winners_1366x768.png"))


def label_fits(button) -> bool:
    """Whether a button's label shows whole (no ellipsis: its text is as wide as its box)."""
    label = button.locator('[data-testid="stMarkdownContainer"]')
    return label.evaluate("element => element.scrollWidth <= element.clientWidth")


def test_start_training_is_never_cut_short_and_the_film_shows_the_change_first(page):
    """At 1366 × 768 in presenter mode: before, during and after a run on the shapes, and
    with the "settings changed" note beside the buttons."""
    with presenter_tab(page, "train?train_dataset=shapes") as tab:
        start = tab.get_by_role("button", name="Start training")
        assert label_fits(start), "before a run"
        tab.screenshot(path=str(SHOTS / "presenter_train_start_1366x768.png"))
        start.click()
        tab.wait_for_function("() => document.body.innerText.includes('running ·')")
        assert label_fits(start) and label_fits(tab.get_by_role("button", name="Stop"))
        tab.screenshot(path=str(SHOTS / "presenter_train_running_1366x768.png"))
        wait_for_results(tab)
        change = plotly_chart(tab, "Change since initialisation, scale ±")
        weights = plotly_chart(tab, "First-layer filters over training")
        assert change.bounding_box()["y"] < weights.bounding_box()["y"], "the change first"
        change.scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / "presenter_train_film_1366x768.png"))
        tab.get_by_text("3 · Training settings").click()
        press_slider(tab, "Epochs", "ArrowRight", 1)
        tab.get_by_text("Settings changed since the last run").wait_for()
        for name in ("Start training", "Stop", "Resume"):
            assert label_fits(tab.get_by_role("button", name=name)), name
        start.scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / "presenter_train_changed_1366x768.png"))


def test_a_residual_network_trained_from_the_command_line_opens_on_inspect(
    page, server_url, runs_root
):
    """``--arch resnet`` from the CLI into this browser's workspace, then Inspect's views."""
    open_lab(page, server_url, "inspect")
    kept = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    workspace = kept[train_page.WORKSPACE_COOKIE]
    assert runs.is_workspace_id(workspace) and workspace not in page.url
    out = runs_root / workspace / "resnet-shapes"
    command = [
        sys.executable,
        "-m",
        "explorer.train",
        "--dataset",
        "shapes",
        "--arch",
        "resnet",
        "--epochs",
        "1",
        "--out",
        str(out),
    ]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert finished.returncode in (0, 3), finished.stderr[-2000:]
    assert (out / "checkpoint.msgpack").exists()
    open_lab(page, server_url, "inspect")  # the same workspace: the browser keeps it
    page.get_by_label("Network", exact=True).first.click()
    page.get_by_role("option", name=re.compile("resnet-shapes")).first.click()
    wait_for_app(page)
    for view in ("Receptive field", "Why this prediction?", "Every layer"):
        page.get_by_role("radio", name=view, exact=True).click()
        wait_for_app(page)
        page.get_by_role("heading", name=view, exact=True).wait_for()
        if view == "Receptive field":  # the last residual block: 3 + 2·(1+1+1+2+2+4) = 25
            page.get_by_label("Stage", exact=True).click()
            page.get_by_role("option", name="act4", exact=True).click()
            wait_for_app(page)
            page.get_by_text("Theoretical window: 25×25").wait_for()
        assert page.locator('[data-testid="stException"]').count() == 0, view
        name = view.split()[0].lower().rstrip("?")
        page.screenshot(path=str(SHOTS / f"inspect_resnet_{name}.png"), full_page=True)


SHOWN_VALUE = """e => {
    const thumbs = [...e.querySelectorAll('[data-testid="stSliderThumbValue"]')];
    if (thumbs.length) return thumbs.map(t => t.innerText.trim()).join(',');
    if (e.querySelector('[data-testid="stMultiSelect"]')) return e.innerText;
    const combo = e.querySelector('input[role="combobox"]');
    if (combo) return combo.value;
    const active = e.querySelector('[data-testid$="segmented_controlActive"]');
    if (active) return active.innerText.trim();
    const checked = [...e.querySelectorAll('input:checked')];
    if (checked.length) return checked.map(i => i.closest('label').innerText.trim()).join(',');
    return e.innerText;
}"""
"""What a keyed widget shows: a slider's value, a select box's choice, the active segment or
checked radio option; a multiselect's text holds every chosen tag."""

WIDGET_OF_SETTING = {"presets_wanted": "presets"}
"""Linked settings kept under another name than the widget that shows them."""


def shown_text(setting: str, text: str) -> str:
    """The text a widget shows for a setting's URL text."""
    if setting == "train_dataset":
        return registry.DATASETS[text].title
    if setting == "preset":
        return model.PRESETS[text].title
    if setting == "inspect_model":
        return runs.choice_label(text)
    return text.replace(",", "\n") if setting == "presets_wanted" else text


def widget_shows(tab, key: str, expected: str) -> str:
    """What the widget with ``key`` shows, once it shows ``expected`` or after 20 s."""
    widget = tab.locator(f".st-key-{key}").first
    deadline = time.monotonic() + 20
    while True:
        shown = widget.evaluate(SHOWN_VALUE)
        if expected in shown or time.monotonic() > deadline:
            return shown
        time.sleep(0.25)


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A server no browser has opened yet: the first lesson link is its first request."""
    with streamlit_server(tmp_path_factory.mktemp("lessons")) as (url, _):
        yield url


@pytest.mark.parametrize("lesson", labs.LESSONS, ids=lambda lesson: lesson.key)
def test_a_lesson_link_shows_its_settings_and_a_reload_keeps_them(page, fresh_server, lesson):
    lab = labs.lab_of(lesson)
    query = urllib.parse.urlencode({**dict(lesson.settings), "lesson": lesson.key})
    tab = page.context.browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    tab.set_default_timeout(90_000)
    try:
        tab.goto(f"{fresh_server}/{lab.url_path}?{query}")
        for attempt in ("opened", "reloaded"):
            wait_for_app(tab)
            tab.get_by_role("heading", name=lab.name).first.wait_for()
            tab.get_by_text(lesson.guidance.split(". ")[0]).first.wait_for()
            for setting, text in lesson.settings:
                shown = widget_shows(
                    tab, WIDGET_OF_SETTING.get(setting, setting), shown_text(setting, text)
                )
                assert shown_text(setting, text) in shown, f"{attempt}: {setting} shows {shown!r}"
            assert tab.locator('[data-testid="stException"]').count() == 0
            tab.screenshot(path=str(SHOTS / f"lesson_{lesson.key}_{attempt}.png"))
            tab.reload()
    finally:
        tab.context.close()


PRESENTER_SCREENS = [(1366, 768), (1920, 1080)]
MAIN_FIGURE_SHOWN_PX = 200
"""How much of a lab's main figure must show without scrolling in presenter mode."""


@pytest.mark.parametrize(("width", "height"), PRESENTER_SCREENS)
def test_presenter_mode_shows_each_labs_main_figure_without_scrolling(page, width, height):
    """Opens each lab (on its first lesson, if it has one) in presenter mode; saves the
    screenshots to look at."""
    server_url = page.url.split("/", 3)[:3]
    context = page.context.browser.new_context(viewport={"width": width, "height": height})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        for lab in labs.LABS:
            lesson = (
                {**dict(lab.lessons[0].settings), "lesson": lab.lessons[0].key}
                if lab.lessons
                else {}
            )
            query = {**lesson, "presenter": "1"}
            tab.goto(f"{'/'.join(server_url)}/{lab.url_path}?{urllib.parse.urlencode(query)}")
            wait_for_app(tab)
            if lab.file == "5_train.py":  # before a run, its main control
                main = tab.get_by_role("button", name="Start training").first
            else:
                main = tab.locator(FIGURE).first
            main.wait_for()
            wait_for_app(tab)
            box = main.bounding_box()
            tab.screenshot(path=str(SHOTS / f"presenter_{lab.url_path}_{width}x{height}.png"))
            assert box["y"] + min(box["height"], MAIN_FIGURE_SHOWN_PX) <= height, lab.name
            assert tab.get_by_text("Deploy", exact=True).count() == 0, "no developer menu"
            assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


MISTAKE_LESSON = next(lesson for lesson in labs.LESSONS if lesson.key == "mistake")
GRID_COUNTS = """() => {
    const cells = [...document.querySelectorAll('[class*="st-key-cm_"] button')];
    return cells.map(b => [
        b.closest('[class*="st-key-cm_"]').className.match(/st-key-cm_(\\d+)_(\\d+)/)
            .slice(1).map(Number),
        Number(b.innerText.replace(/,/g, '')),
    ]);
}"""
"""Each confusion-matrix cell's (true, predicted) and the count its button shows."""
IMAGES_LOADED = """() => [...document.querySelectorAll('[data-testid="stImage"] img')]
    .every(image => image.complete && image.naturalWidth > 0)"""


def gallery_caption_px(tab, key: str) -> float:
    """The font size (CSS px) of the caption beside the "Explain this one" button ``key``."""
    button = tab.locator(f".st-key-{key}")
    column = button.locator("xpath=ancestor::div[@data-testid='stColumn'][1]")
    caption = column.locator('[data-testid="stMarkdownContainer"] p').first
    return caption.evaluate("p => parseFloat(getComputedStyle(p).fontSize)")


def test_the_mistake_lesson_explains_a_misclassified_test_digit(page, server_url):
    """Presenter mode at 1366×768: the lesson link opens the confusion matrix on its most
    common mistake with that cell's digits; a click on another cell shows its digits
    (captions ≥ 16 px); "Explain this one" opens "Why this prediction?" on that digit,
    explaining the class the network predicted for it."""
    context = page.context.browser.new_context(viewport={"width": 1366, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    query = {**dict(MISTAKE_LESSON.settings), "lesson": MISTAKE_LESSON.key, "presenter": "1"}
    try:
        open_lab(tab, server_url, f"inspect?{urllib.parse.urlencode(query)}")
        grid = tab.locator(".st-key-confusion_grid")
        grid.wait_for()
        tab.wait_for_function(  # a fresh browser draws buttons once their code has loaded
            f"() => new Set(({GRID_COUNTS})().map(([cell]) => cell.join())).size === 100"
        )
        tab.wait_for_function(IMAGES_LOADED)
        tab.screenshot(path=str(SHOTS / "mistake_lesson_1366x768.png"))
        top = grid.bounding_box()["y"]
        assert top + MAIN_FIGURE_SHOWN_PX <= 768, "the matrix starts on the first screen"
        cells = {tuple(cell): count for cell, count in tab.evaluate(GRID_COUNTS)}
        assert len(cells) == 100
        mistakes = sorted(
            ((-count, cell) for cell, count in cells.items() if cell[0] != cell[1] and count),
        )
        largest, second = mistakes[0][1], mistakes[1][1]
        opened = tab.get_by_text(f"“{largest[0]}” predicted as “{largest[1]}”: ").first
        assert "most common mistake" in opened.inner_text()
        assert tab.locator('[class*="st-key-explain_cell_"]').count() > 0, "its digits"
        tab.locator(".st-key-cm_0_0 button:visible").focus()
        tab.keyboard.press("Tab")
        focused = tab.evaluate(
            "() => document.activeElement.closest('[class*=st-key-cm_]')?.className"
        )
        assert "st-key-cm_0_1 " in f"{focused} ", "Tab goes from cell to cell"
        tab.locator(f".st-key-cm_{second[0]}_{second[1]} button:visible").click()
        wait_for_app(tab)
        tab.get_by_text(f"“{second[0]}” predicted as “{second[1]}”: ").first.wait_for()
        buttons = tab.locator('[class*="st-key-explain_cell_"]')
        assert buttons.count() == min(cells[second], mistakes_view.CELL_IMAGES)
        key = re.search(r"st-key-(explain_cell_\d+)", buttons.first.get_attribute("class"))[1]
        assert gallery_caption_px(tab, key) >= 16
        tab.locator(f".st-key-{key}").scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / "mistake_cell_clicked_1366x768.png"))
        index = int(key.removeprefix("explain_cell_"))
        tab.locator(f".st-key-{key} button:visible").click()
        prediction = new_prediction(tab, None)
        tab.get_by_role("heading", name="Why this prediction?").wait_for()
        sample = widget_shows(tab, "sample_name", f"test image {index + 1:,}")
        assert sample.startswith(f"test image {index + 1:,}"), sample
        tab.get_by_text(f"its true class is “{second[0]}”").first.wait_for()
        assert explained_as_predicted(tab, prediction) == str(second[1])
        assert_maps_explain(tab, str(second[1]))
        tab.get_by_role("heading", name="Why this prediction?").scroll_into_view_if_needed()
        tab.screenshot(path=str(SHOTS / "mistake_explained_1366x768.png"))
        assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
