"""The sidebar's drawing pad: a digit drawn with the mouse (or a finger), sent when the pen lifts.

A small Streamlit component (``drawing_pad.js``) instead of streamlit-drawable-canvas, which
waited 200 ms after every stroke before sending it (40% of what a user waited on Inspect) and
decoded whatever the browser sent with every format Pillow knows. Here the browser sends a
PNG and its strokes at pen-up; the PNG is decoded by :func:`explorer.images.decode_drawing`,
which accepts only a PNG of the pad's size.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import streamlit as st

from explorer import images
from explorer.errors import ExplorerError

MAX_STROKES = 500
"""Strokes handed back to the browser to redraw the pad after a remount; a longer list (only
a forged message could send one) is dropped, and the pad starts empty."""

PAD_HTML = """
<div class="pad">
  <canvas aria-label="Drawing pad: draw a digit with the mouse"></canvas>
  <div class="tools">
    <button type="button" title="Undo the last stroke">Undo</button>
    <button type="button" title="Bring back the stroke you undid">Redo</button>
    <button type="button" title="Start again on an empty pad">Clear</button>
  </div>
</div>
"""

PAD_CSS = """
.pad { display: inline-flex; flex-direction: column; gap: 0.4rem; }
canvas { touch-action: none; cursor: crosshair; border-radius: 0.25rem; }
.tools { display: flex; gap: 0.4rem; }
button {
  font: inherit; padding: 0.2rem 0.7rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-border-color, #ccc);
  background: var(--st-background-color, #fff); color: var(--st-text-color, #222);
}
button:disabled { opacity: 0.4; cursor: default; }
"""


@functools.cache
def _component():
    """The registered component (registered once per process, on first use)."""
    script = resources.files(__package__).joinpath("drawing_pad.js").read_text("utf-8")
    return st.components.v2.component(
        "cnn_explorer.drawing_pad", html=PAD_HTML, css=PAD_CSS, js=script, isolate_styles=True
    )


def drawing_pad(*, key: str, side: int, stroke_width: int) -> np.ndarray | None:
    """Draw the pad where the caller is (``with st.sidebar:``) and return its drawing.

    Args:
        key: the pad's widget key; its last drawing is kept in the session under it.
        side: the pad's width and height in pixels (the PNG's size).
        stroke_width: the pen's width in pixels.

    Returns:
        uint8 (side, side, 1), white strokes on black, or None while nothing is drawn.
    """
    last = st.session_state.get(key) or {}
    previous = last.get("drawing") if isinstance(last, dict) else None
    strokes = previous.get("strokes") if isinstance(previous, dict) else None
    if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
        strokes = []
    result = _component()(
        key=key,
        data={"side": side, "strokeWidth": stroke_width, "strokes": strokes},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width="content",
        height="content",
    )
    drawing = result.get("drawing")
    if not drawing:
        return None
    try:
        return images.decode_drawing(
            drawing.get("png") if isinstance(drawing, dict) else None, side
        )
    except ExplorerError as error:
        st.error(str(error), icon=":material/error:")
        return None
