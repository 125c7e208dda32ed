"""Text for people: user-supplied names made safe to show as Markdown, counted nouns."""

from __future__ import annotations

import re

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
WORD_JOINER = "\u2060"
"""Invisible; placed where Streamlit would otherwise make a link of plain text."""
_AUTOLINK_TRIGGER = re.compile(r"(?i)(?<=www)(?=\\\.)|(?<=\\:)|(?=@)")
"""After ``www`` before an escaped dot, after each escaped colon, before each ``@``."""


def escape_markdown(text: object) -> str:
    """``text`` as literal characters in Streamlit Markdown (``st.markdown``, captions,
    ``st.error`` and the like): no link, image, emphasis, heading, HTML, colour
    (``:red[...]``), icon, emoji shortcode or LaTeX can come from it.

    Every ASCII punctuation character that Markdown or Streamlit gives a meaning is
    backslash-escaped (CommonMark shows ``\\X`` as ``X``); line breaks and other control
    characters become one space, so a name cannot start a new block. Streamlit also
    links bare ``www.``, ``http://`` and e-mail addresses despite the backslashes, so an
    invisible :data:`WORD_JOINER` breaks each of those.
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", str(text)))
    return _AUTOLINK_TRIGGER.sub(WORD_JOINER, escaped)


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` (with thousands separators) and the noun in its number: ``"1 filter"``,
    ``"4 filters"``, ``"1,000 units"`` (``plural`` defaults to ``singular + "s"``)."""
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"
