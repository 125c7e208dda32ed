"""The packaging files agree with each other: the lock satisfies the ranges, the commands exist."""

from __future__ import annotations

import fnmatch
import importlib
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines(name: str) -> list[str]:
    """The requirement lines of a requirements file (comments and blank lines dropped)."""
    lines = (line.strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_lock_pins_a_version_inside_every_runtime_range():
    pinned = {}
    for line in requirement_lines("requirements.lock"):
        name, version = line.split("==")
        pinned[canonicalize_name(name)] = version
    for line in requirement_lines("requirements.txt"):
        requirement = Requirement(line)
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is missing from requirements.lock"
        assert requirement.specifier.contains(version), f"{requirement.name}=={version}: {line}"


def test_every_runtime_range_has_a_floor_and_a_cap():
    for line in requirement_lines("requirements.txt"):
        operators = {spec.operator for spec in Requirement(line).specifier}
        assert operators == {">=", "<"}, line


def test_the_four_extras_read_requirements_files_that_exist():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dynamic = setuptools["dynamic"]
    files = list(dynamic["dependencies"]["file"])
    for extra in dynamic["optional-dependencies"].values():
        files += extra["file"]
    assert set(dynamic["optional-dependencies"]) == {"test", "dev", "bench", "gpu"}
    for name in files:
        assert requirement_lines(name), f"{name} names no requirement"


def test_console_scripts_name_functions_that_exist():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for target in project["scripts"].values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_install_finds_every_subpackage_of_explorer():
    """``explorer.ui`` (and any later subpackage) goes into the wheel, not only ``explorer``."""
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "explorer").rglob("__init__.py")
    }
    assert "explorer.ui" in on_disk
    assert set(find_packages(where=ROOT, include=include)) == on_disk


def test_the_drawing_pads_browser_script_ships_with_the_package():
    """``explorer.ui.drawing_pad`` reads ``drawing_pad.js`` next to it at run time."""
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]
    assert (ROOT / "explorer" / "ui" / "drawing_pad.js").is_file()
    assert any(
        fnmatch.fnmatch("drawing_pad.js", pattern) for pattern in package_data["explorer.ui"]
    )
