"""Lab 2: kernels slide over the image and produce feature maps."""

import streamlit as st

from explorer import figures, ops, ui
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
with ui.section("Output size"):
    for equation in ops.output_size_equations(geometry):
        st.latex(equation)
    columns = st.columns(4)
    columns[0].metric("Input", f"{height}×{width}×{channels}")
    columns[1].metric("Each kernel", f"{k}×{k}×{channels}", help="A kernel has the input's depth.")
    columns[2].metric("Output", f"{out_h}×{out_w}×{settings.filter_count}")
    columns[3].metric(
        "Learnable parameters",
        f"{ops.conv_parameter_count(k, channels, settings.filter_count):,}",
        help="k·k·C weights per filter plus one bias each; independent of the image size.",
    )

maps = ops.feature_maps(pixels, bank.kernels, geometry)
st.subheader(f"{settings.filter_count} filters and their feature maps")
left_col, right_col = st.columns([1, 2])
ui.show_view(
    left_col,
    figures.map_grid_view(
        bank.kernels.mean(axis=2), bank.names, title="Kernels (mean over channels)"
    ),
)
ui.show_view(
    right_col, figures.map_grid_view(maps, bank.names, title=f"Feature maps, {out_h}×{out_w} each")
)
st.caption(
    "Red = positive response, blue = negative, white = zero; each map is scaled to its own "
    "largest value. The step-through below prints the exact numbers of any output cell."
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
