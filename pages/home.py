"""Start page: what CNN Explorer is and where each idea lives."""

import streamlit as st

from explorer import labs, ui

ui.enter_page()
st.title(":material/psychology: CNN Explorer")
st.markdown(
    "Learn how **convolutional neural networks see images** by touching every piece. "
    "Pick an image in the sidebar (draw a digit, upload a picture, or choose a real photo or "
    "MNIST digit), then open a lab. Every control redraws the page at once."
)

st.subheader("Lessons")
st.caption(
    "Each lesson opens a lab with the settings that show one idea, and a few sentences of "
    "guidance beside the figure. Right-click a lesson to copy its link for your class."
)
columns = st.columns(2)
for index, lesson in enumerate(labs.LESSONS):
    with columns[index % 2]:
        ui.lesson_link(lesson)

st.subheader("Labs")
columns = st.columns(2)
for index, lab in enumerate(labs.LABS):
    with columns[index % 2].container(border=True):
        st.page_link(ui.page(lab), label=f"**{labs.title(lab)}**")
        st.write(lab.blurb)

st.subheader("Teaching tips")
st.markdown(
    "- Set **Working size** small (28–64 px) to see individual pixels; large for photos.\n"
    "- Switch **Colour** to RGB to show that a kernel on a colour image is k×k×3.\n"
    "- Settings are shared: filters chosen on *Convolution* are used on *Pooling* and "
    "*Frequency* too."
)
