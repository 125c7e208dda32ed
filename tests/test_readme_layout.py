"""The README's code layout names every module of the package, and only modules that exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULE = re.compile(r"\b\w+\.py\b")


def layout_lines() -> list[str]:
    """The lines of the layout below ``explorer/``, up to the next top-level entry."""
    text = (ROOT / "README.md").read_text()
    lines = text.split("## Code layout", 1)[1].split("```", 2)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("explorer/")) + 1
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith(" "))
    return lines[start:end]


def modules_named_in_layout() -> set[str]:
    """Paths below explorer/ that the layout names: each entry (two spaces in for the
    package, four for a folder of it), and the modules that a folder's own description
    lists (``ui/``)."""
    named, folder, describing_folder = set(), "", False
    for line in layout_lines():
        indent = len(line) - len(line.lstrip())
        first, _, description = line.strip().partition(" ")
        if indent == 2:
            folder = first if first.endswith("/") else ""
            describing_folder = bool(folder)
            if not folder:
                named.add(first)
        elif indent == 4:
            named.add(folder + first)
            describing_folder = False
        else:
            description = line
        if describing_folder:
            named.update(folder + module for module in MODULE.findall(description))
    return named


def test_the_layout_names_every_module_and_no_other():
    package = ROOT / "explorer"
    modules = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    named = modules_named_in_layout()
    assert named - modules == set(), "the README names modules that do not exist"
    unnamed = {module for module in modules - named if not module.endswith("__init__.py")}
    assert unnamed == set(), "modules missing from the README layout"
