"""Every page runs headless in AppTest, and its controls change what is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = [
    "home.py",
    "1_image_as_numbers.py",
    "2_convolution.py",
    "3_activation_pooling.py",
    "4_frequency.py",
]
TIMEOUT = 120
APP = str(Path(__file__).resolve().parent / "app_entry.py")
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"


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


@pytest.mark.parametrize("page", PAGES)
def test_page_runs_without_exception(page):
    app = open_page(page)
    assert not app.exception, app.exception
    assert app.title, "every page has a title"


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
    assert run["session"].wait(240), "training did not finish in 4 minutes"
    app.run()
    assert not app.exception
    accuracy = float(metric(app, "Test accuracy").rstrip("%")) / 100
    assert accuracy > 0.5, "six shape classes: chance is 17%"
    assert list(tmp_path.glob("*/checkpoint.msgpack")), "the best model is saved"
    app.switch_page(str(PAGES_DIR / "6_inspect.py")).run()
    assert not app.exception
    assert any(h.value.startswith("5 · Why") for h in app.header)
    assert float(metric(app, "Test accuracy").rstrip("%")) / 100 == pytest.approx(accuracy)
