"""Run names fit the file system, and a file action the system refuses (rename, import,
save, delete) is a message that names neither the server's folders nor the workspace."""

import errno
import os
import shutil

import jax
import pytest
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from explorer import checkpoints, runs
from explorer.errors import ExplorerError
from explorer.model import ModelSpec, init_variables
from explorer.ui import train_page

SPEC = ModelSpec((8, 8, 1), 2, (), (), name="t")
DATASET = {"name": "shapes", "class_names": ["a", "b"], "preprocessing": "resize"}
WORKSPACE = "b" * 32
WIDE = "𝔸" * 80
"""80 characters of 4 bytes each: 320 bytes, over the 255 a file system allows a name."""


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A workspace folder under a runs root in ``tmp_path``, holding the run ``first``."""
    monkeypatch.setenv(runs.RUNS_ENV, str(tmp_path / "runs"))
    root = runs.workspace_folder(WORKSPACE)
    variables = jax.device_get(init_variables(SPEC))
    checkpoints.save_checkpoint(root / "first", variables, SPEC, DATASET, {})
    return root


def assert_names_no_folder(error: pytest.ExceptionInfo, root) -> None:
    text = str(error.value)
    assert str(root.parent) not in text and WORKSPACE not in text and "Errno" not in text


def test_a_name_over_the_byte_limit_is_refused_clearly(workspace):
    with pytest.raises(ExplorerError, match="320 bytes") as refused:
        checkpoints.rename_checkpoint(workspace, "first", WIDE)
    assert_names_no_folder(refused, workspace)
    assert [s.name for s in checkpoints.list_checkpoints(workspace)] == ["first"]
    checkpoints.rename_checkpoint(workspace, "first", "𝔸" * 50)  # 200 bytes fit
    assert [s.name for s in checkpoints.list_checkpoints(workspace)] == ["𝔸" * 50]


def test_a_290_character_file_name_imports_under_a_trimmed_name(workspace):
    data = checkpoints.checkpoint_path(workspace / "first").read_bytes()
    with pytest.raises(ExplorerError, match="too long"):
        checkpoints.import_checkpoint(workspace, "m" * 290, data)
    name = checkpoints.safe_run_name("m" * 290)
    checkpoints.import_checkpoint(workspace, name, data)
    assert checkpoints.load_checkpoint(workspace / name).spec == SPEC
    assert name == "m" * checkpoints.MAX_RUN_NAME_CHARACTERS


@given(st.text(max_size=400))
def test_any_file_name_gives_a_run_name_that_is_accepted(text):
    name = checkpoints.safe_run_name(text)
    assert checkpoints.check_run_name(name) == name


def refuse(*args, **kwargs):
    """An operating-system error whose text names the paths, as Python's own do."""
    raise OSError(errno.EIO, f"failed on {' and '.join(map(str, args))}", str(args[0]))


@pytest.mark.parametrize(
    ("patched", "action"),
    [
        ("rename", lambda root, data: checkpoints.rename_checkpoint(root, "first", "second")),
        ("replace", lambda root, data: checkpoints.import_checkpoint(root, "second", data)),
        (
            "replace",
            lambda root, data: checkpoints.save_checkpoint(
                root / "first", checkpoints.load_checkpoint_bytes(data).variables, SPEC, DATASET, {}
            ),
        ),
        ("unlink", lambda root, data: checkpoints.delete_checkpoint(root, "first")),
        ("rmdir", lambda root, data: checkpoints.delete_checkpoint(root, "first")),
    ],
)
def test_a_refused_file_action_names_no_folder(workspace, monkeypatch, patched, action):
    data = checkpoints.checkpoint_path(workspace / "first").read_bytes()
    monkeypatch.setattr(os, patched, refuse)
    monkeypatch.setattr(shutil, "rmtree", refuse)
    with pytest.raises(ExplorerError, match=r"^Could not .* \(Input/output error\)\.$") as refused:
        action(workspace, data)
    assert_names_no_folder(refused, workspace)


def _checkpoint_manager_page():
    from explorer.ui import train_page

    train_page.checkpoint_manager()


def manager_app() -> AppTest:
    app = AppTest.from_function(_checkpoint_manager_page, default_timeout=60)
    app.session_state[train_page.WORKSPACE_KEY] = WORKSPACE
    return app.run()


@pytest.mark.parametrize("new_name", [WIDE, "second"], ids=["320 bytes", "refused"])
def test_the_page_shows_a_refused_rename_as_a_message(workspace, monkeypatch, new_name):
    monkeypatch.setattr(os, "rename", refuse)
    app = manager_app()
    app.text_input(key="checkpoint_new_name").input(new_name)
    app.button(key="checkpoint_rename").click().run()
    assert not app.exception
    [error] = app.error
    assert "Could not rename" in error.value or "too long" in error.value
    assert str(workspace.parent) not in error.value and WORKSPACE not in error.value
    assert [s.name for s in checkpoints.list_checkpoints(workspace)] == ["first"]


def import_on_page(file_name: str, data: bytes) -> AppTest:
    app = manager_app()
    upload = (file_name, data, "application/x-msgpack")
    app.file_uploader(key="checkpoint_upload").set_value(upload).run()
    app.button(key="checkpoint_import").click().run()
    return app


def test_the_page_imports_a_file_with_a_290_character_name(workspace):
    data = checkpoints.checkpoint_path(workspace / "first").read_bytes()
    app = import_on_page("m" * 290 + ".msgpack", data)
    assert not app.exception and not app.error
    assert sorted(s.name for s in checkpoints.list_checkpoints(workspace)) == ["first", "m" * 80]


def test_the_page_shows_a_refused_import_as_a_message(workspace, monkeypatch):
    data = checkpoints.checkpoint_path(workspace / "first").read_bytes()
    monkeypatch.setattr(os, "replace", refuse)
    app = import_on_page("mine.msgpack", data)
    assert not app.exception
    [error] = app.error
    assert error.value.startswith("Could not save checkpoint")
    assert str(workspace.parent) not in error.value and WORKSPACE not in error.value


def _open_first_page():
    from explorer.ui import inspect_page

    inspect_page.load_model("first")


def test_inspect_shows_a_vanished_model_as_a_message(workspace):
    checkpoints.checkpoint_path(workspace / "first").unlink()  # deleted in another tab
    app = AppTest.from_function(_open_first_page, default_timeout=60)
    app.session_state[train_page.WORKSPACE_KEY] = WORKSPACE
    app.run()
    assert not app.exception
    [error] = app.error
    assert error.value.startswith("Could not open the model")
    assert str(workspace.parent) not in error.value and WORKSPACE not in error.value


def _download_vanished_page():
    import os
    from pathlib import Path

    import streamlit

    from explorer import checkpoints, runs
    from explorer.ui import train_page

    folder = Path(os.environ[runs.RUNS_ENV]) / ("b" * 32) / "first"
    train_page.download_checkpoint(streamlit, checkpoints.checkpoint_path(folder), "first", "d")


def test_a_checkpoint_deleted_before_its_download_is_a_message(workspace):
    checkpoints.checkpoint_path(workspace / "first").unlink()  # deleted in another tab
    app = AppTest.from_function(_download_vanished_page, default_timeout=60).run()
    assert not app.exception
    [caption] = app.caption
    assert caption.value.startswith("Cannot download it now")
    assert str(workspace.parent) not in caption.value and WORKSPACE not in caption.value
