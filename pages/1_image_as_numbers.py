"""Lab 1: an image is an array of numbers."""

import numpy as np
import pandas as pd
import streamlit as st

from explorer import figures, images, ops, svg_charts, ui
from explorer.text import count_noun, escape_markdown

ui.enter_page()
ui.lab_title(__file__)
image = ui.require_image()
pixels = image.pixels
height, width, channels = pixels.shape

where_to_read = (
    "Hover over the picture to read them."
    if height * width <= figures.NUMBERS_ON_HOVER_CELLS
    else "Zoom into a patch below to read them (at 64 × 64 or smaller, hovering shows them too)."
)
st.markdown(
    f"A computer sees **{escape_markdown(image.label)}** as a grid of "
    f"**{height} × {width} × {channels}** = "
    f"**{pixels.size:,} numbers**. {where_to_read}"
)
left, right = st.columns([3, 2])
ui.show_view(
    left, figures.image_view(pixels, title=f"{height}×{width}×{channels}, values 0–1", height=480)
)
with right:
    st.metric("Shape (H × W × C)", f"{height} × {width} × {channels}")
    st.metric("Numbers in the image", f"{pixels.size:,}")
    st.caption("Files store 8-bit integers 0–255; the labs divide by 255 to work with 0–1.")
    if image.is_drawing:
        digit = images.mnist_style_digit(images.to_grayscale(pixels))
        st.plotly_chart(
            figures.image_figure(
                digit, title="MNIST-style 28×28 (what a digit model sees)", height=300
            ),
            width="stretch",
        )
        st.caption("Cropped to the strokes, scaled to 20×20, centred by centre of mass.")


PATCH_SIDES = (3, 16)  # smallest and largest side of the zoomed patch


def position_slider(container, label: str, last: int, default: int) -> int:
    """A slider over positions 0..last; with one position there is nothing to slide."""
    if last < 1:
        container.caption(f"{label}: 0 (the only position)")
        return 0
    return container.slider(label, 0, last, min(default, last))


@st.fragment
def zoom_patch() -> None:
    st.subheader("Zoom into a patch")
    largest = min(PATCH_SIDES[1], height, width)
    if largest < PATCH_SIDES[0]:
        st.info(
            f"This image is only {height} × {width} pixels, too thin for a "
            f"{PATCH_SIDES[0]} × {PATCH_SIDES[0]} patch: hover the picture above to read its "
            "numbers."
        )
        return
    columns = st.columns(3)
    if largest == PATCH_SIDES[0]:
        size = largest
        columns[0].caption(f"Patch size: {size} (the image's shorter side)")
    else:
        st.session_state["patch_size"] = min(st.session_state.get("patch_size", 8), largest)
        size = columns[0].slider("Patch size", PATCH_SIDES[0], largest, key="patch_size")
    row = position_slider(columns[1], "Top row", height - size, height // 3)
    col = position_slider(columns[2], "Left column", width - size, width // 3)
    patch = pixels[row : row + size, col : col + size]
    view, numbers = st.columns([2, 3])
    ui.show_view(
        view,
        figures.image_view(pixels, title="Where the patch is", height=360, window=(row, col, size)),
    )
    for index, name in enumerate(["gray"] if channels == 1 else ["red", "green", "blue"]):
        numbers.html(
            figures.value_table_html(
                np.round(patch[..., index] * 255),
                title=f"{name} channel, 0–255",
                decimals=0,
                colorscale="gray" if channels == 1 else figures.CHANNEL_SCALES[name],
                value_range=(0, 255),
            )
        )


zoom_patch()

st.subheader("Channels")
if channels == 1:
    st.write(
        "This image has **one channel** (grayscale): one number per pixel. Switch *Colour* "
        "to RGB in the sidebar to see three."
    )
else:
    st.write("A colour image stacks **three channels**: red, green and blue intensity.")
    for column, (index, name) in zip(
        st.columns(3), enumerate(["red", "green", "blue"]), strict=True
    ):
        ui.show_view(
            column,
            figures.image_view(
                pixels[..., index],
                title=f"{name} (H×W×1)",
                height=300,
                colorscale=figures.CHANNEL_SCALES[name],
            ),
        )


@st.fragment
def normalisation() -> None:
    st.subheader("Normalisation")
    method = st.radio(
        "Transform",
        list(images.NORMALISATIONS),
        horizontal=True,
        key="normalisation",
        help="Networks train better on small, centred inputs.",
    )
    raw = np.round(pixels * 255.0)
    normalised = images.NORMALISATIONS[method](raw)
    columns = st.columns(2)
    for column, values, title in zip(
        columns, ({"raw 0–255": raw}, {method: normalised}), ("Before", "After"), strict=True
    ):
        ui.show_svg(column, svg_charts.histogram_svg(values, title=title, width=470, height=300))
    stats = images.describe(normalised)
    st.write(
        f"After **{method}**: mean {stats['mean']:.3f}, standard deviation {stats['std']:.3f}, "
        f"range [{stats['min']:.3f}, {stats['max']:.3f}]."
    )


normalisation()

st.subheader("Flattening: what a fully connected network (MLP) needs")
st.write(
    f"An MLP cannot take a grid: the image is flattened into one vector of "
    f"{height}·{width}·{channels} = **{pixels.size:,} numbers**, and every number connects "
    "to every unit of the first layer. Neighbouring pixels lose their neighbourhood."
)
ui.show_view(st, figures.flattened_view(pixels))


@st.fragment
def parameter_counts() -> None:
    columns = st.columns(3)
    units = columns[0].number_input("Dense units", 1, 100_000, 1000, key="dense_units")
    filters = columns[1].number_input("Conv filters", 1, 1024, 64, key="conv_filters_compare")
    kernel = columns[2].number_input("Conv kernel size", 1, 11, 3, key="conv_kernel_compare")
    rows = []
    for label, shape in [
        ("this image", (height, width, channels)),
        ("MNIST digit", (28, 28, 1)),
        ("ImageNet photo", (224, 224, 3)),
    ]:
        counts = ops.dense_versus_conv(*shape, int(units), int(filters), int(kernel))
        rows.append(
            {
                "input": f"{label} {shape[0]}×{shape[1]}×{shape[2]}",
                "flattened length": f"{counts.flattened_length:,}",
                f"dense layer, {count_noun(units, 'unit')}": (f"{counts.dense_parameters:,}"),
                f"conv layer, {count_noun(filters, 'filter')} {kernel}×{kernel}": (
                    f"{counts.conv_parameters:,}"
                ),
                "ratio": f"{counts.dense_parameters / counts.conv_parameters:,.0f}×",
            }
        )
    st.table(pd.DataFrame(rows).set_index("input"))
    st.caption(
        "Weights + biases. A conv layer shares one small kernel across all positions, so its "
        "size does not grow with the image: this is **local connectivity** and **weight "
        "sharing**."
    )


parameter_counts()
