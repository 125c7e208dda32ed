"""Lab 3: non-linearities, pooling, and a little translation invariance.

Each section owns its controls in a fragment: the activation reruns sections 1–3 (not the
sidebar or the convolution), the pooling controls sections 2 and 3, the shift sliders only
section 3. The fragments nest, and each passes what the next one needs.
"""

import numpy as np
import streamlit as st

from explorer import architecture, figures, images, invariance, ops, samples, svg_charts, ui
from explorer.errors import ExplorerError

SHIFT_PICTURES = ("an MNIST digit", "your picture")

ui.enter_page()
ui.lab_title(__file__)
image = ui.require_image()
pixels = image.pixels
height, width, channels = pixels.shape

with st.expander("Convolution settings (shared with the Convolution page)"):
    settings = ui.conv_controls()

try:
    geometry = ops.conv_geometry(
        (height, width), settings.kernel_size, settings.stride, settings.padding, settings.dilation
    )
    bank = ui.filter_bank(settings, channels)
    conv = ops.feature_maps(pixels, bank.kernels, geometry)
except ExplorerError as error:
    ui.show_error(error)
    st.stop()


def shift_picture(choice: str) -> np.ndarray:
    """The picture the translation demo shifts: a digit on black (the default, where the
    lesson shows) or the sidebar picture, float32 (H, W, C) with the lab's C channels."""
    if choice == SHIFT_PICTURES[1]:
        return pixels
    digit = images.to_working_image(samples.load_sample(invariance.DEMO_DIGIT), "grayscale", 28)
    return np.repeat(digit, channels, axis=-1)


@ui.fragment
def translation_demo(
    activation: str, slope: float, pool_kind: str, pool_window: int, pool_stride: int
) -> None:
    st.subheader("3 · Translation: shift the input, compare the representations")
    columns = st.columns([2, 1, 1])
    choice = columns[0].segmented_control(
        "Picture to shift",
        SHIFT_PICTURES,
        default=SHIFT_PICTURES[0],
        key="shift_picture",
        required=True,
    )
    rows = columns[1].slider("Shift down (px)", -8, 8, 1, key="shift_rows")
    cols = columns[2].slider("Shift right (px)", -8, 8, 1, key="shift_cols")
    picture = shift_picture(choice)
    try:
        shift_geometry = ops.conv_geometry(
            picture.shape[:2],
            settings.kernel_size,
            settings.stride,
            settings.padding,
            settings.dilation,
        )
        layer = (picture, bank.kernels, shift_geometry, activation, pool_kind, pool_window)
        comparison, *sweep = invariance.compare_shifts(  # one batch: one compiled shape
            *layer,
            pool_stride,
            [(rows, cols)] + [(step, step) for step in invariance.DIAGONAL_SHIFTS],
            negative_slope=slope,
        )
    except ExplorerError as error:
        ui.show_error(error)
        return
    if choice == SHIFT_PICTURES[1] and not image.is_drawing and "digit" not in image.label:
        st.info(
            "A photo's edges fill the border with new content when shifted, so its maps "
            "change more than a digit's on a black background."
        )
    columns = st.columns([1, 1, 2])
    shifted = images.shift_image(picture, rows, cols)
    for column, shown, name in zip(
        columns[:2], (picture, shifted), ("Original", "Shifted"), strict=True
    ):
        ui.show_view(column, figures.image_view(shown, title=name, height=260, hover=False))
    columns[2].html(
        figures.bar_table_html(
            [
                "flattened pixels (an MLP's input)",
                "feature maps",
                "feature maps, shifted back",
                f"{pool_kind}-pooled maps",
                "global max of each map",
            ],
            [
                comparison.pixels,
                comparison.feature_maps,
                comparison.feature_maps_realigned,
                comparison.pooled_maps,
                comparison.global_max,
            ],
            title="Relative change ‖after − before‖ / ‖before‖ (bar: 0 to 1.5)",
            maximum=1.5,
        )
    )
    st.caption(
        "Convolution is **equivariant**: shifted back, the maps differ only near the borders "
        f"(here by {comparison.feature_maps_realigned:.3f}). Pooling keeps the strongest "
        "response in each window, and one global maximum per map forgets where the pattern was."
    )
    st.markdown(invariance.shift_verdict(comparison, pool_kind))
    ui.show_svg(
        st,
        svg_charts.line_chart_svg(
            invariance.DIAGONAL_SHIFTS,
            {
                "pixels": [c.pixels for c in sweep],
                "feature maps": [c.feature_maps for c in sweep],
                f"{pool_kind}-pooled": [c.pooled_maps for c in sweep],
                "global max": [c.global_max for c in sweep],
            },
            title="Change against diagonal shift",
            x_title="shift (pixels down and right)",
            y_title="relative change",
            width=960,
            height=340,
        ),
    )


@ui.fragment
def pooling_sections(activation: str, slope: float, activated: np.ndarray) -> None:
    st.subheader("2 · Pooling: summarise each window")
    columns = st.columns(3)
    pool_kind = columns[0].radio("Pooling", ops.POOLING_KINDS, horizontal=True, key="pool_kind")
    pool_window = columns[1].slider("Pool window", 1, 8, key="pool_window")
    pool_stride = columns[2].slider("Pool stride", 1, 8, key="pool_stride")
    try:
        pooled = ops.pool_maps(activated, pool_kind, pool_window, pool_stride)
    except ExplorerError as error:
        ui.show_error(error)
        return
    conv_h, conv_w, filters = conv.shape
    pool_h, pool_w, _ = pooled.shape
    columns = st.columns(3)
    columns[0].metric("Feature maps", f"{conv_h}×{conv_w}×{filters}")
    columns[1].metric("After pooling", f"{pool_h}×{pool_w}×{filters}")
    columns[2].metric("Values kept", f"{pooled.size / conv.size:.0%}")
    region, (block_row, block_col) = ops.pooling_example(
        activated[..., 0], pool_window, pool_stride
    )
    block = pooled[block_row : block_row + 3, block_col : block_col + 3, 0]
    left, right = st.columns(2)
    ui.show_view(
        left,
        figures.map_grid_view(
            pooled,
            bank.names,
            title=f"Pooled, {pool_h}×{pool_w} (its input: the maps above, right)",
        ),
    )
    right.html(figures.value_table_html(region, title="Map 1 around its strongest response"))
    right.html(
        figures.value_table_html(
            block,
            title=f"→ {pool_kind} of each {pool_window}×{pool_window} window, stride {pool_stride}",
        )
    )
    translation_demo(activation, slope, pool_kind, pool_window, pool_stride)


@ui.fragment
def activation_section() -> None:
    st.subheader("1 · Activation: bend the response")
    columns = st.columns([2, 2, 3])
    activation = columns[0].selectbox(
        "Activation", ops.ACTIVATIONS, format_func=architecture.word, key="activation"
    )
    activation_word = architecture.word(activation)
    slope = columns[1].slider(
        "Leaky slope",
        0.0,
        0.5,
        step=0.01,
        key="negative_slope",
        disabled=activation != "leaky_relu",
    )
    activated = ops.activate_maps(conv, activation, slope)

    left, right = st.columns([1, 2])
    curve_x = np.linspace(-4, 4, 161, dtype=np.float32)
    curve_y = np.asarray(ops.activate(curve_x, ops.activation_index(activation), slope))
    ui.show_svg(
        left,
        svg_charts.line_chart_svg(
            curve_x,
            {activation_word: curve_y},
            title=f"{activation_word}(x)",
            x_title="x",
            y_title="output",
            width=320,
            height=320,
        ),
    )
    ui.show_svg(
        right,
        svg_charts.histogram_svg(
            {"before (conv output)": conv, f"after {activation_word}": activated},
            title="Values of all feature maps",
            width=640,
            height=320,
        ),
    )
    columns = st.columns(2)
    ui.show_view(columns[0], figures.map_grid_view(conv, bank.names, title="Before activation"))
    ui.show_view(
        columns[1], figures.map_grid_view(activated, bank.names, title=f"After {activation_word}")
    )
    st.caption("Without a non-linearity, stacked conv layers collapse into one linear filter.")
    pooling_sections(activation, slope, activated)


activation_section()
