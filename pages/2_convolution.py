"""Lab 2: kernels slide over the image and produce feature maps."""

import numpy as np
import streamlit as st

from explorer import conv_svg, figures, ops, text, ui
from explorer.errors import ExplorerError

ui.enter_page()
ui.lab_title(__file__)
image = ui.require_image()
pixels = image.pixels
height, width, channels = pixels.shape

settings = ui.conv_controls(ui.settings_box())
if settings.use_custom_kernel:
    with st.expander(
        f"Edit the custom {settings.kernel_size}×{settings.kernel_size} kernel",
        True,
        icon=":material/edit:",
    ):
        ui.custom_kernel_editor(settings.kernel_size)
try:
    geometry = ops.conv_geometry(
        (height, width), settings.kernel_size, settings.stride, settings.padding, settings.dilation
    )
    bank = ui.filter_bank(settings, channels)
except ExplorerError as error:
    ui.show_error(error)
    st.stop()

out_h, out_w = geometry.output_hw
(top, bottom), (left, right) = geometry.padding
k, s, d = settings.kernel_size, settings.stride, settings.dilation
maps = ops.feature_maps(pixels, bank.kernels, geometry)
filters = settings.filter_count
st.subheader(f"{text.count_noun(filters, 'filter')} → {text.count_noun(filters, 'feature map')}")
st.markdown(
    "  \n".join(
        text.escape_markdown(line)
        for line in (ops.OUTPUT_SIZE_FORMULA, *ops.output_size_arithmetic(geometry))
    ),
    help="n: input size, p: zero padding before and after, k: kernel size, d: dilation, "
    "s: stride. ⌊x⌋ rounds down: a window that would run past the padded input is not taken.",
)
columns = st.columns([10, 7, 10, 3.5])
columns[0].markdown(conv_svg.input_caption(geometry))
ui.show_svg(columns[0], conv_svg.padded_input_svg(pixels, geometry))
mean_kernels = bank.kernels.mean(axis=2)
if filters == 1 and k <= 5:
    kernel = mean_kernels[..., 0]
    columns[1].html(
        figures.value_table_html(
            kernel,
            title=f"Kernel {k}×{k}" + (f" (mean of {channels} channels)" if channels > 1 else ""),
            decimals=0 if np.array_equal(kernel, np.round(kernel)) else 2,
            font_px=22 if k <= 3 else 15,
        )
    )
else:
    ui.show_view(
        columns[1],
        figures.map_grid_view(
            mean_kernels, bank.names, title="Kernels (mean over channels)", hover=False, height=300
        ),
    )
if filters == 1:
    limits = conv_svg.signed_limits(maps[..., 0])
    picture = figures.image_view(
        maps[..., 0], value_range=limits, colorscale=figures.DIVERGING, height=300, hover=False
    )
    ticks = conv_svg.map_ticks(maps[..., 0])
else:
    picture = figures.map_grid_view(maps, bank.names, hover=False, height=300)
    limits, ticks = (-1.0, 1.0), conv_svg.GRID_TICKS
columns[2].markdown(f"**{'Feature map' if filters == 1 else 'Feature maps'}** {out_h}×{out_w}")
ui.show_view(columns[2], picture)
columns[3].markdown("**Scale**")
ui.show_svg(
    columns[3],
    conv_svg.colour_bar_svg(
        picture.height, limits, ticks, colorscale=figures.DIVERGING, label="Colour scale"
    ),
)
st.caption(
    "Red = positive response, blue = negative, white = zero"
    + ("." if filters == 1 else "; each map is scaled to its own largest |value| (±max).")
    + " The step-through below prints the exact numbers of any output cell."
)
with ui.section("Output size"):
    columns = st.columns(4)
    columns[0].metric("Input", f"{height}×{width}×{channels}")
    columns[1].metric("Each kernel", f"{k}×{k}×{channels}", help="A kernel has the input's depth.")
    columns[2].metric("Output", f"{out_h}×{out_w}×{filters}")
    columns[3].metric(
        "Learnable parameters",
        f"{ops.conv_parameter_count(k, channels, filters):,}",
        help="k·k·C weights per filter plus one bias each; independent of the image size.",
    )


@st.fragment
def sliding_window() -> None:
    st.subheader("Step through the sliding window")
    columns = st.columns([1, 3])
    filter_index = columns[0].selectbox(
        "Filter", range(len(bank.names)), format_func=lambda i: f"{i + 1}: {bank.names[i]}"
    )
    step = columns[1].slider(
        f"Output cell (row-major step, {out_h * out_w} positions)",
        0,
        out_h * out_w - 1,
        0,
        key="window_step",
    )
    out_row, out_col = divmod(step, out_w)
    kernel = bank.kernels[..., filter_index]
    patch, products, total = ops.window_arithmetic(pixels, kernel, geometry, out_row, out_col)
    row0, col0 = geometry.window_origin(out_row, out_col)
    padded = ops.pad_image(pixels, geometry.padding)
    span = geometry.effective_kernel
    margin = max(2 * span, 6)
    crop_row = max(0, row0 + top - margin)
    crop_col = max(0, col0 + left - margin)
    crop = padded[crop_row : row0 + top + span + margin, crop_col : col0 + left + span + margin]
    crop_top, crop_left = crop_row - top, crop_col - left
    view = figures.image_view(
        crop,
        title=(
            f"Input rows {crop_top}–{crop_top + crop.shape[0] - 1}, columns "
            f"{crop_left}–{crop_left + crop.shape[1] - 1} around the window"
            + (
                " (those below 0 or past the edge are zero padding)"
                if top + left + bottom + right
                else ""
            )
        ),
        height=420,
        window=(row0 + top - crop_row, col0 + left - crop_col, k),
        dilation=d,
        hover=False,
    )
    result = figures.image_view(
        maps[..., filter_index],
        title=f"Feature map {filter_index + 1}",
        height=420,
        value_range=None,
        colorscale=figures.DIVERGING,
        window=(out_row, out_col, 1),
    )
    columns = st.columns(2)
    ui.show_view(columns[0], view)
    ui.show_view(columns[1], result)
    count = k * k * channels
    st.markdown(
        f"Output cell **(row {out_row}, col {out_col})** = sum of **{k}×{k}×{channels} = {count} "
        f"multiplications** = **{total:.4f}** (the feature map holds "
        f"{maps[out_row, out_col, filter_index]:.4f})."
    )
    names = ["gray"] if channels == 1 else ["red", "green", "blue"]
    for index, name in enumerate(names):
        columns = st.columns(3)
        suffix = f" ({name})" if channels > 1 else ""
        columns[0].html(
            figures.value_table_html(
                patch[..., index],
                title=f"Input patch{suffix}",
                decimals=2,
                colorscale="gray",
                value_range=(0, 1),
            )
        )
        columns[1].html(figures.value_table_html(kernel[..., index], title=f"× kernel{suffix}"))
        columns[2].html(
            figures.value_table_html(
                products[..., index],
                title=f"= products{suffix}, sum {products[..., index].sum():.3f}",
            )
        )


sliding_window()
