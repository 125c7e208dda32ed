"""Lab 6: look inside a trained network, on your own drawing."""

import streamlit as st

from explorer import ui
from explorer.ui import inspect_page, train_page

ui.enter_page()
ui.lab_title(__file__)
train_page.require_workspace()
model = inspect_page.choose_model()
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
    prepared = inspect_page.network_input(model, image.original)
    st.caption("Draw in the sidebar: the probabilities update when you lift the mouse.")
    probabilities = inspect_page.show_prediction(model, image.original, prepared)
inspect_page.show_chosen_view(model, prepared, probabilities)
