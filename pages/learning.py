"""Lab: how a network learns — targets and losses, one step of gradient descent, the
learning rate, initialisation and depth, epochs and batches."""

import streamlit as st

from explorer import ui
from explorer.ui import learning_page

ui.enter_page()
ui.lab_title(__file__)
st.markdown(
    "Training is a loop: **forward** (predict), **loss** (how wrong), **backward** (the "
    "gradient dL/dW of every weight), **update** (W ← W − η·dL/dW). Here a small CNN "
    "(conv 8 → conv 16 → 10 logits) does it on real digits, one step at a time."
)
section = st.radio("Section", learning_page.SECTIONS, horizontal=True, key="learn_section")
if section == learning_page.SECTIONS[4]:
    learning_page.epochs_and_batches()
    st.stop()
batch, kind = learning_page.choose_batch_and_loss()
if batch is None:
    st.stop()
if section == learning_page.SECTIONS[3]:
    learning_page.initialisation_and_depth(batch, kind)
    st.stop()
params = learning_page.current_params(batch, kind)
if section == learning_page.SECTIONS[0]:
    learning_page.targets_and_losses(batch, params, kind)
elif section == learning_page.SECTIONS[1]:
    learning_page.one_step(batch, params, kind)
else:
    learning_page.learning_rate(batch, params, kind)
