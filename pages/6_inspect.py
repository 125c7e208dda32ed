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
inspect_page.show_chosen_view(model, st.session_state.get("working_image"))
