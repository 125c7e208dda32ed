"""Every page runs headless in AppTest, and its controls change what is shown."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import zipfile
from pathlib import Path

import msgpack
import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer import labs, links, runs, starter_models, ui
from explorer.data import registry, shapes
from explorer.ui import browser_cookie, inspect_page, learning_page, mistakes_view, train_page

PAGES = [lab.file for lab in (labs.HOME, *labs.LABS)]
TIMEOUT = 120
APP = str(Path(__file__).resolve().parent / "app_entry.py")
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
STARTER_LABELS = [f"{s.name} (starter model, ships with the app)" for s in starter_models.STARTERS]
WORKSPACE = "a" * 32
"""A session's workspace id (set in session state, as the app would make one)."""


def open_page(page: str, sample: str = "MNIST digit 3", **state) -> AppTest:
    """Run the app, pick a sample image, and open ``page``."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        app.session_state[key] = value
    app.run()
    app.sidebar.selectbox(key="sample_name").select(sample).run()
    app.switch_page(str(PAGES_DIR / page)).run()
    return app


def metric(app: AppTest, label: str) -> str:
    return next(m.value for m in app.metric if m.label == label)


def plotly_array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata", ["shape"]}."""
    if not isinstance(value, dict):
        return np.array(value, dtype=float)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    shape = [int(side) for side in str(value.get("shape", len(flat))).split(",")]
    return flat.reshape(shape)


def chart(app: AppTest, title: str) -> dict:
    """The plotly figure (as a dict) whose title starts with ``title``."""
    for element in app.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        if figure["layout"].get("title", {}).get("text", "").startswith(title):
            return figure
    raise AssertionError(f"no chart titled {title!r}")


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(page):
    app = open_page(page)
    assert not app.exception, app.exception
    assert app.title, "every page has a title"
    if page != labs.HOME.file:
        assert app.title[0].value == labs.by_file(page).heading, "from the lab registry"


def test_pages_wait_for_an_upload():
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.sidebar.radio(key="image_source").set_value("Upload").run()
    app.switch_page(str(PAGES_DIR / "2_convolution.py")).run()
    assert not app.exception
    assert any("sidebar to begin" in info.value for info in app.info)


def test_choosing_the_canvas_does_not_fail():
    """The canvas itself is a browser component: drawing is tested in Chromium."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.sidebar.radio(key="image_source").set_value("Draw").run()
    assert not app.exception


def test_image_page_reports_shape_and_colour_channels():
    app = open_page("1_image_as_numbers.py", sample="cat (photo)", working_size=64)
    assert metric(app, "Shape (H × W × C)") == "43 × 64 × 1"
    app.sidebar.radio(key="colour_mode").set_value("rgb").run()
    assert metric(app, "Shape (H × W × C)") == "43 × 64 × 3"
    assert not app.exception


def test_convolution_controls_change_the_output_shape():
    app = open_page("2_convolution.py", working_size=28)
    assert metric(app, "Output") == "26×26×4"
    app.slider(key="kernel_size").set_value(5).run()
    assert metric(app, "Output") == "24×24×4"
    app.slider(key="stride").set_value(2).run()
    assert metric(app, "Output") == "12×12×4"
    app.radio(key="padding_mode").set_value("same").run()
    assert metric(app, "Output") == "14×14×4"
    app.slider(key="filter_count").set_value(16).run()
    assert metric(app, "Output") == "14×14×16"
    assert metric(app, "Learnable parameters") == f"{5 * 5 * 1 * 16 + 16:,}"
    assert not app.exception


def test_colour_kernels_have_depth_three():
    app = open_page("2_convolution.py", sample="astronaut (photo)", working_size=32)
    app.sidebar.radio(key="colour_mode").set_value("rgb").run()
    assert metric(app, "Each kernel") == "3×3×3"
    app.slider(key="kernel_size").set_value(5).run()
    assert any("75 multiplications" in md.value for md in app.markdown)


def test_impossible_setting_is_explained_not_crashed():
    app = open_page("2_convolution.py", working_size=28)
    app.slider(key="kernel_size").set_value(11).run()
    app.slider(key="dilation").set_value(3).run()
    assert not app.exception
    assert any("Impossible setting" in error.value for error in app.error)


def test_sliding_window_step_moves_the_cell():
    app = open_page("2_convolution.py", working_size=28)
    first = [md.value for md in app.markdown if "Output cell" in md.value]
    app.slider(key="window_step").set_value(30).run()
    second = [md.value for md in app.markdown if "Output cell" in md.value]
    assert first and second and first != second
    assert "(row 1, col 4)" in second[0]


def test_pooling_controls_change_sizes():
    app = open_page("3_activation_pooling.py", working_size=28)
    assert metric(app, "After pooling") == "13×13×4"
    app.slider(key="pool_window").set_value(3).run()
    app.slider(key="pool_stride").set_value(3).run()
    assert metric(app, "After pooling") == "8×8×4"
    app.selectbox(key="activation").select("tanh").run()
    assert not app.exception


def svg_charts_on(app: AppTest) -> dict[str, str]:
    """The page's SVG charts (drawn through Markdown), by their accessible label."""
    charts = [md.value for md in app.markdown if md.value.startswith("<svg")]
    return {re.search(r'aria-label="([^"]*)"', svg).group(1): svg for svg in charts}


def test_lab_3_histogram_counts_every_feature_map_value_before_and_after_activation():
    app = open_page("3_activation_pooling.py", working_size=28)
    charts = svg_charts_on(app)
    assert set(charts) == {"ReLU(x)", "Values of all feature maps", "Change against diagonal shift"}
    height, width, filters = map(int, metric(app, "Feature maps").split("×"))
    counts = {"before (conv output)": 0, "after ReLU": 0}
    for name, count in re.findall(
        r"<title>([^:<]+): \[[^)]*\) ([\d,]+)</title>", charts["Values of all feature maps"]
    ):
        counts[name] += int(count.replace(",", ""))
    assert counts == {name: height * width * filters for name in counts}


def test_the_shift_demo_shows_a_digit_by_default_and_its_verdict_holds_in_its_numbers():
    from explorer import images, invariance, ops, samples

    app = open_page("3_activation_pooling.py", sample="cat (photo)")
    assert app.get("button_group")[0].value == "an MNIST digit"
    digit = images.to_working_image(samples.load_sample("MNIST digit 3"), "grayscale", 28)
    kernels = ops.build_filter_bank(3, 1, 4, ui.DEFAULT_PRESETS).kernels
    geometry = ops.conv_geometry((28, 28), 3, 1, ui.SETTING_DEFAULTS["padding_mode"], 1)
    expected = invariance.compare_shift(digit, kernels, geometry, "relu", "max", 2, 2, (1, 1))
    (verdict,) = [md.value for md in app.markdown if md.value.startswith("This shift changed")]
    assert verdict == invariance.shift_verdict(expected, "max")
    assert f"**{expected.pixels:.3f}**" in verdict and expected.global_max < expected.pixels
    app.get("button_group")[0].set_value("your picture").run()
    assert not app.exception
    assert any("A photo's edges" in info.value for info in app.info)


def test_pooling_window_too_large_is_explained():
    app = open_page("3_activation_pooling.py", working_size=28)
    app.slider(key="kernel_size").set_value(11).run()
    app.slider(key="pool_window").set_value(8).run()
    app.slider(key="pool_stride").set_value(8).run()
    app.slider(key="stride").set_value(5).run()
    assert not app.exception
    assert any("pooling window" in error.value for error in app.error)


def test_frequency_page_shows_convolution_theorem_holds():
    app = open_page("4_frequency.py", working_size=64)
    difference = float(metric(app, "Largest difference"))
    assert difference < 1e-9
    before = [md.value for md in app.markdown if "keeps" in md.value]
    app.slider(key="cutoff").set_value(0.5).run()
    after = [md.value for md in app.markdown if "keeps" in md.value]
    assert before != after
    assert not app.exception


def test_frequency_page_shows_both_ways_of_sliding_a_kernel():
    """Lab 4 defaults to what Lab 2 computes (cross-correlation); convolution flips Sobel x."""
    app = open_page("4_frequency.py", working_size=64)
    assert app.radio(key="theorem_operation").value == "cross-correlation"
    correlated = plotly_array(chart(app, "Cross-correlation in space")["data"][0]["z"])
    app.radio(key="theorem_operation").set_value("convolution").run()
    assert not app.exception
    convolved = plotly_array(chart(app, "Convolution in space")["data"][0]["z"])
    inside = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(convolved[inside], -correlated[inside], atol=1e-4)


def test_train_page_uses_a_share_of_the_training_images_and_counts_the_iterations():
    app = open_page("5_train.py", train_dataset="shapes", working_size=28)
    assert any(
        "2,400 images in batches of 128 make **18 iterations**" in c.value for c in app.caption
    )
    app.select_slider(key="train_share").set_value(25).run()
    assert not app.exception
    assert any("600 images in batches of 128 make **4 iterations**" in c.value for c in app.caption)


def test_settings_are_shared_between_pages():
    app = open_page("2_convolution.py", working_size=28)
    app.slider(key="filter_count").set_value(6).run()
    app.switch_page(str(PAGES_DIR / "3_activation_pooling.py")).run()
    assert metric(app, "Feature maps") == "26×26×6"


def test_train_then_inspect_a_network(tmp_path, monkeypatch):
    """Train the shapes set for one epoch on the Train page, then inspect the result."""
    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    app = open_page("5_train.py", train_dataset="shapes", epochs=1, working_size=28)
    assert not app.exception
    assert metric(app, "Image shape") == "28×28×1"
    app.button(key="start").click().run()
    run = app.session_state["training_run"]
    assert run.session.wait(240), "training did not finish in 4 minutes"
    app.run()
    assert not app.exception
    accuracy = float(metric(app, "Test accuracy").rstrip("%")) / 100
    assert accuracy > 0.5, "six shape classes: chance is 17%"
    workspace = app.session_state["workspace_id"]
    saved = list(tmp_path.glob("*/*/checkpoint.msgpack"))
    assert [path.parent.parent.name for path in saved] == [workspace], "saved in the workspace"
    # 2,400 training images / 128 = 18 steps, 2 per call: 9 loss points in the one epoch
    loss = chart(app, "Loss (cross-entropy)")
    assert len(loss["data"][0]["x"]) == 9 and loss["data"][0]["x"][-1] == pytest.approx(1.0)
    assert loss["data"][1]["x"] == [1], "one validation marker per epoch"
    assert [shape["x0"] for shape in loss["layout"]["shapes"]] == [1], "the best epoch marked"
    assert any("in epoch 1 (dotted line)" in caption.value for caption in app.caption)
    counts = "2,400 images in batches of 128 make **18 iterations**"
    assert any(counts in caption.value for caption in app.caption)
    film = chart(app, "First-layer filters over training")
    assert plotly_array(film["data"][0]["z"]).shape == (2 * 4 - 1, 16 * 4 - 1), "init + epoch 1"
    assert film["layout"]["yaxis"]["ticktext"][0] == "init"
    change_figure = chart(app, "Change since initialisation, scale ±")
    change = plotly_array(change_figure["data"][0]["z"])
    assert change.shape == (3, 16 * 4 - 1), "one row of 16 3×3 filters: epoch 1 − init"
    titles = [json.loads(e.proto.spec)["layout"]["title"]["text"] for e in app.get("plotly_chart")]
    assert titles.index(change_figure["layout"]["title"]["text"]) + 1 == titles.index(
        "First-layer filters over training"
    ), "the change first, then the weights"
    limit = float(np.nanmax(np.abs(change)))  # the raw change of the tiles drawn
    heatmap = change_figure["data"][0]
    assert (heatmap["zmin"], heatmap["zmax"]) == pytest.approx((-limit, limit), rel=1e-6)
    assert f"±{limit:.2g}" in change_figure["layout"]["title"]["text"]
    assert any(f"own scale, ±{limit:.2g}. By epoch 1" in c.value for c in app.caption)
    assert any("noise turns into edge" in caption.value for caption in app.caption)
    assert "run" not in app.query_params and "workspace" not in app.query_params, "no secrets"
    monkeypatch.setattr(browser_cookie, "kept", {train_page.WORKSPACE_COOKIE: workspace}.get)
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reloaded.session_state["train_dataset"] = "shapes"
    reloaded.run()
    reloaded.switch_page(str(PAGES_DIR / "5_train.py")).run()
    assert reloaded.session_state["workspace_id"] == workspace, "the browser kept the workspace"
    assert reloaded.session_state["training_run"] is run, "and a reload re-attaches to its run"
    assert metric(reloaded, "Test accuracy") == metric(app, "Test accuracy")
    monkeypatch.setattr(browser_cookie, "kept", {}.get)
    stranger = AppTest.from_file(APP, default_timeout=TIMEOUT)
    stranger.query_params["run"] = run.token
    stranger.run()
    stranger.switch_page(str(PAGES_DIR / "5_train.py")).run()
    assert "training_run" not in stranger.session_state
    assert stranger.session_state["workspace_id"] != workspace
    stranger.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert stranger.selectbox(key="inspect_model").options == STARTER_LABELS, "only starters"
    app.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert not app.exception
    assert [h.value for h in app.header] == ["Every layer"], "the view, then its prediction"
    assert app.select_slider(key="stage_key").value == "act1"
    for key in ("conv1", "pool2", "logits"):
        app.select_slider(key="stage_key").set_value(key).run()
        assert not app.exception, key
    logits = svg_charts_on(app)["Class scores (logits)"]
    assert re.findall(r"<title>value, ([^:<]+): ", logits) == list(shapes.SHAPE_CLASSES)
    assert len(app.get("plotly_chart")) == 3, "input, network's view, probabilities"
    for view in inspect_page.INSPECT_VIEWS:
        app.get("button_group")[0].set_value(view.label).run()
        assert not app.exception, view.label
        assert [h.value for h in app.header] == [view.label]
        softmax = [c for c in app.get("plotly_chart") if "Softmax" in c.proto.spec]
        assert bool(softmax) == view.needs_picture, "the picture's prediction in its views"
    app.get("button_group")[0].set_value("Test-set mistakes").run()
    assert float(metric(app, "Test accuracy").rstrip("%")) / 100 == pytest.approx(accuracy)
    app.get("button_group")[0].set_value("Robustness: CNN vs MLP").run()
    app.radio(key="robust_mode").set_value(inspect_page.CHOSEN).run()
    robust = chart(app, "Test accuracy as the images are moved")
    assert [trace["x"] for trace in robust["data"]] == [list(range(9))], "one model, 9 shifts"
    tested = app.session_state["training_run"].evaluation.accuracy  # train.evaluate's count
    assert robust["data"][0]["y"][0] == pytest.approx(tested), "all 300 test images, unmoved"
    assert any("MLP baseline" in info.value for info in app.info), "says how to train the MLP"


def _colour_film_page():
    """The Train page's film strip of a colour model: init and one epoch of 16 3×3×3 kernels."""
    import numpy as np

    from explorer.ui import train_page

    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 3, 3, 16)).astype(np.float32)
    train_page._filter_film((start, start + rng.normal(0, 0.1, start.shape).astype(np.float32)))


def test_a_colour_model_shows_its_filter_film_in_colour():
    """The film strip is an RGB image: each tile exactly explain.film_as_rgb of the kernels."""
    from explorer import explain

    app = AppTest.from_function(_colour_film_page, default_timeout=TIMEOUT).run()
    assert not app.exception
    film = chart(app, "First-layer filters over training")
    assert film["data"][0]["type"] == "image"
    rgb = plotly_array(film["data"][0]["z"]).reshape(2 * 4 - 1, 16 * 4 - 1, 3)
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 3, 3, 16)).astype(np.float32)
    later = start + rng.normal(0, 0.1, start.shape).astype(np.float32)
    expected = explain.film_as_rgb(explain.filter_film((start, later))[0])
    np.testing.assert_allclose(rgb[4:7, 8:11], np.round(expected[1, 2] * 255), atol=0.5)
    assert not (rgb[:3, :3, 0] == rgb[:3, :3, 1]).all(), "not grey: the channels differ"
    limit = float(np.abs(later - start).max())  # film_as_rgb's one scale of the change
    change = chart(app, f"Change since initialisation, scale ±{limit:.2g}")
    assert change["data"][0]["type"] == "image"
    moved = np.linalg.norm(later - start) / np.linalg.norm(start)
    note = f"By epoch 1 the first-layer filters moved {moved:.1%} of their size"
    assert any(note in c.value for c in app.caption)
    assert any("three colour channels drawn as one picture" in c.value for c in app.caption)


def _save_untrained(root: Path, name: str, preset: str, shape: tuple, dataset: str) -> dict:
    """A checkpoint of freshly initialised weights (what matters here is the plumbing)."""
    from explorer import checkpoints, model
    from explorer.data.registry import load_shapes
    from explorer.data.shapes import SHAPE_CLASSES
    from explorer.data.splits import split_fingerprint

    spec = model.preset(preset, shape, len(SHAPE_CLASSES))
    variables = model.init_variables(spec, seed=len(name))
    meta = {"name": dataset, "class_names": list(SHAPE_CLASSES), "preprocessing": "resize"}
    if dataset == "shapes":
        meta |= {"split_seed": 0, "test_fingerprint": split_fingerprint(load_shapes(0).test)}
    checkpoints.save_checkpoint(root / name, variables, spec, meta, {})
    return {"spec": spec, "variables": variables}


def test_robustness_compares_a_cnn_with_an_mlp_and_explains_mismatches(tmp_path, monkeypatch):
    from explorer import model, robustness
    from explorer.text import escape_markdown

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    own = tmp_path / WORKSPACE
    _save_untrained(own, "colour-cnn", "tiny", (32, 32, 3), "cifar10")
    mlp = _save_untrained(own, "shapes-mlp", "mlp", (28, 28, 1), "shapes")
    cnn = _save_untrained(own, "shapes-cnn", "tiny", (28, 28, 1), "shapes")
    for age, name in enumerate(["shapes-cnn", "shapes-mlp", "colour-cnn"]):  # newest first
        os.utime(own / name / "checkpoint.msgpack", (1e9 - age, 1e9 - age))
    app = open_page("6_inspect.py", inspect_view="Robustness: CNN vs MLP", workspace_id=WORKSPACE)
    assert not app.exception
    assert app.selectbox(key="inspect_model").value == "shapes-cnn"
    app.radio(key="robust_mode").set_value(inspect_page.CHOSEN).run()
    assert app.multiselect(key="robust_models").value == ["shapes-cnn", "shapes-mlp"]
    figure = chart(app, "Test accuracy as the images are moved")
    names = [trace["name"] for trace in figure["data"]]
    cnn_params = model.count_params(cnn["variables"]["params"])
    mlp_params = model.count_params(mlp["variables"]["params"])
    assert names == [
        f"tiny (CNN that flattens), {cnn_params:,} parameters",
        f"mlp (MLP), {mlp_params:,} parameters",
    ]
    test = registry.load_dataset("shapes", None, 0).test
    images, labels = robustness.fixed_subset(test.images, test.labels)
    for trace, reference in zip(figure["data"], (cnn, mlp), strict=True):
        expected = robustness.accuracy_under(
            reference["spec"], reference["variables"], images, labels, "shift"
        )
        assert trace["x"] == expected[0] and trace["y"] == pytest.approx(expected[1])
    assert not any("MLP baseline" in info.value for info in app.info)
    curves = {trace["name"]: trace["y"] for trace in figure["data"]}
    summary = escape_markdown(robustness.degradation_summary(range(9), curves, 1 / 6, " px"))
    assert any(summary in caption.value for caption in app.caption)
    app.radio(key="robust_transform").set_value("rotation").run()
    assert chart(app, "Test accuracy as the images")["data"][0]["x"] == [0, 10, 20, 30, 45, 60]
    app.multiselect(key="robust_models").unselect("shapes-mlp").select("colour-cnn").run()
    assert not app.exception
    assert any("28×28×1 vs 32×32×3" in warning.value for warning in app.warning)
    assert not [
        element for element in app.get("plotly_chart") if "images are moved" in element.proto.spec
    ]
    chosen = ["shapes-cnn", "colour-cnn"]
    app.sidebar.radio(key="image_source").set_value("Draw").run()  # no picture until drawn
    assert app.multiselect(key="robust_models").value == chosen, "shown without a picture"
    app.get("button_group")[0].set_value("Learned filters").run()
    app.sidebar.radio(key="image_source").set_value("Sample").run()
    app.get("button_group")[0].set_value("Robustness: CNN vs MLP").run()
    assert app.multiselect(key="robust_models").value == chosen, "kept while another view shows"
    assert not app.exception


def test_robustness_opens_on_the_shift_study_and_reads_the_lesson_off_the_curves(
    tmp_path, monkeypatch
):
    from explorer import checkpoints, robustness, starter_models
    from explorer.data import registry
    from explorer.text import escape_markdown
    from explorer.ui import STUDY_KEY

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    app = open_page("6_inspect.py", inspect_view="Robustness: CNN vs MLP")
    assert not app.exception
    assert app.radio(key="robust_mode").value == inspect_page.STUDY
    ticked = [box.key for box in app.checkbox if box.value]
    assert ticked == [STUDY_KEY + name for name in starter_models.SHIFT_LESSON]
    test = registry.load_dataset("mnist-5k", None, 0).test
    images, labels = robustness.fixed_subset(test.images, test.labels)
    expected = {}
    for name in (name for row in starter_models.SHIFT_STUDY for name in row):
        made = checkpoints.load_checkpoint(starter_models.STARTER_DIR / name)
        expected[name] = robustness.accuracy_under(
            made.spec, made.variables, images, labels, "shift"
        )[1]
    figure = chart(app, "Test accuracy as the images are moved")
    mlp, pooled = (expected[name] for name in starter_models.SHIFT_LESSON)
    assert [trace["name"] for trace in figure["data"]] == [
        f"MLP, trained without augmentation (mean {np.mean(mlp):.0%})",
        f"CNN with global average pooling, trained with shift ±4 px (mean {np.mean(pooled):.0%})",
    ]
    for trace, curve in zip(figure["data"], (mlp, pooled), strict=True):
        assert trace["y"] == pytest.approx(curve)
    names = [
        "MLP, trained without augmentation",
        "CNN with global average pooling, trained with shift ±4 px",
    ]
    summary = robustness.degradation_summary(
        range(9), dict(zip(names, (mlp, pooled), strict=True)), 0.1, " px"
    )
    assert any(escape_markdown(summary) in caption.value for caption in app.caption)
    for box in app.checkbox:
        box.check()
    app.run()
    assert len(chart(app, "Test accuracy as the images")["data"]) == 6
    curves = [
        robustness.StudyCurve(kind, shifted, (index > 0,), expected[name])
        for index, (kind, row) in enumerate(
            zip(robustness.NETWORK_KINDS, starter_models.SHIFT_STUDY, strict=True)
        )
        for shifted, name in zip((False, True), row, strict=True)
    ]
    lesson = escape_markdown(robustness.study_summary(curves))
    assert lesson.count("Shift augmentation") == 3 and lesson.count("same layers") == 2
    assert any(lesson in caption.value for caption in app.caption)


def test_inspect_says_why_the_folder_a_model_was_trained_from_is_not_used(tmp_path, monkeypatch):
    from explorer import checkpoints, model
    from explorer.data import registry

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    spec = model.preset("tiny", (28, 28, 1), 10)
    record = {
        "name": "mnist",
        "class_names": list(registry.DIGITS),
        "preprocessing": "digit",
        "split_seed": 0,
        "test_fingerprint": "0" * 32,
        "data_folder": str(tmp_path / "elsewhere"),
    }
    checkpoints.save_checkpoint(
        tmp_path / WORKSPACE / "elsewhere-cnn", model.init_variables(spec), spec, record, {}
    )
    app = open_page("6_inspect.py", inspect_view="Test-set mistakes", workspace_id=WORKSPACE)
    assert not app.exception
    assert app.selectbox(key="inspect_model").value == "elsewhere-cnn"
    (off,) = [c.value for c in app.caption if c.value.startswith("Test-set views are off.")]
    assert "elsewhere" in off and "not a data folder this app offers" in off


def test_presets_survive_a_trip_to_kernel_size_one():
    app = open_page("2_convolution.py", working_size=28)
    chosen = ["sobel x", "sobel y", "laplacian", "gaussian blur"]
    assert app.multiselect(key="presets").value == chosen
    app.slider(key="kernel_size").set_value(1).run()
    assert app.multiselect(key="presets").value == ["gaussian blur"]
    app.slider(key="kernel_size").set_value(3).run()
    assert app.multiselect(key="presets").value == chosen
    app.multiselect(key="presets").unselect("laplacian").run()
    app.slider(key="kernel_size").set_value(1).run()
    app.slider(key="kernel_size").set_value(5).run()
    assert app.multiselect(key="presets").value == ["sobel x", "sobel y", "gaussian blur"]
    assert not app.exception


def test_no_widget_is_given_a_default_and_a_session_state_value():
    """Streamlit logs a warning with a stack trace for each such widget."""
    warnings = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: warnings.append(record.getMessage())
    policies = logging.getLogger("streamlit.elements.lib.policies")
    policies.addHandler(handler)
    try:
        app = open_page("3_activation_pooling.py", working_size=28)
        app.sidebar.radio(key="image_source").set_value("Draw").run()
        app.sidebar.radio(key="image_source").set_value("Sample").run()
        app.switch_page(str(PAGES_DIR / "2_convolution.py")).run()
    finally:
        policies.removeHandler(handler)
    assert not app.exception
    assert not [text for text in warnings if "created with a default value" in text]


def test_a_photo_shown_to_a_shapes_model_gets_a_remark_beside_the_prediction(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    _save_untrained(tmp_path / WORKSPACE, "shapes-cnn", "tiny", (28, 28, 1), "shapes")
    app = open_page("6_inspect.py", sample="cat (photo)", workspace_id=WORKSPACE)
    assert not app.exception
    (remark,) = [w.value for w in app.warning if "unlike the images" in w.value]
    assert "colour picture" in remark and "confidence is not familiarity" in remark


def test_a_checkpoint_without_its_split_turns_the_test_set_views_off(tmp_path, monkeypatch):
    """An older checkpoint does not say how its test split was made: no "test" accuracy."""
    from explorer import checkpoints
    from explorer.data.shapes import SHAPE_CLASSES

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    folder = tmp_path / WORKSPACE / "old"
    old = _save_untrained(folder.parent, "old", "tiny", (28, 28, 1), "shapes")
    meta = {"name": "shapes", "class_names": list(SHAPE_CLASSES), "preprocessing": "resize"}
    checkpoints.save_checkpoint(folder, old["variables"], old["spec"], meta, {})
    app = open_page("6_inspect.py", inspect_view="Test-set mistakes", workspace_id=WORKSPACE)
    assert not app.exception
    assert any("does not record how its test split was made" in c.value for c in app.caption)
    assert not [m for m in app.metric if m.label == "Test accuracy"]


def _checkpoint_data(name: str, class_names=None, dataset: str = "shapes") -> bytes:
    """The bytes of an untrained shapes checkpoint (``name`` changes its weights)."""
    from explorer import checkpoints, model
    from explorer.data.shapes import SHAPE_CLASSES

    names = list(class_names or SHAPE_CLASSES)
    spec = model.preset("tiny", (28, 28, 1), len(names))
    meta = {"name": dataset, "class_names": names, "preprocessing": "resize"}
    variables = model.init_variables(spec, seed=len(name))
    return checkpoints.checkpoint_bytes(variables, spec, meta, {"made_for": name})


def _import(app: AppTest, filename: str, data: bytes) -> None:
    app.file_uploader(key="checkpoint_upload").set_value((filename, data, "application/x-msgpack"))
    app.run()
    app.button(key="checkpoint_import").click().run()


def _own_models(app: AppTest) -> list[str]:
    picks = [box for box in app.selectbox if box.key == "checkpoint_pick"]
    return list(picks[0].options) if picks else []


def test_sessions_see_only_their_own_models_and_the_read_only_class_models(tmp_path, monkeypatch):
    from explorer import checkpoints

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("CNN_EXPLORER_CLASS_MODELS", str(tmp_path / "class"))
    teacher = tmp_path / "class" / "teacher-cnn" / "checkpoint.msgpack"
    checkpoints.write_atomically(teacher, _checkpoint_data("teacher"))
    published = teacher.read_bytes()
    alice = open_page("5_train.py", train_dataset="shapes")
    bob = open_page("5_train.py", train_dataset="shapes")
    _import(alice, "mine.msgpack", _checkpoint_data("alice"))
    assert any("Imported mine" in success.value for success in alice.success)
    assert _own_models(alice) == ["mine"]
    bob.run()
    assert _own_models(bob) == [], "another session's model is invisible"
    assert any("No saved models in this session" in info.value for info in bob.info)
    _import(bob, "mine.msgpack", _checkpoint_data("bob, longer"))
    _import(bob, "teacher-cnn.msgpack", _checkpoint_data("bob"))
    assert sorted(_own_models(bob)) == ["mine", "teacher-cnn"]
    alice_file = tmp_path / "runs" / alice.session_state["workspace_id"] / "mine"
    loaded = checkpoints.load_checkpoint(alice_file)
    assert loaded.metadata["metrics"] == {"made_for": "alice"}, "not overwritten by Bob's import"
    assert teacher.read_bytes() == published, "a class model cannot be replaced"
    bob.selectbox(key="checkpoint_pick").select("mine").run()
    bob.button(key="checkpoint_delete").click().run()
    assert "mine" not in _own_models(bob)
    assert alice_file.is_dir(), "Bob deleted his own model, not Alice's"
    for app in (alice, bob):
        assert not app.exception
        assert app.selectbox(key="class_model_pick").options == [
            "teacher-cnn (class model)",
            *STARTER_LABELS,
        ]
        assert "class_download" in [button.key for button in app.get("download_button")]
        assert not [b for b in app.button if "delete" in b.key and "class" in b.key]
    alice.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert alice.selectbox(key="inspect_model").options == [
        "mine",
        "teacher-cnn (class model)",
        *STARTER_LABELS,
    ]
    alice.selectbox(key="inspect_model").select("class/teacher-cnn").run()
    assert not alice.exception
    assert any(title.startswith("Softmax") for title in _chart_titles(alice))
    bob.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert bob.selectbox(key="inspect_model").options == [
        "teacher-cnn",
        "teacher-cnn (class model)",
        *STARTER_LABELS,
    ]


def _chart_titles(app: AppTest) -> list[str]:
    return [
        json.loads(element.proto.spec)["layout"].get("title", {}).get("text", "")
        for element in app.get("plotly_chart")
    ]


def test_a_crafted_checkpoint_breaks_no_page_is_never_offered_and_can_be_deleted(
    tmp_path, monkeypatch
):
    from explorer import checkpoints

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    own = tmp_path / WORKSPACE
    good = _checkpoint_data("good")
    checkpoints.write_atomically(own / "good" / "checkpoint.msgpack", good)
    envelope = msgpack.unpackb(good, raw=False)
    metadata = json.loads(envelope["metadata"])
    metadata["metrics"], metadata["dataset"]["name"] = [], ["mnist"]
    envelope["metadata"] = raw = json.dumps(metadata).encode()
    envelope["sha256"] = checkpoints._digest(raw, envelope["variables"])
    checkpoints.write_atomically(own / "crafted" / "checkpoint.msgpack", msgpack.packb(envelope))
    os.utime(own / "crafted" / "checkpoint.msgpack", (2e9, 2e9))  # the newest
    app = open_page("5_train.py", train_dataset="shapes", workspace_id=WORKSPACE)
    assert not app.exception
    table = next(frame.value for frame in app.dataframe if "problem" in frame.value)
    problems = dict(zip(table["name"], table["problem"], strict=True))
    assert problems["good"] == "" and "dataset.name is a list" in problems["crafted"]
    app.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert not app.exception
    assert app.selectbox(key="inspect_model").options == ["good", *STARTER_LABELS], "not crafted"
    app.switch_page(str(PAGES_DIR / "5_train.py")).run()
    app.selectbox(key="checkpoint_pick").select("crafted").run()
    assert "checkpoint_download" not in [b.key for b in app.get("download_button")]
    app.button(key="checkpoint_delete").click().run()
    assert not app.exception
    assert _own_models(app) == ["good"] and not (own / "crafted").exists()


def test_the_train_page_offers_only_the_configured_data_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CNN_EXPLORER_DATA_ROOTS", str(tmp_path / "shared"))
    app = open_page("5_train.py", train_dataset="mnist")
    assert not app.exception
    assert not app.text_input, "no free-text server path"
    roots = [str(tmp_path / "data"), str(tmp_path / "shared")]
    assert app.selectbox(key="data_root").options == roots
    assert str(tmp_path / "data" / "mnist") in app.button(key="download").label
    app.selectbox(key="data_root").select(roots[1]).run()
    assert str(tmp_path / "shared" / "mnist") in app.button(key="download").label
    assert not (tmp_path / "shared" / "mnist").exists(), "nothing downloads without the click"


@pytest.mark.parametrize("shape", [(1, 50, 1), (50, 1, 3), (1, 1, 1), (2, 2, 1), (3, 40, 1)])
def test_images_with_a_one_pixel_side_are_explained_not_crashed(shape, monkeypatch):
    from explorer import ui

    picture = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    monkeypatch.setattr(ui, "_sample_cached", lambda name: picture)
    app = open_page("1_image_as_numbers.py", sample="cat (photo)", working_size=64)
    assert not app.exception, app.exception
    assert metric(app, "Shape (H × W × C)").startswith(f"{shape[0]} × {shape[1]} × ")
    thin = min(shape[:2]) < 3
    assert any("too thin" in info.value for info in app.info) == thin
    tables = [element.proto.body for element in app.get("html")]
    numbers = any("gray channel" in t or "red channel" in t for t in tables)
    assert numbers == (not thin), "a patch's numbers when the image has room for one"


@pytest.mark.parametrize(
    ("picture", "empty"),
    [
        (np.zeros((1, 1, 1), np.uint8), True),
        (np.full((60, 40, 3), 255, np.uint8), True),
        (np.eye(28, dtype=np.uint8)[..., None] * 255, False),
    ],
)
def test_inspect_says_when_the_input_is_empty(picture, empty, tmp_path, monkeypatch):
    from explorer import checkpoints, ui

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    names = ["[click](http://evil.example)", "![i](http://evil.example/i.png)", "c"]
    data = _checkpoint_data("empty", names, dataset="[data](http://evil.example)")
    checkpoints.write_atomically(tmp_path / WORKSPACE / "net" / "checkpoint.msgpack", data)
    monkeypatch.setattr(ui, "_sample_cached", lambda name: picture)
    app = open_page("6_inspect.py", workspace_id=WORKSPACE, inspect_view="Test-set mistakes")
    assert not app.exception
    shown = [caption.value for caption in app.caption]
    app.get("button_group")[0].set_value("Every layer").run()  # a view of the picture
    assert not app.exception
    warnings = [warning.value for warning in app.warning if "input is empty" in warning.value]
    assert len(warnings) == int(empty)
    for text in warnings + shown + [caption.value for caption in app.caption]:
        assert "](http" not in text, "a class or dataset name renders as a link or an image"


def test_upload_and_file_names_are_shown_as_plain_text(monkeypatch):
    name = "![x](http://evil.example/x.png)[click](http://evil.example).png"
    png = io.BytesIO()
    Image.fromarray(np.eye(8, dtype=np.uint8) * 255).save(png, format="PNG")
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.sidebar.radio(key="image_source").set_value("Upload").run()
    app.sidebar.file_uploader(key="upload").set_value((name, png.getvalue(), "image/png")).run()
    app.switch_page(str(PAGES_DIR / "1_image_as_numbers.py")).run()
    assert not app.exception
    shown = [md.value for md in app.markdown if "A computer sees" in md.value]
    assert shown and name not in shown[0], "the name would render as an image and a link"
    shown[0] = shown[0].replace("\u2060", "")  # the word joiners that stop autolinks
    assert "\\!\\[x\\]\\(http\\://evil\\.example/x\\.png\\)\\[click\\]" in shown[0]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for label in ("a", "b"):
            for index in range(4):
                zipped.writestr(f"{label}/{index}.png", png.getvalue())
        zipped.writestr("a/[click](http://evil.example).txt", b"not a picture")
    app.switch_page(str(PAGES_DIR / "5_train.py")).run()
    app.selectbox(key="train_dataset").select(train_page.OWN_ZIP).run()
    app.file_uploader(key="dataset_zip").set_value(("d.zip", archive.getvalue(), "application/zip"))
    app.run()
    assert not app.exception
    skipped = [warning.value for warning in app.warning if "Skipped" in warning.value]
    assert skipped and "\\[click\\]\\(http\\:" in skipped[0] and "[click](" not in skipped[0]


def test_a_reload_keeps_the_workspace_the_browser_kept(monkeypatch):
    first = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    workspace = first.session_state["workspace_id"]
    assert len(workspace) == 32 and "workspace" not in first.query_params
    monkeypatch.setattr(browser_cookie, "kept", {train_page.WORKSPACE_COOKIE: workspace}.get)
    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert reloaded.session_state["workspace_id"] == workspace
    forged_id = "../" + workspace[3:]
    monkeypatch.setattr(browser_cookie, "kept", {train_page.WORKSPACE_COOKIE: forged_id}.get)
    forged = AppTest.from_file(APP, default_timeout=TIMEOUT)
    forged.query_params["workspace"] = forged_id
    forged.run()
    assert forged.session_state["workspace_id"] not in (workspace, forged_id)
    assert "workspace" not in forged.query_params


LEARNING = "learning.py"


def test_learning_lab_takes_steps_on_real_digits_and_resets():
    app = open_page(LEARNING)
    assert not app.exception
    app.radio(key="learn_section").set_value("2 · One step").run()
    before = float(metric(app, "Loss now (cross-entropy)"))
    predicted = float(metric(app, "Loss after this step (same 20 digits)"))
    assert predicted < before and metric(app, "Steps taken") == "0"
    assert any(f"from {before:.4f} to {predicted:.4f}" in c.value for c in app.caption)
    app.button[0].click().run()
    assert metric(app, "Steps taken") == "1"
    assert float(metric(app, "Loss now (cross-entropy)")) == pytest.approx(predicted, abs=1e-4)
    app.button[0].click().run()
    history = svg_charts_on(app)["Loss after each step on this batch"]
    points = re.findall(r"<title>loss on the batch: ([\d.]+) → ([\d.]+)</title>", history)
    assert [float(step) for step, _ in points] == [0, 1, 2]
    np.testing.assert_allclose([float(loss) for _, loss in points[:2]], [before, predicted], 1e-3)
    app.button[1].click().run()
    assert metric(app, "Steps taken") == "0"
    assert float(metric(app, "Loss now (cross-entropy)")) == pytest.approx(before, abs=1e-4)
    for stage in ("conv1", "pool2", "logits"):
        app.select_slider(key="learn_stage").set_value(stage).run()
        assert not app.exception, stage
    app.slider(key="learn_filter").set_value(3).run()
    assert not app.exception


def test_learning_lab_losses_are_computed_from_the_numbers_shown():
    app = open_page(LEARNING)
    text = next(md.value for md in app.markdown if md.value.startswith("**Cross-entropy**"))
    # "**Cross-entropy** = −log p(0) = −log 0.109 = **2.216**  \n**Mean squared error** …"
    probability = float(text.split("−log ")[2].split(" ")[0])
    shown = float(text.split("= **")[1].split("**")[0])
    assert shown == pytest.approx(-np.log(probability), abs=0.01)
    app.radio(key="learn_loss").set_value("mse").run()
    app.radio(key="learn_section").set_value("2 · One step").run()
    assert not app.exception
    assert float(metric(app, "Loss now (mean squared error)")) < 1


def test_learning_lab_shows_overshooting_and_vanishing_gradients():
    app = open_page(LEARNING)
    app.radio(key="learn_section").set_value("3 · Learning rate").run()
    assert not app.exception
    assert any("η = 10 (too large): the loss rose" in w.value for w in app.warning)
    assert any("beyond it a step jumps past the valley" in c.value for c in app.caption)
    surface = svg_charts_on(app)["2-D slice of the loss around W"]
    steps = re.findall(r"<title>(η = [^,<]+), step (\d+): loss ([\d.e+-]+)</title>", surface)
    assert list(dict.fromkeys(name for name, _, _ in steps)) == [
        "η = 0.01 (small)",
        "η = 0.1 (good)",
        "η = 10 (too large)",
    ]
    cells = re.findall(r"<title>α ([^,]+), β ([^:]+): loss ([^<]+)</title>", surface)
    centre = min(cells, key=lambda cell: abs(float(cell[0])) + abs(float(cell[1])))
    start = [float(loss) for _, step, loss in steps if step == "0"]
    assert float(centre[2]) == pytest.approx(start[0], rel=1e-3), "the plane passes through W"
    assert start == [start[0]] * 3, "every path starts at the current weights"
    app.select_slider(key="learn_rate_2").set_value(30.0).run()
    assert not app.exception
    app.radio(key="learn_section").set_value("4 · Initialisation & depth").run()
    assert not app.exception
    assert any("vanishing gradients" in c.value for c in app.caption)
    assert any("near ln 10 = 2.303" in c.value for c in app.caption)
    app.radio(key="learn_section").set_value("5 · Epochs & batches").run()
    assert metric(app, "Iterations (steps) per epoch") == "31"
    assert metric(app, "Iterations in all") == "93"


def test_learning_lab_says_so_when_large_steps_leave_no_gradient():
    app = open_page(LEARNING)
    app.radio(key="learn_loss").set_value("mse").run()
    app.radio(key="learn_section").set_value("2 · One step").run()
    app.select_slider(key="learn_rate").set_value(100.0).run()
    for _ in range(3):  # MSE through a saturated softmax: the gradient becomes exactly 0
        app.button[0].click().run()
    app.radio(key="learn_section").set_value("3 · Learning rate").run()
    assert not app.exception
    assert any("The gradient is zero at the current weights" in i.value for i in app.info)


def test_learning_lab_learns_from_the_sidebar_image_with_a_chosen_label():
    app = open_page(LEARNING, sample="MNIST digit 7")
    app.radio(key="learn_source").set_value(learning_page.OWN_IMAGE).run()
    app.selectbox(key="learn_label").select("7").run()
    app.radio(key="learn_section").set_value("2 · One step").run()
    assert not app.exception
    assert float(metric(app, "Loss after this step (same 1 image)")) < float(
        metric(app, "Loss now (cross-entropy)")
    )


def layer_table(app: AppTest):
    """The Train page's per-layer table (the read-only models table follows it)."""
    return [frame.value for frame in app.dataframe if "layer" in frame.value][-1]


def test_the_layer_editor_builds_a_residual_network_with_global_pooling():
    from explorer import model

    app = open_page("5_train.py", train_dataset="shapes", working_size=28)
    app.selectbox(key="preset").select("resnet").run()
    assert not app.exception
    spec = model.preset("resnet", (28, 28, 1), 6)
    table = layer_table(app)
    assert list(table["kind"]) == [row.kind for row in model.layer_table(spec)]
    assert list(table["layer"])[-2:] == ["gap", "logits"]
    total = sum(row.params for row in model.layer_table(spec))
    assert metric(app, "Parameters") == f"{total:,}"
    assert app.radio(key="head_resnet_28x28x1_6").value == "gap"
    app.radio(key="head_resnet_28x28x1_6").set_value("flatten").run()
    assert list(layer_table(app)["layer"])[-2:] == ["flatten", "logits"]


def test_every_inspect_view_works_on_a_residual_inception_model(tmp_path, monkeypatch):
    from explorer import checkpoints, model
    from explorer.architecture import InceptionBlock, PoolBlock, ResidualBlock
    from explorer.data.shapes import SHAPE_CLASSES

    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    spec = model.ModelSpec(
        (28, 28, 1),
        len(SHAPE_CLASSES),
        (
            model.ConvBlock(8, batch_norm=True, pool="none"),
            ResidualBlock(8, stride=2),
            PoolBlock("max", 3, 2, "same"),
            InceptionBlock(4, 4, 4, 2, 4, 4),
        ),
        head="gap",
        name="kinds",
    )
    meta = {"name": "shapes", "class_names": list(SHAPE_CLASSES), "preprocessing": "resize"}
    variables = model.init_variables(spec)
    checkpoints.save_checkpoint(tmp_path / WORKSPACE / "kinds", variables, spec, meta, {})
    app = open_page("6_inspect.py", workspace_id=WORKSPACE)
    assert not app.exception
    for key in ("res2", "act2", "pool3", "inc4", "gap"):
        app.select_slider(key="stage_key").set_value(key).run()
        assert not app.exception, key
    for view in inspect_page.INSPECT_VIEWS:
        app.get("button_group")[0].set_value(view.label).run()
        assert not app.exception, view.label
    app.get("button_group")[0].set_value("Receptive field").run()
    assert app.selectbox(key="rf_stage").options[-2:] == ["pool3", "inc4"]
    app.get("button_group")[0].set_value("Why this prediction?").run()
    assert app.selectbox(key="cam_block").options == ["1", "2", "4"]


def test_the_gallery_shows_each_network_counted_from_its_description():
    from explorer import gallery

    app = open_page("7_imagenet_gallery.py")
    assert not app.exception
    overview = app.dataframe[0].value
    assert list(overview["network"]) == [e.spec.name for e in gallery.ARCHITECTURES]
    references = [text.split(" · ")[0] for text in overview["torchvision"]]
    assert list(overview["parameters"]) == references
    assert list(overview["depth"]) == ["8", "16", "22", "18", "50"]
    assert list(overview["parameters"])[0] == "61.1 M" and list(overview.columns) == [
        "network",
        "year",
        "depth",
        "parameters",
        "multiply-adds",
        "torchvision",
    ]
    errors = chart(app, "Top-5 error of the winning entry")["data"][0]["y"]
    assert plotly_array(errors).tolist() == [w.top5_error for w in gallery.ILSVRC_WINNERS]
    assert any("21× the parameters of GoogLeNet" in caption.value for caption in app.caption)
    assert metric(app, "Parameters") == "61.10 M"
    app.selectbox(key="gallery_AlexNet").select("GoogLeNet").run()
    left = app.dataframe[2].value
    assert list(left["kind"]).count("inception") == 9
    assert metric(app, "Parameters") == "6.62 M"


def open_link(query: dict[str, str], page: str) -> AppTest:
    """Open the app as a link with ``query`` in its URL, then ``page``."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for name, text in query.items():
        app.query_params[name] = text
    app.run()
    app.switch_page(str(PAGES_DIR / page)).run()
    return app


def test_a_link_opens_its_view_and_the_view_stays_in_the_url():
    query = {"sample_name": "MNIST digit 7", "working_size": "28", "kernel_size": "5"}
    app = open_link({**query, "stride": "2"}, "2_convolution.py")
    assert not app.exception and not app.warning
    assert metric(app, "Output") == "12×12×4", "⌊(28 − 5) / 2⌋ + 1 = 12"
    app.slider(key="stride").set_value(1).run()
    app.slider(key="filter_count").set_value(8).run()
    assert dict(app.query_params) == {
        **query,
        "filter_count": "8",
    }, "stride 1 is the default: left out; the workspace is never in the address"
    app.sidebar.button(key="reset_view").click().run()
    assert not app.query_params
    assert metric(app, "Output") == "83×126×4", "the default cat photo, 3×3, stride 1"


def test_a_hostile_link_opens_the_defaults_and_says_why():
    app = open_link(
        {
            "kernel_size": "1e99",
            "presets_wanted": "sobel x,<img src=x>",
            "cutoff": "-inf",
            "custom_kernel": "1," * 500,
            "use_custom_kernel": "1",
            "stride": "3",
        },
        "2_convolution.py",
    )
    assert not app.exception
    (warning,) = app.warning
    for name in ("kernel\\_size", "presets\\_wanted", "cutoff", "custom\\_kernel"):
        assert name in warning.value
    assert app.session_state["kernel_size"] == 3 and app.session_state["stride"] == 3
    assert app.session_state["use_custom_kernel"] is True
    assert "<img" not in app.multiselect(key="presets").value


def test_a_link_with_digits_beyond_ascii_is_refused_in_words():
    app = open_link({"stride": "²", "kernel_size": "٥"}, "2_convolution.py")
    assert not app.exception
    (warning,) = app.warning
    assert "'²' is not a whole number from 1 to 5" in warning.value
    assert "'٥' is not a whole number from 1 to 11" in warning.value
    assert "invalid literal" not in warning.value
    assert app.session_state["kernel_size"] == 3 and app.session_state["stride"] == 1


def test_the_link_dialog_leaves_out_the_private_workspace():
    app = open_link({"kernel_size": "5"}, "2_convolution.py")
    app.sidebar.button(key="share_view").click().run()
    link = next(code.value for code in app.code if "kernel_size=5" in code.value)
    assert "workspace" not in link and "run=" not in link


@pytest.mark.parametrize("lesson", labs.LESSONS, ids=lambda lesson: lesson.key)
def test_a_lesson_link_opens_its_lab_with_its_settings_and_guidance(lesson):
    lab = labs.lab_of(lesson)
    app = open_link({**dict(lesson.settings), "lesson": lesson.key}, lab.file)
    assert not app.exception
    assert [title.value for title in app.title] == [lab.heading]
    assert any(lesson.guidance in info.value for info in app.info), "guidance beside the figure"
    decoded, _ = links.decode(dict(lesson.settings), ui.LINKED_SETTINGS)
    for name, value in decoded.items():
        assert app.session_state[name] == value, name
    app.switch_page(str(PAGES_DIR / labs.HOME.file)).run()
    assert not any(lesson.guidance in info.value for info in app.info), "only in its lab"


def test_the_stride_and_padding_lesson_shows_the_size_its_guidance_states():
    (lesson,) = [lesson for lesson in labs.LESSONS if lesson.key == "stride-padding"]
    app = open_link({**dict(lesson.settings), "lesson": lesson.key}, "2_convolution.py")
    assert metric(app, "Output") == "13×13×4" and "= 13 outputs per side" in lesson.guidance


def test_the_edges_lesson_names_one_filter_and_prints_its_kernel_and_size():
    (lesson,) = [lesson for lesson in labs.LESSONS if lesson.key == "vertical-edges"]
    app = open_link({**dict(lesson.settings), "lesson": lesson.key}, "2_convolution.py")
    assert not app.exception
    assert "1 filter → 1 feature map" in [header.value for header in app.subheader]
    assert "1 filters" not in " ".join(header.value for header in app.subheader)
    arithmetic = [md.value for md in app.markdown if "H\\_out" in md.value]
    assert arithmetic and arithmetic[0].endswith("\\+ 1 \\= 62"), "(64 − 3) / 1 + 1"
    kernel = next(html.proto.body for html in app.get("html") if "Kernel 3×3" in html.proto.body)
    cells = re.findall(r">(-?\d+)</td>", kernel)
    assert cells == ["-1", "0", "1"] * 3, "the kernel's numbers beside the map"


@pytest.mark.parametrize("page", ["2_convolution.py", "3_activation_pooling.py", "4_frequency.py"])
def test_link_ranges_are_the_slider_ranges(page):
    app = open_page(page)
    for slider in app.slider:
        field = ui.LINKED_SETTINGS.get(slider.key)
        if isinstance(field, links.IntRange | links.FloatRange):
            assert (slider.min, slider.max) == (field.low, field.high), slider.key


def test_presenter_mode_is_kept_in_the_link_and_hides_what_a_class_does_not_need():
    app = open_link({"presenter": "1"}, "2_convolution.py")
    assert not app.exception
    assert ui.PRESENTER_STYLE in [element.proto.body for element in app.get("html")]
    assert "share_view" not in [button.key for button in app.sidebar.button]
    assert not [caption for caption in app.sidebar.caption if "device(s)" in caption.value]
    assert [expander.label for expander in app.expander][:2] == ["Settings", "Output size"]
    app.sidebar.toggle(key="presenter").set_value(False).run()
    assert "presenter" not in app.query_params
    assert ui.PRESENTER_STYLE not in [element.proto.body for element in app.get("html")]
    assert "share_view" in [button.key for button in app.sidebar.button]


def test_a_saved_model_can_be_renamed_and_inspect_lists_the_new_name(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_EXPLORER_RUNS", str(tmp_path))
    app = open_page("5_train.py", train_dataset="shapes", workspace_id=WORKSPACE)
    _import(app, "mine.msgpack", _checkpoint_data("mine"))
    app.text_input(key="checkpoint_new_name").input("shapes_first_try").run()
    app.button(key="checkpoint_rename").click().run()
    assert not app.exception and _own_models(app) == ["shapes_first_try"]
    app.text_input(key="checkpoint_new_name").input("../../elsewhere").run()
    app.button(key="checkpoint_rename").click().run()
    assert any("cannot name a run" in error.value for error in app.error)
    app.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert app.selectbox(key="inspect_model").options[0] == "shapes_first_try"


WHY = "Why this prediction?"


def prediction_shown(app: AppTest) -> tuple[str, str]:
    """The predicted class and its percent, as the softmax chart's title shows them."""
    title = chart(app, "Softmax probabilities")["layout"]["title"]["text"]
    found = re.fullmatch(r"Softmax probabilities: “(.+)” \((\d+\.\d%)\)", title)
    assert found, title
    return found[1], found[2]


def explained_shown(app: AppTest) -> tuple[int, str]:
    """The class the "Explain class" selector holds and the text it shows for it."""
    selector = app.selectbox(key="why_class")
    return selector.value, selector.options[selector.index]


def assert_maps_explain(app: AppTest, name: str) -> None:
    """The saliency, Grad-CAM and occlusion maps and their caption name class ``name``."""
    for title in ("Saliency for", "Grad-CAM for", "Occlusion for"):
        chart(app, f"{title} “{name}”")
    (caption,) = [c.value for c in app.caption if c.value.startswith("The maps explain")]
    assert f"class “{name}”" in caption


def test_why_this_prediction_explains_the_class_predicted_for_the_picture_on_screen():
    """A new picture explains its own prediction with its own probabilities; a class
    the user picks is kept while the picture stays the same."""
    app = open_page("6_inspect.py", sample="MNIST digit 3", inspect_view=WHY)
    assert not app.exception
    assert prediction_shown(app)[0] == "3"
    assert explained_shown(app) == (3, f"3 ({prediction_shown(app)[1]})")
    assert_maps_explain(app, "3")
    app.selectbox(key="why_class").select(8).run()
    picked = explained_shown(app)
    assert picked[0] == 8
    assert_maps_explain(app, "8")
    app.run()
    assert explained_shown(app) == picked, "the pick stays while the picture is the same"
    assert_maps_explain(app, "8")
    app.sidebar.selectbox(key="sample_name").select("MNIST digit 4").run()
    assert not app.exception
    name, shown_percent = prediction_shown(app)
    assert name == "4"
    assert explained_shown(app) == (4, f"4 ({shown_percent})"), "the new picture's prediction"
    assert_maps_explain(app, "4")
    app.run()
    assert explained_shown(app) == (4, f"4 ({shown_percent})")
    app.selectbox(key="why_class").select(9).run()
    app.selectbox(key="inspect_model").select(runs.STARTER_PREFIX + "digits-mlp").run()
    assert not app.exception
    name, shown_percent = prediction_shown(app)
    assert explained_shown(app) == (int(name), f"{name} ({shown_percent})"), "another network"
    chart(app, f"Occlusion for “{name}”")
    assert not [c for c in app.caption if "Grad-CAM" in c.value], "an MLP has no Grad-CAM"


def test_the_mistake_lesson_opens_on_the_most_common_mistake_and_explains_one_of_its_digits():
    """Lesson link → the confusion matrix's largest off-diagonal cell is chosen and its test
    digits shown; a click on another cell shows that cell's; "Explain this one" opens "Why
    this prediction?" on that test digit, explaining the class the network predicted."""
    (lesson,) = [lesson for lesson in labs.LESSONS if lesson.key == "mistake"]
    app = open_link({**dict(lesson.settings), "lesson": lesson.key}, "6_inspect.py")
    assert not app.exception
    assert app.selectbox(key="inspect_model").value == runs.STARTER_PREFIX + "digits-cnn"
    assert not [c for c in app.get("plotly_chart") if "Softmax" in c.proto.spec], "no cat"
    classes = 10
    counts = np.array(
        [
            [int(app.button(key=f"cm_{t}_{p}").label.replace(",", "")) for p in range(classes)]
            for t in range(classes)
        ]
    )
    off = counts - np.diag(np.diag(counts))
    true, predicted = divmod(int(np.argmax(off)), classes)  # the first largest, reading order
    assert off[true, predicted] > 0 and counts.sum() > 0
    sentence = f"“{true}” predicted as “{predicted}”: {counts[true, predicted]:,} of the"
    assert any(md.value.startswith(sentence) for md in app.markdown), "the largest mistake"
    shown = [b for b in app.button if b.key and b.key.startswith("explain_cell_")]
    assert len(shown) == min(counts[true, predicted], mistakes_view.CELL_IMAGES)
    other = (predicted, true) if counts[predicted, true] else (true, true)
    app.button(key=f"cm_{other[0]}_{other[1]}").click().run()
    assert any(
        md.value.startswith(f"“{other[0]}” predicted as “{other[1]}”") for md in app.markdown
    )
    app.button(key=f"cm_{true}_{predicted}").click().run()
    first = next(b for b in app.button if b.key and b.key.startswith("explain_cell_"))
    index = int(first.key.removeprefix("explain_cell_"))
    first.click().run()
    assert not app.exception
    assert app.session_state["inspect_view"] == WHY
    assert app.sidebar.selectbox(key="sample_name").value.startswith(f"test image {index + 1:,}")
    assert prediction_shown(app)[0] == str(predicted), "the network's answer for that digit"
    assert any(f"its true class is “{true}”" in c.value for c in app.caption)
    assert explained_shown(app)[0] == predicted
    assert_maps_explain(app, str(predicted))
