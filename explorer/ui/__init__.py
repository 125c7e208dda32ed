"""Shared Streamlit widgets and session state.

The :mod:`explorer.ui` package holds every module that imports Streamlit: this
one (widgets shared by the labs) and one module per page that needs its own
(:mod:`~explorer.ui.train_page`, :mod:`~explorer.ui.learning_page`,
:mod:`~explorer.ui.inspect_page`).

Pages call these helpers to read the shared image and convolution settings;
all maths lives in the other ``explorer`` modules.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import (
    explain,
    figures,
    frequency,
    images,
    invariance,
    labs,
    learning,
    links,
    model,
    ops,
    samples,
    starter_models,
    svg_charts,
)
from explorer.data import registry
from explorer.errors import ExplorerError
from explorer.text import escape_markdown
from explorer.ui import drawing_pad

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"
PAD_SIDE = 224
WORKING_SIZES = (28, 32, 48, 64, 96, 128, 160, 192, 256, 384, 512)
"""Longest side, in pixels, that the labs can work at."""
IMAGE_SOURCES = ("Draw", "Upload", "Sample")
SAVED_DRAWINGS = "saved_drawings"
"""Session state: drawings saved as samples, ``{name: uint8 (224, 224, 1)}``."""

DEFAULT_PRESETS = ("sobel x", "sobel y", "laplacian", "gaussian blur")
CUSTOM_KERNEL_EDITOR = "custom_kernel_editor_"
"""Key prefix of the custom kernel's grid editor, one per kernel size."""

SETTING_DEFAULTS = {
    "image_source": "Sample",
    "sample_name": "cat (photo)",
    "colour_mode": "grayscale",
    "working_size": 128,
    "kernel_size": 3,
    "stride": 1,
    "padding_mode": ops.PADDING_MODES[0],
    "explicit_padding": 1,
    "dilation": 1,
    "filter_count": 4,
    "use_custom_kernel": False,
    "random_seed": 0,
    "activation": ops.ACTIVATIONS[1],
    "negative_slope": 0.1,
    "pool_kind": ops.POOLING_KINDS[0],
    "pool_window": 2,
    "pool_stride": 2,
    "mask_band": frequency.MASK_BANDS[0],
    "mask_shape": frequency.MASK_SHAPES[0],
    "cutoff": 0.15,
    "band_width": 0.1,
    "presenter": False,
}
"""Every shared lab setting (a widget key) and its value on a first visit. Widgets with these
keys take their value from session state and are created without a default of their own."""

STUDY_KEY = "robust_study_"
"""Key prefix of the shift study's checkboxes on Inspect, one per starter model."""

KEPT_WIDGET_KEYS = (
    "inspect_model",
    "inspect_view",
    "robust_mode",
    "robust_models",
    "robust_transform",
    *(STUDY_KEY + name for row in starter_models.SHIFT_STUDY for name in row),
    "learn_section",
)
"""Widgets without a fixed default whose value is kept while their view is not shown."""

LINKED_SETTINGS = {
    "image_source": links.Choice(IMAGE_SOURCES),
    "sample_name": links.Choice(samples.SAMPLE_NAMES),
    "colour_mode": links.Choice(images.COLOUR_MODES),
    "working_size": links.Choice(WORKING_SIZES),
    "kernel_size": links.IntRange(1, 11),
    "stride": links.IntRange(1, 5),
    "padding_mode": links.Choice(ops.PADDING_MODES),
    "explicit_padding": links.IntRange(0, 5),
    "dilation": links.IntRange(1, 3),
    "filter_count": links.IntRange(1, 64),
    "presets_wanted": links.ChoiceList(ops.KERNEL_PRESETS),
    "use_custom_kernel": links.Flag(),
    "custom_kernel": links.SquareKernel(11, 1000.0),
    "random_seed": links.IntRange(0, 9999),
    "activation": links.Choice(ops.ACTIVATIONS, renamed=(("none", "linear"),)),
    "negative_slope": links.FloatRange(0.0, 0.5, 0.01),
    "pool_kind": links.Choice(ops.POOLING_KINDS),
    "pool_window": links.IntRange(1, 8),
    "pool_stride": links.IntRange(1, 8),
    "mask_band": links.Choice(frequency.MASK_BANDS),
    "mask_shape": links.Choice(frequency.MASK_SHAPES),
    "cutoff": links.FloatRange(0.01, 1.0, 0.01),
    "band_width": links.FloatRange(0.02, 0.5, 0.01),
    "train_dataset": links.Choice(tuple(registry.DATASETS)),
    "preset": links.Choice(tuple(model.PRESETS)),
    "inspect_model": links.Name(),
    "inspect_view": links.Name(),
    "lesson": links.Choice(tuple(lesson.key for lesson in labs.LESSONS)),
    "presenter": links.Flag(),
}
"""The settings a link carries, each with what it may be (ranges match the widgets'). The
URL names are the widget keys; ``custom_kernel`` is the custom kernel at the current size,
``inspect_model`` and ``inspect_view`` are checked against the live lists where they are used."""

LINK_DEFAULTS = {
    **SETTING_DEFAULTS,
    "presets_wanted": list(DEFAULT_PRESETS),
    "train_dataset": next(iter(registry.DATASETS)),
    "preset": next(iter(model.PRESETS)),
}
"""The values a link leaves out; settings without one here are written whenever set."""

WANTED_PAGE = "wanted_page"
LINK_WRITTEN = "link_written"
LINK_PROBLEMS = "link_problems"
OLD_WORKSPACE_PARAMETER = "workspace"
PRIVATE_PARAMETERS = (OLD_WORKSPACE_PARAMETER, "run")
"""URL parameters in which older versions kept a session's secrets (its workspace id and its
run's token): a page takes them out of the address bar, and no link ever carries them."""


def page(lab: labs.Lab) -> st.Page:
    """The ``st.Page`` for a lab of the registry (absolute path, so any entry script works)."""
    return st.Page(
        PAGES_DIR / lab.file,
        title=labs.title(lab),
        icon=lab.icon,
        url_path=lab.url_path,
        default=lab == labs.HOME,
    )


def navigation() -> st.navigation:
    """The app's page navigation: the start page, then the labs in teaching order."""
    return st.navigation(
        {"CNN Explorer": [page(labs.HOME)], "Labs": [page(lab) for lab in labs.LABS]}
    )


def lab_title(file: str) -> labs.Lab:
    """Show the heading of the page whose file is ``file`` (a page passes ``__file__``),
    and the open lesson's guidance when the lesson belongs to this page; return the
    page's registry record."""
    lab = labs.by_file(file)
    st.title(lab.heading)
    lesson = next(
        (item for item in lab.lessons if item.key == st.session_state.get("lesson")), None
    )
    if lesson is not None:
        st.info(f"**Lesson: {lesson.title}.** {lesson.guidance}", icon=":material/school:")
    return lab


def lesson_query(lesson: labs.Lesson) -> dict[str, str]:
    """The URL query that opens ``lesson`` (presenter mode kept as it is now)."""
    query = {**dict(lesson.settings), "lesson": lesson.key}
    if st.session_state.get("presenter"):
        query["presenter"] = "1"
    return query


def lesson_link(lesson: labs.Lesson) -> None:
    """A link that opens the lesson's lab with its settings (in this tab, in this session)."""
    lab = labs.lab_of(lesson)
    st.page_link(
        page(lab),
        label=f"**{lesson.title}** · {labs.title(lab)}",
        icon=":material/school:",
        query_params=lesson_query(lesson),
    )


def keep_widget_state() -> None:
    """Set first-visit defaults and keep shared widget values across pages and views.

    Streamlit forgets a widget's value when a run does not render it; writing
    the value back under its own key makes it ordinary session state.
    """
    for key, default in SETTING_DEFAULTS.items():
        st.session_state[key] = st.session_state.get(key, default)
    for key in KEPT_WIDGET_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def linked_values() -> dict:
    """The current value of every linked setting that is set (the custom kernel only when
    it is used and differs from the one it starts as)."""
    state = st.session_state
    values = {name: state[name] for name in LINKED_SETTINGS if name in state}
    if state.get("use_custom_kernel"):
        size = state["kernel_size"]
        kernel = custom_kernel(size)
        if not links.same_value(kernel, _default_custom_kernel(size)):
            values["custom_kernel"] = kernel
    return values


def follow_link() -> None:
    """Take the settings from the URL when it asks for a view this session did not write: a
    link opened in a new tab, or a lesson link followed from the start page. Settings the
    URL leaves out return to their defaults; values that cannot be used are reported by
    :func:`show_link_problems`. Call it in ``app.py`` before any widget."""
    query = {name: st.query_params[name] for name in LINKED_SETTINGS if name in st.query_params}
    if not query or query == st.session_state.get(LINK_WRITTEN):
        return
    values, problems = links.decode(query, LINKED_SETTINGS)
    apply_settings(values)
    st.session_state[LINK_PROBLEMS] = problems
    st.session_state[LINK_WRITTEN] = None


def apply_settings(values: dict) -> None:
    """Set every linked setting to ``values[name]`` or, when absent, to its default (presenter
    mode stays as it is unless ``values`` names it)."""
    state = st.session_state
    for name in LINKED_SETTINGS:
        if name == "presenter" and name not in values:
            continue
        if name in values:
            state[name] = values[name]
        elif name in SETTING_DEFAULTS:
            state[name] = SETTING_DEFAULTS[name]
        else:
            state.pop(name, None)
    state["custom_kernels"] = {}
    for key in [key for key in state if str(key).startswith(CUSTOM_KERNEL_EDITOR)]:
        del state[key]
    kernel = state.pop("custom_kernel", None)
    if kernel is not None:
        state["custom_kernels"][kernel.shape[0]] = kernel
        state["kernel_size"] = kernel.shape[0]


def keep_settings_in_url() -> None:
    """Write the settings that differ from their defaults into the URL, so that a reload or
    a copied link shows this view; only changed parameters are sent. Cheap: a dict of a few
    dozen short strings, compared with the last one written."""
    query = links.encode(linked_values(), LINKED_SETTINGS, LINK_DEFAULTS)
    if st.session_state.get(LINK_WRITTEN) not in (None, query):
        st.session_state.pop(LINK_PROBLEMS, None)
    shown = {name: st.query_params[name] for name in LINKED_SETTINGS if name in st.query_params}
    if query != shown:
        for name in shown.keys() - query.keys():
            del st.query_params[name]
        for name, text in query.items():
            if shown.get(name) != text:
                st.query_params[name] = text
    st.session_state[LINK_WRITTEN] = query


def fragment(body):
    """``st.fragment`` for a lab section whose controls are linked settings: after each
    run of the section, the URL is brought up to date (a fragment's rerun skips ``app.py``)."""

    @functools.wraps(body)
    def run_and_keep_url(*args, **kwargs):
        result = body(*args, **kwargs)
        keep_settings_in_url()
        return result

    return st.fragment(run_and_keep_url)


def show_link_problems() -> None:
    """Say which settings of the followed link could not be used (until a setting changes)."""
    problems = st.session_state.get(LINK_PROBLEMS)
    if problems:
        st.warning(
            "This link asked for settings that cannot be used here, so they are at their "
            "defaults: " + "; ".join(escape_markdown(problem) for problem in problems) + ".",
            icon=":material/link_off:",
        )


def view_link(values: dict | None = None, lab: labs.Lab | None = None) -> str:
    """A link to ``lab`` (default: this page) with ``values`` (default: the current
    settings), without this session's private parameters."""
    query = links.encode(
        linked_values() if values is None else values, LINKED_SETTINGS, LINK_DEFAULTS
    )
    base = (st.context.url or "").rsplit("?", 1)[0]
    if lab is not None:
        base = base.rstrip("/").rsplit("/", 1)[0] + "/" + lab.url_path
    return base + ("?" + urllib.parse.urlencode(query) if query else "")


def reset_settings() -> None:
    """Every linked setting back to its default, the lesson closed (a button callback)."""
    apply_settings({})


def presenting() -> bool:
    """Whether presenter mode is on (see :func:`sidebar_view_controls`)."""
    return bool(st.session_state.get("presenter"))


PRESENTER_STYLE = """<style>
html { font-size: 20px; }
header[data-testid="stHeader"] { display: none; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2rem 2rem 2rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] { padding-top: 0.5rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.8rem; padding: 0 0 0.25rem 0; }
[data-testid="stMainBlockContainer"] h3 { padding: 0.25rem 0 0 0; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
[data-testid="stMetricValue"] { font-size: 1.6rem; }
</style>"""
"""Presenter mode: every rem-sized text a quarter larger, no toolbar, less white space."""


PICTURE_STYLE = """<style>
[data-testid="stImage"], [data-testid="stImageContainer"] { max-width: 100%; }
[data-testid="stImage"] img { max-width: 100%; height: auto; }
</style>"""
"""Pictures never overflow their column (``st.image`` with a width in pixels would)."""


def picture_style() -> None:
    """Keep every picture inside its column (``app.py``, once per run)."""
    st.html(PICTURE_STYLE)


def show_view(container, view: go.Figure | figures.Picture) -> None:
    """Draw what a figure builder returned in ``container``: a chart, or a
    :class:`~explorer.figures.Picture` as a plain image (much faster to draw) titled by
    its caption."""
    if isinstance(view, figures.Picture):
        container.image(view.png, caption=view.title, width=view.width, output_format="PNG")
    else:
        container.plotly_chart(view, width="stretch")


def show_svg(container, svg: str) -> None:
    """Draw a chart from :mod:`explorer.svg_charts` in ``container``.

    ``st.html`` sanitises with DOMPurify's HTML profile, which strips SVG, so the chart goes
    through Markdown with HTML allowed. Safe because the SVG is built by our own code, with
    every text in it escaped; nothing a user types reaches it unescaped."""
    container.markdown(svg, unsafe_allow_html=True)


def show_stage(
    container,
    values: np.ndarray,
    title: str,
    *,
    class_names: Sequence[str] | None = None,
    height: int = 460,
) -> None:
    """One stage of a forward pass in ``container``: (H, W, C) maps as a grid named 1…C
    (:func:`explorer.figures.map_grid_view`), the logits (when ``class_names`` are given)
    as bars per class, any other vector as bars per unit."""
    values = np.asarray(values)
    if values.ndim == 3:
        names = [str(index + 1) for index in range(values.shape[-1])]
        show_view(container, figures.map_grid_view(values, names, title=title, height=height))
        return
    labels = class_names or [str(index) for index in range(len(values))]
    chart = svg_charts.bar_chart_svg(
        labels,
        {"value": values},
        title=title,
        x_title="class" if class_names else "unit",
        width=960,
        height=min(height, 360),
        value_text=lambda value: f"{value:.2f}",
    )
    show_svg(container, chart)


def presenter_style() -> None:
    """In presenter mode, enlarge the text and hide Streamlit's toolbar (``app.py``)."""
    if presenting():
        st.html(PRESENTER_STYLE)


def settings_box(label: str = "Settings"):
    """Where a lab draws its controls: the page itself, or in presenter mode a closed
    expander above the figure (the presenter opens it to change a setting)."""
    return st.expander(label, icon=":material/tune:") if presenting() else st.container()


def section(title: str, heading=st.subheader):
    """A secondary section before a lab's main figure: ``heading(title)`` and its body, or
    in presenter mode a closed expander, so that the figure stays above the fold."""
    if presenting():
        return st.expander(title)
    heading(title)
    return st.container()


def sidebar_view_controls() -> None:
    """Presenter mode, a link to this view, and a reset to the defaults, in the sidebar
    (in presenter mode without the link)."""
    st.sidebar.toggle(
        "Presenter mode",
        key="presenter",
        help="Larger text and figures for a projector; fewer controls. Kept in the link.",
    )
    columns = st.sidebar.columns(2)
    if not presenting() and columns[0].button(
        "Copy link",
        icon=":material/link:",
        key="share_view",
        help="A link to this view, to send or to open later",
    ):
        _share_dialog()
    columns[1].button(
        "Reset",
        icon=":material/restart_alt:",
        on_click=reset_settings,
        key="reset_view",
        help="Every lab setting back to its default (presenter mode stays).",
    )


@st.dialog("Link to this view")
def _share_dialog() -> None:
    st.code(view_link(), language=None, wrap_lines=True)
    left_out = links.unlinkable(linked_values(), LINKED_SETTINGS)
    notes = [
        "Open it on any machine that runs CNN Explorer, or send it to your class: it opens "
        "this page with these settings. Use the copy button at the right of the link."
    ]
    if st.session_state.get("image_source") != "Sample" or "sample_name" in left_out:
        notes.append(
            "A drawing or an uploaded picture cannot travel in a link: the link opens with "
            "the default sample instead. Pick a sample to share the picture too."
        )
    notes.append(
        "Your private workspace is never in a link or in the address bar: your browser keeps "
        "it (or your sign-in names it), so sharing this view never shares your models."
    )
    for note in notes:
        st.caption(note)


def mark_app_frame() -> None:
    """Record, from ``app.py``, that the shared frame (navigation, sidebar) has run."""
    st.session_state["app_frame_ran"] = True


def enter_page() -> None:
    """Send a page opened without ``app.py`` to the app's entry point.

    On a freshly started server, Streamlit runs a deep link such as
    ``/convolution`` straight from the ``pages/`` folder until ``app.py`` has
    called ``st.navigation`` once; the page would then lack the sidebar. The
    entry point sets everything up and shows the start page.
    """
    if not st.session_state.get("app_frame_ran"):
        st.session_state[WANTED_PAGE] = (st.context.url or "").rstrip("/").rsplit("/", 1)[-1]
        st.switch_page("app.py", query_params=st.query_params.to_dict())


def open_wanted_page() -> None:
    """After :func:`enter_page` sent a deep link to ``app.py``: open the page it asked for,
    with its link's settings. Call it in ``app.py`` once the navigation exists."""
    wanted = st.session_state.pop(WANTED_PAGE, None)
    lab = next((lab for lab in labs.LABS if lab.url_path == wanted), None)
    if lab is not None:
        st.switch_page(page(lab), query_params=st.query_params.to_dict())


def show_error(error: Exception | str) -> None:
    """Show a user-caused problem (an error or its message) as a readable message, never a
    traceback; names from uploads in it stay plain text (see
    :func:`explorer.text.escape_markdown`)."""
    st.error(escape_markdown(error), icon=":material/warning:")


@dataclass(frozen=True)
class WorkingImage:
    """The image every lab works on.

    Attributes:
        pixels: float32 (H, W, C) in [0, 1], C = 1 or 3.
        original: the decoded uint8 (H0, W0, C0) before colour choice and resizing.
        label: where it came from, for captions.
        is_drawing: True for a drawing from the pad (white digit on black).
    """

    pixels: np.ndarray
    original: np.ndarray
    label: str
    is_drawing: bool


@st.cache_data(max_entries=16, show_spinner=False)
def _decode_cached(data: bytes) -> np.ndarray:
    """An upload decoded toward the largest working size (a huge photo never exists in full)."""
    return images.decode_image(data, max_side=max(WORKING_SIZES))


@st.cache_data(max_entries=32, show_spinner=False)
def _sample_cached(name: str) -> np.ndarray:
    return samples.load_sample(name)


def _drawing_from_pad() -> np.ndarray | None:
    """The pad's drawing as uint8 (224, 224, 1), or None when nothing is drawn yet."""
    st.sidebar.caption(
        "Draw a digit with the mouse: the labs update when you lift it. Undo, Redo and "
        "Clear are under the pad."
    )
    with st.sidebar:
        return drawing_pad.drawing_pad(key="digit_pad", side=PAD_SIDE, stroke_width=16)


def _raw_image_from_sidebar() -> tuple[np.ndarray, str, bool] | None:
    source = st.sidebar.radio(
        "Image source",
        IMAGE_SOURCES,
        horizontal=True,
        key="image_source",
        help="Draw a digit, upload your own picture, or pick a real photo or MNIST digit.",
    )
    if source == "Draw":
        drawing = _drawing_from_pad()
        if not presenting():
            st.sidebar.caption(
                "A drawing cannot go in a link. Save it as a sample to come back to it in "
                "this session (Sample → its name)."
            )
        if drawing is None:
            return None
        if st.sidebar.button(
            "Save drawing as a sample", icon=":material/save:", key="save_drawing"
        ):
            saved = st.session_state.setdefault(SAVED_DRAWINGS, {})
            name = f"my drawing {len(saved) + 1}"
            saved[name] = drawing
            st.sidebar.success(f"Saved as **{name}**.", icon=":material/check:")
        return drawing, "your drawing", True
    if source == "Upload":
        upload = st.sidebar.file_uploader(
            f"Image file ({images.READABLE_FORMATS_TEXT})",
            type=list(images.UPLOAD_SUFFIXES),
            key="upload",
        )
        if upload is None:
            return None
        data = upload.getvalue()
        try:
            return _decode_cached(data), upload.name, False
        except ExplorerError as error:
            st.sidebar.error(str(error), icon=":material/warning:")
            return None
    saved = st.session_state.get(SAVED_DRAWINGS, {})
    if st.session_state.get("sample_name") not in (*samples.SAMPLE_NAMES, *saved):
        st.session_state["sample_name"] = SETTING_DEFAULTS["sample_name"]
    name = st.sidebar.selectbox("Sample", (*samples.SAMPLE_NAMES, *saved), key="sample_name")
    if name in saved:
        return saved[name], name, True
    return _sample_cached(name), name, name in samples.DIGIT_SAMPLES


def sidebar_image() -> WorkingImage | None:
    """Draw the image-source controls in the sidebar and return the working image.

    Returns None when there is no image yet (nothing drawn or uploaded).
    """
    raw = _raw_image_from_sidebar()
    colour_mode = st.sidebar.radio(
        "Colour",
        images.COLOUR_MODES,
        format_func=lambda mode: {"grayscale": "Grayscale (H×W×1)", "rgb": "RGB (H×W×3)"}[mode],
        horizontal=True,
        key="colour_mode",
        help="A colour image has three channels, so every kernel gets depth 3.",
    )
    working_size = st.sidebar.select_slider(
        "Working size (longest side, px)",
        options=WORKING_SIZES,
        key="working_size",
        help="Large images are downscaled to this size; bigger is sharper but slower.",
    )
    if raw is None:
        return None
    original, label, is_drawing = raw
    pixels = _working_cached(_digest(original), original, colour_mode, working_size)
    return WorkingImage(pixels, original, label, is_drawing)


def require_image() -> WorkingImage:
    """The working image chosen in the sidebar, or say what to do and stop this page run."""
    image = st.session_state.get("working_image")
    if image is None:
        st.info(
            "Draw a digit, upload an image or pick a sample in the sidebar to begin.",
            icon=":material/arrow_back:",
        )
        st.stop()
    return image


def _digest(array: np.ndarray) -> str:
    return hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest() + str(array.shape)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs={np.ndarray: lambda _: None})
def _working_cached(
    digest: str, original: np.ndarray, colour_mode: str, working_size: int
) -> np.ndarray:
    return images.to_working_image(original, colour_mode, working_size)


def sidebar_device_info() -> None:
    """Which JAX backend and devices run the computations (not in presenter mode)."""
    if presenting():
        return
    devices = jax.devices()
    st.sidebar.caption(
        f"JAX {jax.__version__} on **{jax.default_backend().upper()}** · "
        f"{len(devices)} device(s): {', '.join(d.device_kind for d in devices)}"
    )


@dataclass(frozen=True)
class ConvSettings:
    """The convolution controls, shared by the Convolution, Pooling and Frequency pages."""

    kernel_size: int
    stride: int
    padding: str | int
    dilation: int
    filter_count: int
    presets: tuple[str, ...]
    use_custom_kernel: bool
    seed: int


def _default_custom_kernel(size: int) -> np.ndarray:
    name = "sobel x" if "sobel x" in ops.presets_for_kernel_size(size) else "identity"
    return ops.kernel_preset(name, size)


def custom_kernel(size: int) -> np.ndarray:
    """The user's editable kernel for this size (a Sobel-x to start from)."""
    store = st.session_state.setdefault("custom_kernels", {})
    return store.get(size, _default_custom_kernel(size))


def conv_controls(container=st) -> ConvSettings:
    """Kernel size, stride, padding, dilation, filter count and filter choice."""
    columns = container.columns(3)
    kernel_size = columns[0].slider("Kernel size k", 1, 11, key="kernel_size")
    stride = columns[1].slider("Stride s", 1, 5, key="stride")
    dilation = columns[2].slider("Dilation d", 1, 3, key="dilation")
    columns = container.columns(3)
    padding_mode = columns[0].radio(
        "Padding", ops.PADDING_MODES, horizontal=True, key="padding_mode"
    )
    explicit = columns[1].slider(
        "Zero padding p (each side)",
        0,
        5,
        key="explicit_padding",
        disabled=padding_mode != "explicit",
    )
    filter_count = columns[2].slider("Filter count F", 1, 64, key="filter_count")
    usable = ops.presets_for_kernel_size(kernel_size)
    wanted = st.session_state.setdefault("presets_wanted", list(DEFAULT_PRESETS))
    st.session_state["presets"] = [name for name in wanted if name in usable]
    columns = container.columns([3, 1, 1])
    presets = columns[0].multiselect(
        "Preset filters (first in the bank)",
        usable,
        key="presets",
        on_change=_remember_presets,
        args=(usable,),
        help="Edge, curve and sharpen presets need k ≥ 3. Filters not chosen here are random.",
    )
    use_custom = columns[1].toggle("My custom kernel first", key="use_custom_kernel")
    seed = columns[2].number_input("Random seed", 0, 9999, key="random_seed")
    padding = explicit if padding_mode == "explicit" else padding_mode
    return ConvSettings(
        kernel_size, stride, padding, dilation, filter_count, tuple(presets), use_custom, int(seed)
    )


def _remember_presets(usable: list[str]) -> None:
    """Record the user's preset choice; presets hidden at this kernel size stay chosen, so
    going from k = 3 to 1 and back restores them."""
    hidden = [name for name in st.session_state["presets_wanted"] if name not in usable]
    st.session_state["presets_wanted"] = list(st.session_state["presets"]) + hidden


def custom_kernel_editor(size: int) -> None:
    """An editable k×k grid for the custom kernel, kept per kernel size (and in the URL)."""
    kernel = custom_kernel(size)
    edited = st.data_editor(
        np.round(kernel, 3),
        key=f"{CUSTOM_KERNEL_EDITOR}{size}",
        width="content",
    )
    values = np.asarray(edited, dtype=np.float64)
    if values.shape == (size, size) and np.all(np.isfinite(values)):
        st.session_state["custom_kernels"][size] = values.astype(np.float32)
        keep_settings_in_url()
    else:
        st.warning("Every cell of the custom kernel needs a number.")


def filter_bank(settings: ConvSettings, in_channels: int) -> ops.FilterBank:
    """The filter bank for the current settings and the image's depth."""
    custom = custom_kernel(settings.kernel_size) if settings.use_custom_kernel else None
    return ops.build_filter_bank(
        settings.kernel_size,
        in_channels,
        settings.filter_count,
        settings.presets,
        custom,
        settings.seed,
    )


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Once per server process, in the background: compile and build what the labs need at
    their default settings, so that a first visit does not compile on the user's clock.

    The thread is not a daemon: the interpreter waits the few seconds it takes before
    exiting, because killing a thread inside an XLA compilation aborts the process."""
    thread = threading.Thread(target=_warm_defaults, name="warm-up", daemon=False)
    thread.start()
    return thread


_POOLING_TO_WARM = sorted(
    {(window, SETTING_DEFAULTS["pool_stride"]) for window in range(1, 9)}
    | {(SETTING_DEFAULTS["pool_window"], stride) for stride in range(1, 9)}
)
"""(window, stride) pairs Lab 3 compiles ahead: every window at the default stride and every
stride at the default window (each pair compiled on a slider step about 100 ms a shape)."""


_CONVOLUTIONS_TO_WARM = sorted(
    {(size, 1, SETTING_DEFAULTS["filter_count"]) for size in range(1, 12)}
    | {(3, stride, SETTING_DEFAULTS["filter_count"]) for stride in range(1, 6)}
    | {(3, 1, filters) for filters in range(1, 9)}
)
"""(kernel size, stride, filters) the convolution labs compile ahead on the default grayscale
photo: every kernel size and every stride, and 1–8 filters (a first step to a new shape
spent 150–250 ms compiling)."""


def _warm_defaults() -> None:
    """Run each lab's default JAX computation once (it compiles per shape) for the default
    photo in both colour modes, a drawn digit, the learning lab's step, loss landscape and
    deep stacks (first visits of its sections took 7-10 s), and last Lab 3's pooling for
    each of :data:`_POOLING_TO_WARM` and the convolutions of :data:`_CONVOLUTIONS_TO_WARM`.
    Only JAX and NumPy work: importing modules from a second thread while the page's script
    imports them can see half-initialised modules."""
    original = samples.load_sample(SETTING_DEFAULTS["sample_name"])
    digit_sample = images.to_working_image(
        samples.load_sample(invariance.DEMO_DIGIT), "grayscale", 28
    )
    shifts = [(1, 1)] + [(step, step) for step in invariance.DIAGONAL_SHIFTS]
    lab_3_layers = {}
    for colour_mode in images.COLOUR_MODES:
        pixels = images.to_working_image(original, colour_mode, SETTING_DEFAULTS["working_size"])
        bank = ops.build_filter_bank(3, pixels.shape[-1], 4, DEFAULT_PRESETS)
        geometry = ops.conv_geometry(pixels.shape[:2], 3, 1, "valid", 1)
        shifted = np.repeat(digit_sample, pixels.shape[-1], axis=-1)
        shift_geometry = ops.conv_geometry(shifted.shape[:2], 3, 1, "valid", 1)
        lab_3_layers[colour_mode] = (pixels, shifted, bank.kernels, geometry, shift_geometry)
        ops.conv_activate_pool(pixels, bank.kernels, geometry, "relu", 0.1, "max", 2, 2)
        settings = (shifted, bank.kernels, shift_geometry, "relu", "max", 2)
        invariance.compare_shifts(*settings, 2, shifts)
    digit = np.zeros((28, 28, 1), np.float32)
    spec = model.preset("tiny", digit.shape, 10)
    variables = model.init_variables(spec)
    explain.probabilities(spec, variables, digit[None])
    explain.forward_stages(spec, variables, digit)
    digits, labels = learning.lesson_batch()
    params = model.init_variables(learning.LAB_SPEC)["params"]
    learning.gradient_step(learning.LAB_SPEC, params, digits, labels, "cross-entropy", 0.1)
    explain.forward_stages(learning.LAB_SPEC, {"params": params}, digits[0])
    rates = list(learning.DEFAULT_RATES)
    learning.loss_landscape(learning.LAB_SPEC, params, digits, labels, "cross-entropy", rates)
    learning.deep_stack_gradient_norms(digits, labels)
    pixels, shifted, kernels, geometry, shift_geometry = lab_3_layers["grayscale"]
    for window, stride in _POOLING_TO_WARM:
        ops.conv_activate_pool(pixels, kernels, geometry, "relu", 0.1, "max", window, stride)
        settings = (shifted, kernels, shift_geometry, "relu", "max", window)
        invariance.compare_shifts(*settings, stride, shifts)
    for kernel_size, stride, filters in _CONVOLUTIONS_TO_WARM:
        usable = ops.presets_for_kernel_size(kernel_size)
        presets = [name for name in DEFAULT_PRESETS if name in usable]
        bank = ops.build_filter_bank(kernel_size, pixels.shape[-1], filters, presets)
        geometry = ops.conv_geometry(pixels.shape[:2], kernel_size, stride, "valid", 1)
        ops.feature_maps(pixels, bank.kernels, geometry)


COUNT_COLUMN = st.column_config.NumberColumn(format="localized")
"""A table column of whole counts, with thousands separators."""


def show_layer_table(
    rows: list[model.LayerRow], columns: tuple[str, ...] | None = None, height: int | str = "auto"
) -> None:
    """The per-layer table (:func:`layer_table_records`), counts with thousands separators;
    ``columns`` picks and orders the columns (all by default)."""
    st.dataframe(
        layer_table_records(rows),
        hide_index=True,
        width="stretch",
        height=height,
        column_order=columns,
        column_config={name: COUNT_COLUMN for name in ("parameters", "multiply-adds", "FLOPs")},
    )


def layer_table_records(rows: list[model.LayerRow]) -> list[dict]:
    """The per-layer table as records for ``st.dataframe``: name, kind, output shape,
    parameters, multiply-adds, FLOPs, receptive field ("whole image" for dense layers)
    and settings."""
    return [
        {
            "layer": row.name,
            "kind": row.kind,
            "output shape": "×".join(map(str, row.output_shape)),
            "parameters": row.params,
            "multiply-adds": row.macs,
            "FLOPs": row.flops,
            "receptive field": "whole image"
            if row.receptive_field is None
            else f"{row.receptive_field}×{row.receptive_field}",
            "detail": row.detail,
        }
        for row in rows
    ]
