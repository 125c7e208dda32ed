"""Lab 3: non-linearities, pooling, and a little translation invariance."""

import numpy as np
import streamlit as st

from explorer import figures, images, invariance, ops, ui
from explorer.errors import ExplorerError

ui.enter_page()
ui.lab_title(__file__)
image = ui.require_image()
pixels = image.pixels
height, width, channels = pixels.shape

with st.expander("Convolution settings (shared with the Convolution page)"):
    settings = ui.conv_controls()
columns = st.columns(5)
activation = columns[0].selectbox("Activation", ops.ACTIVATIONS, key="activation")
slope = columns[1].slider(
    "Leaky slope", 0.0, 0.5, step=0.01, key="negative_slope", disabled=activation != "leaky_relu"
)
pool_kind = columns[2].radio("Pooling", ops.POOLING_KINDS, horizontal=True, key="pool_kind")
pool_window = columns[3].slider("Pool window", 1, 8, key="pool_window")
pool_stride = columns[4].slider("Pool stride", 1, 8, key="pool_stride")

try:
    geometry = ops.conv_geometry(
        (height, width), settings.kernel_size, settings.stride, settings.padding, settings.dilation
    )
    bank = ui.filter_bank(settings, channels)
    stages = ops.conv_activate_pool(
        pixels, bank.kernels, geometry, activation, slope, pool_kind, pool_window, pool_stride
    )
except ExplorerError as error:
    ui.show_error(error)
    st.stop()

conv_h, conv_w, filters = stages.conv.shape
pool_h, pool_w, _ = stages.pooled.shape
columns = st.columns(3)
columns[0].metric("Feature maps", f"{conv_h}×{conv_w}×{filters}")
columns[1].metric("After pooling", f"{pool_h}×{pool_w}×{filters}")
columns[2].metric("Values kept", f"{stages.pooled.size / stages.conv.size:.0%}")

st.subheader("1 · Activation: bend the response")
left, right = st.columns([1, 2])
curve_x = np.linspace(-4, 4, 161, dtype=np.float32)
curve_y = np.asarray(ops.activate(curve_x, ops.activation_index(activation), slope))
left.plotly_chart(
    figures.line_figure(curve_x, {activation: curve_y}, f"{activation}(x)", "x", "output"),
    width="stretch",
)
right.plotly_chart(
    figures.histogram_figure(
        {"before (conv output)": stages.conv, f"after {activation}": stages.activated},
        "Values of all feature maps",
    ),
    width="stretch",
)
columns = st.columns(2)
columns[0].plotly_chart(
    figures.map_grid_figure(stages.conv, bank.names, "Before activation"), width="stretch"
)
columns[1].plotly_chart(
    figures.map_grid_figure(stages.activated, bank.names, f"After {activation}"),
    width="stretch",
)
st.caption("Without a non-linearity, stacked conv layers collapse into one linear filter.")

st.subheader(f"2 · {pool_kind.title()} pooling: summarise each {pool_window}×{pool_window} window")
region, (block_row, block_col) = ops.pooling_example(
    stages.activated[..., 0], pool_window, pool_stride
)
block = stages.pooled[block_row : block_row + 3, block_col : block_col + 3, 0]
left, right = st.columns(2)
left.plotly_chart(
    figures.map_grid_figure(
        stages.pooled, bank.names, f"Pooled, {pool_h}×{pool_w} (its input: the maps above, right)"
    ),
    width="stretch",
)
right.html(figures.value_table_html(region, "Map 1 around its strongest response"))
right.html(
    figures.value_table_html(
        block, f"→ {pool_kind} of each {pool_window}×{pool_window} window, stride {pool_stride}"
    )
)


# The picture and the layer that the translation views shift and compare.
layer = (pixels, bank.kernels, geometry, activation, pool_kind, pool_window, pool_stride)


@st.fragment
def translation_demo() -> None:
    st.subheader("3 · Translation: shift the input, compare the representations")
    if not image.is_drawing and "digit" not in image.label:
        st.info(
            "Tip: this demo is clearest with a digit on a black background (a drawing or an "
            "MNIST sample): a photo's edges fill the border with new content when shifted."
        )
    columns = st.columns(2)
    rows = columns[0].slider("Shift down (px)", -8, 8, 1, key="shift_rows")
    cols = columns[1].slider("Shift right (px)", -8, 8, 1, key="shift_cols")
    comparison = invariance.compare_shift(*layer, (rows, cols))
    columns = st.columns([1, 1, 2])
    columns[0].plotly_chart(figures.image_figure(pixels, "Original", 260), width="stretch")
    columns[1].plotly_chart(
        figures.image_figure(images.shift_image(pixels, rows, cols), "Shifted", 260),
        width="stretch",
    )
    with columns[2]:
        st.markdown("**Relative change** ‖after − before‖ / ‖before‖")
        st.dataframe(
            {
                "representation": [
                    "flattened pixels (an MLP's input)",
                    "feature maps",
                    "feature maps, shifted back",
                    f"{pool_kind}-pooled maps",
                    "global max of each map",
                ],
                "change": [
                    comparison.pixels,
                    comparison.feature_maps,
                    comparison.feature_maps_realigned,
                    comparison.pooled_maps,
                    comparison.global_max,
                ],
            },
            hide_index=True,
            column_config={
                "change": st.column_config.ProgressColumn(min_value=0, max_value=1.5, format="%.3f")
            },
        )
    st.caption(
        "Convolution is **equivariant**: shifted back, the maps match except at the borders "
        f"(here {comparison.feature_maps_realigned:.3f}). Pooling keeps the strongest response "
        "in each window, and one global maximum per map forgets where the pattern was."
    )
    st.markdown(invariance.shift_verdict(comparison, pool_kind))


translation_demo()

shifts = list(range(0, 9))
sweep = invariance.compare_shifts(*layer, [(step, step) for step in shifts])
st.plotly_chart(
    figures.line_figure(
        shifts,
        {
            "pixels": [c.pixels for c in sweep],
            "feature maps": [c.feature_maps for c in sweep],
            f"{pool_kind}-pooled": [c.pooled_maps for c in sweep],
            "global max": [c.global_max for c in sweep],
        },
        "Change against diagonal shift",
        "shift (pixels down and right)",
        "relative change",
    ),
    width="stretch",
)
