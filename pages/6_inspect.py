"""Lab 6: look inside a trained network, on your own drawing."""

import streamlit as st

from explorer import ui, ui_inspect

ui.enter_page()
ui.lab_title(__file__)
model = ui_inspect.choose_model()
if model is None:
    st.stop()
image = st.session_state.get("working_image")
prepared = probabilities = None
st.header("Prediction")
if image is None:
    st.info(
        "Draw a digit, upload an image or pick a sample in the sidebar to see a prediction.",
        icon=":material/arrow_back:",
    )
else:
    prepared = ui_inspect.network_input(model, image.original)
    st.caption("Draw in the sidebar: the probabilities update when you lift the mouse.")
    probabilities = ui_inspect.show_prediction(model, image.original, prepared)
ui_inspect.show_chosen_view(model, prepared, probabilities)
