"""Lab 5: design a CNN, train it on real data while watching it learn, keep the best model."""

import streamlit as st

from explorer import train, ui
from explorer.data import registry
from explorer.errors import ExplorerError
from explorer.ui import train_page

ui.enter_page()
ui.lab_title(__file__)
train_page.require_workspace()
st.caption(f"Training runs on {train.device_description()} with a jitted JAX core.")
train_page.reattach_run()
monitor_on_top = train_page.run_is_active()
if monitor_on_top:
    st.header("Training now")
    train_page.training_monitor()

with ui.section("1 · Data", st.header):
    columns = st.columns([2, 2, 1])
    dataset_name = columns[0].selectbox(
        "Dataset",
        [*registry.DATASETS, train_page.OWN_ZIP],
        format_func=lambda name: (
            registry.DATASETS[name].title if name in registry.DATASETS else name
        ),
        key="train_dataset",
    )
    data_folder = train_page.data_root_picker(columns[1])
    split_seed = int(columns[2].number_input("Split seed", 0, 9999, 0, key="split_seed"))
    try:
        dataset = train_page.dataset_picker(dataset_name, data_folder, split_seed)
    except ExplorerError as error:
        ui.show_error(error)
        train_page.offer_download(dataset_name, data_folder)
        st.stop()
    if dataset is None:
        st.stop()
    train_page.dataset_overview(dataset)
    dataset = train_page.training_size_control(dataset, split_seed)

with ui.section("2 · Architecture", st.header):
    spec = train_page.architecture_editor(dataset)
    if spec is None:
        st.stop()

with ui.section("3 · Training settings", st.header):
    config = train_page.training_settings(dataset)
    if config is None:
        st.stop()

st.header("4 · Train")
train_page.training_controls(dataset, spec, config)
if monitor_on_top:
    st.caption("Progress and curves are at the top of the page while the run trains.")
else:
    train_page.training_monitor()

st.header("5 · Results")
train_page.training_results()

st.header("6 · Saved models")
train_page.checkpoint_manager()
