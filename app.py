"""CNN Explorer: entry point with page navigation and the shared sidebar."""

import streamlit as st

from explorer import ui

st.set_page_config(page_title="CNN Explorer", page_icon="🧠", layout="wide")
ui.keep_widget_state()
ui.mark_app_frame()

navigation = st.navigation(
    {
        "CNN Explorer": [st.Page("pages/home.py", title="Start here", icon="🏠", default=True)],
        "Labs": [
            st.Page("pages/1_image_as_numbers.py", title="1 · Image as numbers", icon="🔢"),
            st.Page("pages/2_convolution.py", title="2 · Convolution", icon="🪟"),
            st.Page("pages/3_activation_pooling.py", title="3 · Activation & pooling", icon="📉"),
            st.Page("pages/4_frequency.py", title="4 · Frequency", icon="🌊"),
        ],
    }
)
ui.warm_up()
st.session_state["working_image"] = ui.sidebar_image()
ui.sidebar_device_info()
navigation.run()
