"""Lab 6: look inside a trained network, on your own drawing."""

import streamlit as st

from explorer import ui, ui_inspect

ui.enter_page()
st.title("🔬 Inspect a trained network")
model = ui_inspect.choose_model()
if model is None:
    st.stop()
image = ui.require_image()
prepared = ui_inspect.network_input(model, image.original)

st.header("1 · Prediction")
st.caption("Draw in the sidebar: the probabilities update when you lift the mouse.")
probabilities = ui_inspect.show_prediction(model, image.original, prepared)

st.header("2 · Every layer's activations")
ui_inspect.show_stages(model, prepared)

st.header("3 · Receptive field of one unit")
ui_inspect.receptive_field(model, prepared)

st.header("4 · Learned filters")
ui_inspect.learned_filters(model)

st.header("5 · Why this prediction?")
ui_inspect.why(model, prepared, probabilities)

split = ui_inspect.test_split(model)
if split is not None:
    st.header("6 · Test set: where it goes wrong")
    ui_inspect.test_views(model, split)

st.header("7 · How robust is it? CNN vs MLP")
ui_inspect.robustness_comparison(model)

st.header("8 · What does a unit want?")
ui_inspect.unit_preferences(model, split)

st.header("9 · Edit the network")
ui_inspect.edit_network(model, prepared, split)
