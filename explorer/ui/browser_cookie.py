"""A value the browser keeps for this app: a first-party cookie, written by a small component.

The server reads it back with ``st.context.cookies``, which holds the cookies the browser
sent when it opened the session's websocket: a reload (a new session) finds the value
before the first widget is drawn, with no round trip through the component. The cookie is
never in the page's address and never on screen; it lasts :data:`MAX_AGE_S` and is
``SameSite=Strict`` (``Secure`` too over HTTPS), so other sites' pages never send it.
"""

from __future__ import annotations

import functools
import re

import streamlit as st

MAX_AGE_S = 400 * 24 * 3600
"""How long the browser keeps the cookie (400 days, the longest Chromium allows)."""
HIDDEN_KEY = "browser_cookie"
"""Key of the container that holds the component, hidden by :data:`HIDDEN_STYLE`."""
HIDDEN_STYLE = f"<style>.st-key-{HIDDEN_KEY} {{ display: none; }}</style>"
_COOKIE_TEXT = re.compile(r"[A-Za-z0-9_-]{1,64}")

COOKIE_JS = """
export default function ({ data }) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const kept = `; path=/; SameSite=Strict${secure}`;
  const current = document.cookie.split("; ").find((item) => item.startsWith(`${data.name}=`));
  if (data.value === null) {
    if (current) document.cookie = `${data.name}=; max-age=0${kept}`;
  } else if (current !== `${data.name}=${data.value}`) {
    document.cookie = `${data.name}=${data.value}; max-age=${data.maxAge}${kept}`;
  }
}
"""


@functools.cache
def _component():
    """The registered component (registered once per process, on first use)."""
    return st.components.v2.component("cnn_explorer.browser_cookie", js=COOKIE_JS)


def kept(name: str) -> str | None:
    """The value of cookie ``name`` that the browser sent when this session started."""
    return st.context.cookies.get(name)


def keep(name: str, value: str | None) -> None:
    """Have the browser keep ``value`` in cookie ``name`` (None: forget it). Call it on every
    full run: the component writes only when the browser's cookie differs.

    Raises:
        ValueError: ``name`` or ``value`` is not 1-64 letters, digits, ``_`` or ``-``.
    """
    for text in (name, value):
        if text is not None and not _COOKIE_TEXT.fullmatch(text):
            raise ValueError(f"not a cookie name or value: {text!r}")
    with st.container(key=HIDDEN_KEY):
        st.html(HIDDEN_STYLE)
        _component()(
            key=f"{HIDDEN_KEY}_{name}",
            data={"name": name, "value": value, "maxAge": MAX_AGE_S},
        )
