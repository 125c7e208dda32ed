"""Lab settings written into a link and read back: exact round trips, defaults left out, and
every malformed value turned into a default with a readable reason (never an exception)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer import labs, links, ops, ui

FIELDS = ui.LINKED_SETTINGS
ROOT = Path(__file__).resolve().parent.parent


def test_only_settings_that_differ_from_their_defaults_are_written():
    values = {**ui.LINK_DEFAULTS, "kernel_size": 5, "stride": 2}
    assert links.encode(values, FIELDS, ui.LINK_DEFAULTS) == {"kernel_size": "5", "stride": "2"}


def test_a_view_reads_back_exactly():
    kernel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], np.float32) / 3
    values = {
        "sample_name": "MNIST digit 7",
        "working_size": 28,
        "presets_wanted": ["vertical edges", "sobel y"],
        "use_custom_kernel": True,
        "custom_kernel": kernel,
        "negative_slope": 0.27,
        "cutoff": 0.1,
        "inspect_view": "Why this prediction?",
    }
    query = links.encode(values, FIELDS, ui.LINK_DEFAULTS)
    assert query["presets_wanted"] == "vertical edges,sobel y"
    assert query["custom_kernel"].startswith("0.333333,0,-0.333333,0.666667,")
    decoded, problems = links.decode(query, FIELDS)
    assert problems == []
    assert decoded.keys() == values.keys()
    np.testing.assert_allclose(decoded.pop("custom_kernel"), kernel, atol=1e-6)
    assert decoded == {name: value for name, value in values.items() if name != "custom_kernel"}


def test_a_link_with_an_old_spelling_opens_the_setting_under_its_new_name():
    decoded, problems = links.decode({"activation": "none"}, FIELDS)
    assert problems == [] and decoded == {"activation": "linear"}
    assert links.encode(decoded, FIELDS, ui.LINK_DEFAULTS) == {"activation": "linear"}
    assert "none" not in ops.ACTIVATIONS


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("kernel_size", "99", "outside 1–11"),
        ("kernel_size", "3.5", "not a whole number"),
        ("working_size", "100", "not one of"),
        ("cutoff", "nan", "not a number"),
        ("cutoff", "1e400", "not a finite number"),
        ("cutoff", "1e308", "outside"),
        ("presets_wanted", "sobel x,sobel x", "twice"),
        ("presets_wanted", "<script>", "unknown names"),
        ("custom_kernel", "1,2,3", "k×k numbers"),
        ("custom_kernel", "1,2,3,1e9", "beyond ±1000"),
        ("use_custom_kernel", "yes", "not 0 or 1"),
        ("inspect_model", "../../etc/passwd\n", "not a name"),
        ("lesson", "nope", "not one of"),
    ],
)
def test_a_bad_value_is_left_out_with_its_reason(name, text, reason):
    decoded, problems = links.decode({name: text, "stride": "2"}, FIELDS)
    assert decoded == {"stride": 2}
    assert len(problems) == 1 and problems[0].startswith(name) and reason in problems[0]


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("stride", "²", "stride: '²' is not a whole number from 1 to 5"),
        ("kernel_size", "٣", "kernel_size: '٣' is not a whole number from 1 to 11"),
        ("kernel_size", "３", "kernel_size: '３' is not a whole number from 1 to 11"),
        ("kernel_size", " 3", "kernel_size: ' 3' is not a whole number from 1 to 11"),
        ("cutoff", "٠.٥", "cutoff: '٠.٥' is not a number"),
        ("cutoff", "0_5", "cutoff: '0_5' is not a number"),
        ("custom_kernel", "1,٢,3,4", "custom_kernel: '1,٢,3,4' is not a number"),
    ],
)
def test_only_ascii_digits_are_read_and_the_note_is_for_people(name, text, problem):
    assert links.decode({name: text}, FIELDS) == ({}, [problem])


PYTHON_WORDS = ("invalid literal", "could not convert", "int(", "float(", "Error", "base 10")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["stride", "kernel_size", "random_seed", "cutoff", "negative_slope"]),
    st.text(max_size=30).filter(lambda text: not text.isascii() or not re.search("[0-9]", text)),
)
def test_text_that_is_not_ascii_digits_is_refused_in_words(name, text):
    decoded, [problem] = links.decode({name: text}, FIELDS)
    assert decoded == {}
    assert problem.startswith(f"{name}: ")
    assert not any(word in problem for word in PYTHON_WORDS)


def test_a_slider_value_lands_on_the_slider_grid():
    assert links.FloatRange(0.01, 1.0, 0.01).parse("0.123456") == 0.12


def test_a_value_a_link_cannot_carry_is_named_and_left_out():
    values = {"sample_name": "my drawing 1", "stride": 2}
    assert links.encode(values, FIELDS, ui.LINK_DEFAULTS) == {"stride": "2"}
    assert links.unlinkable(values, FIELDS) == ["sample_name"]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(FIELDS)), st.text(max_size=700)))
def test_any_query_decodes_without_raising(query):
    decoded, problems = links.decode(query, FIELDS)
    assert len(decoded) + len(problems) == len(query)
    for name, value in decoded.items():
        assert links.decode({name: FIELDS[name].format(value)}, FIELDS)[0].keys() == {name}


def test_every_default_is_a_value_a_link_can_carry():
    assert FIELDS["presets_wanted"].options == ops.KERNEL_PRESETS
    for name, default in ui.LINK_DEFAULTS.items():
        assert FIELDS[name].parse(FIELDS[name].format(default)) == default, name


@pytest.mark.parametrize("lesson", labs.LESSONS, ids=lambda lesson: lesson.key)
def test_every_lesson_link_is_valid(lesson):
    decoded, problems = links.decode(dict(lesson.settings), FIELDS)
    assert problems == [] and len(decoded) == len(lesson.settings)
    assert links.decode({"lesson": lesson.key}, FIELDS) == ({"lesson": lesson.key}, [])


def _fragment_bodies(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    """Functions of a module run as ``st.fragment``: decorated ``@st.fragment`` or
    ``@st.fragment(...)``, or wrapped as ``st.fragment(...)(function)``; and, under the
    key ``"ui.fragment"`` prefixed names, those decorated ``@ui.fragment``."""
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    found = {}
    for function in functions.values():
        for decorator in function.decorator_list:
            text = ast.unparse(decorator)
            if text.startswith("st.fragment"):
                found[function.name] = function
            elif text == "ui.fragment":
                found[f"ui.fragment {function.name}"] = function
    for node in ast.walk(tree):
        wrapped = isinstance(node, ast.Call) and isinstance(node.func, ast.Call)
        if wrapped and ast.unparse(node.func.func) == "st.fragment" and node.args:
            name = ast.unparse(node.args[0])
            if name in functions:
                found[name] = functions[name]
    return found


def _linked_keys(function: ast.FunctionDef) -> set[str]:
    """The linked settings among the literal widget keys (``key="..."``) in ``function``."""
    return {
        keyword.value.value
        for node in ast.walk(function)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "key" and isinstance(keyword.value, ast.Constant)
        and keyword.value.value in FIELDS
    }  # fmt: skip


UI_SOURCES = sorted([*(ROOT / "pages").glob("*.py"), *(ROOT / "explorer" / "ui").glob("*.py")])


@pytest.mark.parametrize("source", UI_SOURCES, ids=lambda path: path.name)
def test_a_fragment_whose_widgets_are_linked_settings_keeps_the_url(source):
    """A plain ``st.fragment`` rerun skips ``app.py``, so the URL would fall behind: a
    section with linked widgets must be a ``ui.fragment``."""
    fragments = _fragment_bodies(ast.parse(source.read_text()))
    for name, function in fragments.items():
        if not name.startswith("ui.fragment"):
            assert not _linked_keys(function), f"{source.name}: {name} needs @ui.fragment"


def test_the_fragment_check_sees_linked_widgets_and_every_kind_of_fragment():
    pooling = _fragment_bodies(ast.parse((ROOT / "pages" / "3_activation_pooling.py").read_text()))
    assert _linked_keys(pooling["ui.fragment pooling_sections"]) == {
        "pool_kind", "pool_window", "pool_stride"
    }  # fmt: skip
    convolution = _fragment_bodies(ast.parse((ROOT / "pages" / "2_convolution.py").read_text()))
    assert "sliding_window" in convolution
    wrapped = "def draw():\n    st.slider('Stride', key='stride')\nst.fragment(run_every=1)(draw)()"
    assert _linked_keys(_fragment_bodies(ast.parse(wrapped))["draw"]) == {"stride"}
