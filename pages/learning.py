"""Lab: how a network learns — targets and losses, one step of gradient descent, the
learning rate, initialisation and depth, epochs and batches."""

import streamlit as st

from explorer import ui, ui_learning

ui.enter_page()
ui.lab_title(__file__)
st.markdown(
    "Training is a loop: **forward** (predict), **loss** (how wrong), **backward** (the "
    "gradient dL/dW of every weight), **update** (W ← W − η·dL/dW). Here a small CNN "
    "(conv 8 → conv 16 → 10 logits) does it on real digits, one step at a time."
)
section = st.radio("Section", ui_learning.SECTIONS, horizontal=True, key="learn_section")
if section == ui_learning.SECTIONS[4]:
    ui_learning.epochs_and_batches()
    st.stop()
batch, kind = ui_learning.choose_batch_and_loss()
if batch is None:
    st.stop()
if section == ui_learning.SECTIONS[3]:
    ui_learning.initialisation_and_depth(batch, kind)
    st.stop()
params = ui_learning.current_params(batch, kind)
if section == ui_learning.SECTIONS[0]:
    ui_learning.targets_and_losses(batch, params, kind)
elif section == ui_learning.SECTIONS[1]:
    ui_learning.one_step(batch, params, kind)
else:
    ui_learning.learning_rate(batch, params, kind)
