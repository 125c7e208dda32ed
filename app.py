"""CNN Explorer: entry point with page navigation and the shared sidebar."""

import streamlit as st

from explorer import ui
from explorer.ui import sign_in, train_page

st.set_page_config(page_title="CNN Explorer", page_icon=":material/psychology:", layout="wide")
ui.keep_widget_state()
ui.follow_link()
ui.mark_app_frame()
train_page.keep_workspace_in_browser()

navigation = ui.navigation()
ui.open_wanted_page()
ui.warm_up()
st.session_state["working_image"] = ui.sidebar_image()
ui.sidebar_view_controls()
ui.sidebar_device_info()
sign_in.sidebar_user(train_page.close_workspace)
ui.keep_settings_in_url()
ui.show_link_problems()
ui.presenter_style()
ui.picture_style()
navigation.run()
