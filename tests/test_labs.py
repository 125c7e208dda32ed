"""The lab registry matches the pages on disk and uses icons Streamlit ships."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.material_icon_names import ALL_MATERIAL_ICONS

from explorer import labs

PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
EMOJI = r"[\U0001F000-\U0001FFFF\u231A\u231B\u23E9-\u23FA\u2600-\u27BF\u2B00-\u2BFF\uFE0F]"
"""Pictographs, media-control symbols (⏵ ⏸), dingbats, arrows like ⬇ and the emoji selector."""


def test_every_page_file_is_registered_once():
    registered = [lab.file for lab in (labs.HOME, *labs.LABS)]
    assert sorted(registered) == sorted(path.name for path in PAGES_DIR.glob("*.py"))


def test_icons_are_material_icons_streamlit_knows():
    for lab in (labs.HOME, *labs.LABS):
        match = re.fullmatch(r":material/([a-z0-9_]+):", lab.icon)
        assert match and match.group(1) in ALL_MATERIAL_ICONS, lab.icon


def test_titles_are_numbered_in_teaching_order_and_addresses_are_unique():
    assert labs.title(labs.LABS[1]) == "2 · Convolution"
    assert labs.title(labs.HOME) == "Start here"
    assert labs.by_file("/any/folder/2_convolution.py").url_path == "convolution"
    paths = [lab.url_path for lab in labs.LABS]
    assert len(set(paths)) == len(paths)


def test_app_text_has_no_emoji():
    """Emoji need a font a classroom PC may lack; icons come from Streamlit instead."""
    root = PAGES_DIR.parent
    for path in [root / "app.py", *PAGES_DIR.glob("*.py"), *(root / "explorer").glob("*.py")]:
        symbols = re.findall(EMOJI, path.read_text())
        assert not symbols, f"{path.name}: {symbols}"
