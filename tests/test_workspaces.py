"""Private workspaces, class models, data roots, escaped names and empty inputs (no browser)."""

import html
import re

import jax
import numpy as np
import pytest
from markdown_it import MarkdownIt

from explorer import checkpoints, predict, runs, starter_models
from explorer.data import registry
from explorer.errors import ExplorerError
from explorer.model import ModelSpec, init_variables
from explorer.text import WORD_JOINER, escape_markdown
from explorer.ui import train_page

SPEC = ModelSpec((8, 8, 1), 2, (), (), name="t")
DATASET = {"name": "shapes", "class_names": ["a", "b"], "preprocessing": "resize"}


def save(folder, name):
    variables = jax.device_get(init_variables(SPEC))
    checkpoints.save_checkpoint(folder / name, variables, SPEC, DATASET, {})


def test_workspace_ids_are_random_and_only_they_name_a_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path))
    first, second = runs.new_workspace_id(), runs.new_workspace_id()
    assert first != second and re.fullmatch(r"[0-9a-f]{32}", first)
    assert runs.workspace_folder(first) == tmp_path / first
    for bad in ["..", "", "a" * 31, "../" + "a" * 29, "A" * 32, None]:
        with pytest.raises(ExplorerError, match="workspace id"):
            runs.workspace_folder(bad)


def test_a_workspace_sees_its_own_runs_and_the_class_models_only(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(runs.CLASS_MODELS_ENV, str(tmp_path / "class"))
    mine, theirs = runs.new_workspace_id(), runs.new_workspace_id()
    save(runs.workspace_folder(mine), "mine")
    save(runs.workspace_folder(theirs), "theirs")
    save(tmp_path / "class", "teacher")
    (tmp_path / "class" / "broken").mkdir()
    (tmp_path / "class" / "broken" / "checkpoint.msgpack").write_bytes(b"nonsense")
    starters = [f"starter/{starter.name}" for starter in starter_models.STARTERS]
    assert [choice for choice, _ in runs.usable_models(mine)] == [
        "mine",
        "class/teacher",
        *starters,
    ]
    assert [choice for choice, _ in runs.usable_models(theirs)] == [
        "theirs",
        "class/teacher",
        *starters,
    ]
    assert runs.model_folder(mine, "mine") == tmp_path / "runs" / mine / "mine"
    assert runs.model_folder(mine, "class/teacher") == tmp_path / "class" / "teacher"
    assert runs.choice_label("class/teacher") == "teacher (class model)"
    with pytest.raises(ExplorerError):
        runs.model_folder(mine, "../" + theirs + "/theirs")
    with pytest.raises(ExplorerError):
        runs.model_folder(mine, "class/../runs")
    monkeypatch.delenv(runs.CLASS_MODELS_ENV)
    assert [choice for choice, _ in runs.usable_models(mine)] == ["mine", *starters]
    with pytest.raises(ExplorerError, match="no class models"):
        runs.model_folder(mine, "class/teacher")


def test_data_roots_are_the_configured_folders_only(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.DATA_DIR_ENV, str(tmp_path / "a"))
    joined = f"{tmp_path / 'b'}:{tmp_path / 'a'}: :{tmp_path / 'c'}"
    monkeypatch.setenv(registry.DATA_ROOTS_ENV, joined)
    assert registry.data_roots() == [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    with pytest.raises(ExplorerError, match="not one this server offers"):
        train_page.dataset_picker("mnist", "/etc", 0)
    with pytest.raises(ExplorerError, match="not one this server offers"):
        train_page.dataset_picker("mnist", str(tmp_path / "a" / ".."), 0)


NASTY_NAMES = [
    "![x](http://evil.example/x.png)",
    "[click me](http://evil.example)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` ~~gone~~",
    "# heading\n\n- item",
    ":red[alarm] :material/home: :smile: $x^2$",
    "a|b|c\n|-|-|",
    "http://evil.example www.evil.example WWW.evil.example mail@evil.example",
    "back\\slash &amp; [ref]: http://e",
]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_escaped_names_render_as_their_own_plain_text(name):
    renderer = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    rendered = renderer.render(f"Your file **{escape_markdown(name)}** is here")
    assert not re.search(r"<(a|img|em|h\d|li|code|table|s|del)\b", rendered), rendered
    inner = rendered.removeprefix("<p>Your file <strong>").removesuffix("</strong> is here</p>\n")
    shown = html.unescape(inner).replace(WORD_JOINER, "")
    assert shown == re.sub(r"\n+", " ", name), "line breaks become one space"
    assert escape_markdown("café 3 (photo)") == "café 3 \\(photo\\)", "letters unchanged"


@pytest.mark.parametrize(
    ("shape", "fill", "reason"),
    [
        ((1, 1, 1), 0, "single pixel"),
        ((1, 1, 3), 200, "single pixel"),
        ((28, 28, 1), 0, "same value"),
        ((40, 30, 3), 255, "same value"),
    ],
)
def test_blank_and_one_pixel_pictures_are_empty(shape, fill, reason):
    assert reason in predict.empty_input_reason(np.full(shape, fill, np.uint8))


def test_a_picture_with_content_is_not_empty():
    digit = np.zeros((28, 28, 1), np.uint8)
    digit[10:18, 13:15] = 255
    assert predict.empty_input_reason(digit) is None
    assert predict.empty_input_reason(np.arange(2, dtype=np.uint8).reshape(1, 2, 1) * 9) is None


def test_a_run_is_described_setting_by_setting_and_runs_differ_where_the_texts_do():
    from explorer import model, train
    from explorer.data.augmentation import Augmentation

    tiny = runs.describe_run("mnist-5k", model.preset("tiny", (28, 28, 1), 10), train.TrainConfig())
    assert tiny["conv blocks"] == "16@3×3 bn max2, 32@3×3 bn max2"
    assert (tiny["dense units"], tiny["dropout"], tiny["augmentation"]) == (
        "128",
        "0, 0, 0",
        "none",
    )
    spec = ModelSpec((28, 28, 1), 10, (model.ConvBlock(8, 5, dropout=0.25),), name="custom")
    config = train.TrainConfig(augmentation=Augmentation(max_shift=2.0, max_rotation=10.0))
    edited = runs.describe_run("mnist-5k", spec, config)
    assert edited["conv blocks"] == "8@5×5 max2" and edited["dropout"] == "0.25"
    assert edited["augmentation"] == "shift ±2 px, rotate ±10°"
    assert runs.differing_settings([tiny, edited]) == [
        "preset",
        "conv blocks",
        "dense units",
        "dropout",
        "augmentation",
    ]
    assert runs.differing_settings([tiny, dict(tiny)]) == [] == runs.differing_settings([tiny])


def test_a_run_can_be_renamed_to_a_free_plain_name_only(tmp_path):
    save(tmp_path, "20261126-101500-tiny-mnist-5k-ab12cd")
    save(tmp_path, "taken")
    checkpoints.rename_checkpoint(tmp_path, "20261126-101500-tiny-mnist-5k-ab12cd", "digits_v2")
    assert sorted(s.name for s in checkpoints.list_checkpoints(tmp_path)) == ["digits_v2", "taken"]
    assert checkpoints.load_checkpoint(tmp_path / "digits_v2").spec == SPEC
    for bad in ["../escape", "a/b", "", "..", "x" * 81, "two words", "taken"]:
        with pytest.raises(ExplorerError):
            checkpoints.rename_checkpoint(tmp_path, "digits_v2", bad)
    with pytest.raises(ExplorerError, match="no checkpoint"):
        checkpoints.rename_checkpoint(tmp_path, "missing", "fine")
    assert not (tmp_path.parent / "escape").exists()
