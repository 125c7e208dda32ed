"""The ImageNet gallery: the ILSVRC winners' architectures side by side, and the story."""

import streamlit as st

from explorer import figures, gallery, model, ui

ui.enter_page()
ui.lab_title(__file__)
st.caption(
    "The real AlexNet, VGG-16, GoogLeNet and ResNet-18/50 at 224×224×3 with 1,000 classes, "
    "built from the same model description as the networks you train here. Nothing is "
    "trained or downloaded: every number is counted from the description, and the "
    "parameter counts equal torchvision's reference implementations exactly."
)

entries = gallery.ARCHITECTURES
totals = {entry.spec.name: gallery.totals(entry.spec) for entry in entries}

st.header("The five networks")
st.dataframe(
    gallery.summary_rows(entries),
    hide_index=True,
    width="stretch",
    column_config={
        name: st.column_config.TextColumn(name, help=text)
        for name, text in gallery.SUMMARY_HELP.items()
    },
)
left, right = st.columns([3, 2])
left.plotly_chart(
    figures.labelled_points_figure(
        [totals[entry.spec.name].macs / 1e9 for entry in entries],
        [totals[entry.spec.name].params / 1e6 for entry in entries],
        [entry.spec.name for entry in entries],
        title="Size against work",
        x_title="multiply-adds per image (billions)",
        y_title="parameters (millions)",
    ),
    width="stretch",
)
heaviest = max(entries, key=lambda entry: totals[entry.spec.name].params)
lightest = min(entries, key=lambda entry: totals[entry.spec.name].params)
ratio = totals[heaviest.spec.name].params / totals[lightest.spec.name].params
right.caption(
    f"{heaviest.spec.name} has {ratio:.0f}× the parameters of {lightest.spec.name}. "
    "Reference figures: torchvision's IMAGENET1K_V1 weights, `num_params` and `_ops` "
    "(pytorch.org/vision/stable/models.html)."
)

st.header("What each one changed")
columns = st.columns(len(entries))
for column, entry in zip(columns, entries, strict=True):
    with column.container(border=True):
        st.markdown(f"**{entry.spec.name}** ({entry.year})")
        st.write(entry.change)

st.header("ILSVRC classification winners, 2010–2017")
winners = gallery.ILSVRC_WINNERS
st.plotly_chart(
    figures.error_by_year_figure(
        [winner.year for winner in winners],
        [winner.top5_error for winner in winners],
        [winner.team for winner in winners],
        title="Top-5 error of the winning entry",
    ),
    width="stretch",
)
st.dataframe(
    [
        {"year": str(w.year), "team": w.team, "model": w.model, "top-5 error (%)": w.top5_error}
        for w in winners
    ],
    hide_index=True,
    width="stretch",
)
first, last = winners[0], winners[-1]
st.caption(
    f"From {first.top5_error:g}% in {first.year} to {last.top5_error:g}% in {last.year}: "
    f"{first.top5_error / last.top5_error:.0f}× fewer mistakes. Sources: "
    + "; ".join(sorted({w.source for w in winners}))
    + "."
)

st.header("Layer by layer, side by side")
names = [entry.spec.name for entry in entries]
picked = st.columns(2)
for column, default in zip(picked, ("AlexNet", "ResNet-50"), strict=True):
    with column:
        name = st.selectbox("Network", names, index=names.index(default), key=f"gallery_{default}")
        spec = next(entry.spec for entry in entries if entry.spec.name == name)
        total = totals[name]
        metrics = st.columns(3)
        metrics[0].metric("Parameters", f"{total.params / 1e6:,.2f} M")
        metrics[1].metric("Multiply-adds", f"{total.macs / 1e9:,.2f} G")
        metrics[2].metric("Depth", total.depth)
        ui.show_layer_table(
            model.layer_table(spec),
            (
                "layer",
                "kind",
                "output shape",
                "parameters",
                "multiply-adds",
                "receptive field",
                "detail",
            ),
            height=560,
        )
st.caption(
    "A residual or inception block is one row (all its convolutions and batch norms "
    "together). Receptive fields follow the longest path through a block."
)
