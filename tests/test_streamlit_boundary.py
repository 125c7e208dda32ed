"""Only :mod:`explorer.ui` imports Streamlit: the rest serves the CLI, tests and benchmarks."""

import pkgutil
import subprocess
import sys

import pytest

import explorer

NON_UI_MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(explorer.__path__, "explorer.")
    if not info.name.startswith("explorer.ui")
)


def test_the_package_has_non_ui_modules_to_check():
    assert {"explorer.ops", "explorer.train", "explorer.data.registry"} <= set(NON_UI_MODULES)


@pytest.mark.parametrize("module", NON_UI_MODULES)
def test_importing_a_non_ui_module_does_not_import_streamlit(module):
    probe = f"import sys, {module}; print('streamlit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False", f"{module} imports Streamlit"


def test_the_probe_sees_streamlit_when_a_ui_module_is_imported():
    probe = "import sys, explorer.ui.train_page; print('streamlit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"
