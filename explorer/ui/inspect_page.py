"""Streamlit widgets of the Inspect page: look inside a trained network.

All maths lives in :mod:`explorer.explain` and
:mod:`explorer.robustness`. Views that do not depend on the picture (test-set
probabilities, unit preferences, accuracies, robustness curves) are cached per
model (a fingerprint of its weights) and test data, so redrawing stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer import (
    checkpoints,
    explain,
    explained_class,
    figures,
    frequency,
    labs,
    novelty,
    ops,
    predict,
    robustness,
    runs,
    starter_models,
    ui,
)
from explorer.data import registry, splits
from explorer.data.augmentation import Augmentation
from explorer.errors import ExplorerError
from explorer.files import os_errors_as_messages
from explorer.model import ModelSpec, count_params
from explorer.model import steps as model_steps
from explorer.text import escape_markdown
from explorer.ui import STUDY_KEY, mistakes_view, show_view
from explorer.ui.train_page import current_run, workspace_id

CURRENT_RUN = "the model trained in this session"
TRAIN_TITLE = labs.title(labs.by_file("5_train.py"))


@dataclass(frozen=True)
class Inspected:
    """A model to inspect and where its test images come from.

    ``key`` fingerprints the weights and ``data_key`` names the test split it is
    tested on; together they key the caches of picture-independent views. A saved model
    has no live ``dataset`` but the checkpoint's ``dataset_record`` of how it was split.
    ``augmentation`` is how its training images were moved (None where not recorded).
    """

    label: str
    spec: ModelSpec
    variables: dict
    class_names: tuple[str, ...]
    preprocessing: str
    dataset_name: str
    dataset: splits.Dataset | None
    dataset_record: dict | None
    key: str
    data_key: str
    augmentation: Augmentation | None = None


@st.cache_resource(max_entries=10, show_spinner="Loading the checkpoint…")
def _load_checkpoint(path: str, modified: float) -> checkpoints.Checkpoint:
    return checkpoints.load_checkpoint(path)


@st.cache_resource(max_entries=2, show_spinner="Loading the model's dataset…")
def _reload_dataset(record: tuple[tuple[str, object], ...]) -> splits.Dataset:
    return registry.reload_dataset(dict(record))


@st.cache_resource(max_entries=2, show_spinner=False)
def _novelty_reference(data_key: str, _dataset: splits.Dataset) -> novelty.Reference:
    return novelty.build_reference(_dataset.train.images, _dataset.validation.images)


def _saved_checkpoints() -> list[tuple[str, checkpoints.CheckpointSummary]]:
    """(choice, summary) of this session's valid saved models, then the class models."""
    return runs.usable_models(workspace_id())


def model_options() -> list[str]:
    """The models there are: this session's best (once an epoch has finished), then its
    saved ones, then the class models (``class/<name>``)."""
    run = current_run()
    current = [CURRENT_RUN] if run and run.session.best_variables is not None else []
    return current + [choice for choice, _ in _saved_checkpoints()]


def load_model(choice: str) -> Inspected | None:
    """The model named ``choice`` (an entry of :func:`model_options`); None after an error."""
    if choice == CURRENT_RUN:
        run = current_run()
        session = run.session
        dataset, variables = session.dataset, session.best_variables
        return Inspected(
            CURRENT_RUN,
            session.spec,
            variables,
            dataset.class_names,
            dataset.preprocessing,
            dataset.name,
            dataset,
            None,
            checkpoints.fingerprint(variables),
            session.test_fingerprint,
            run.config.augmentation,
        )
    try:
        path = checkpoints.checkpoint_path(runs.model_folder(workspace_id(), choice))
        with os_errors_as_messages("open the model"):
            checkpoint = _load_checkpoint(str(path), path.stat().st_mtime)
    except ExplorerError as error:
        ui.show_error(error)
        return None
    record = checkpoint.metadata["dataset"]
    return Inspected(
        choice,
        checkpoint.spec,
        checkpoint.variables,
        checkpoint.class_names,
        checkpoint.preprocessing,
        record["name"],
        None,
        record,
        checkpoints.fingerprint(checkpoint.variables),
        record.get("test_fingerprint", "none"),
        checkpoints.training_augmentation(checkpoint.metadata),
    )


def choose_model() -> Inspected | None:
    """Pick the session's best model or a saved checkpoint; None (with advice) if there is none."""
    options = model_options()
    if not options:
        st.info(
            f"There is no trained network yet. Train one on **{TRAIN_TITLE}** (about a "
            "minute on the built-in MNIST digits), then come back."
        )
        return None
    chosen = st.session_state.get("inspect_model")
    if chosen is not None and chosen not in options:
        del st.session_state["inspect_model"]
        st.warning(
            f"There is no network called “{escape_markdown(chosen)}” here (a link carries a "
            "network's name, not the network), so the first one is shown.",
            icon=":material/link_off:",
        )
    return load_model(
        st.selectbox("Network", options, format_func=runs.choice_label, key="inspect_model")
    )


def model_dataset(model: Inspected, quiet: bool = False) -> splits.Dataset | None:
    """The model's dataset split exactly as when it was trained, when that can be done here;
    otherwise None and (unless ``quiet``) a caption that says why the test-set views are off."""
    if model.dataset is not None:
        return model.dataset
    split_record = ("name", "split_seed", "test_fingerprint", "data_folder")
    try:
        return _reload_dataset(
            tuple(
                (key, model.dataset_record[key])
                for key in split_record
                if key in model.dataset_record
            )
        )
    except ExplorerError as error:
        if not quiet:
            st.caption(f"Test-set views are off. {escape_markdown(error)}")
        return None


def test_split(model: Inspected) -> splits.Split | None:
    """The model's own test images, when they can be made again here exactly."""
    dataset = model_dataset(model)
    return None if dataset is None else dataset.test


def network_input(model: Inspected, original: np.ndarray) -> np.ndarray:
    """The picture as the network sees it, float32 (H, W, C) in [0, 1]: a test image of
    this network's own test set exactly as it was tested (preparing it again, as a drawing
    is, could move it and change the answer being explained), any other picture prepared."""
    for data_key, image, _ in st.session_state.get(mistakes_view.TEST_INPUTS, {}).values():
        if (
            data_key == model.data_key
            and image.shape == tuple(model.spec.input_shape)
            and np.array_equal(image, original)
        ):
            return image.astype(np.float32) / 255.0
    return predict.prepare_image(original, model.spec.input_shape, model.preprocessing)


def show_prediction(model: Inspected, original: np.ndarray, prepared: np.ndarray) -> np.ndarray:
    """Raw input, what the network sees, and the class probabilities; returns the probabilities."""
    probabilities = explain.probabilities(model.spec, model.variables, prepared[None])[0]
    best = int(np.argmax(probabilities))
    columns = st.columns([1, 1, 2])
    show_view(
        columns[0],
        figures.image_view(original.astype(np.float32) / 255.0, title="Your input", height=300),
    )
    show_view(columns[1], figures.image_view(prepared, title="What the network sees", height=300))
    columns[2].plotly_chart(
        figures.counts_figure(
            model.class_names,
            probabilities,
            title=f"Softmax probabilities: “{model.class_names[best]}” "
            f"({explained_class.percent(probabilities[best])})",
            percent=True,
        ),
        width="stretch",
    )
    empty = predict.empty_input_note(original, model.class_names[best], probabilities[best])
    if empty:
        columns[2].warning(
            escape_markdown(empty) + " Draw, upload or pick a real picture.",
            icon=":material/visibility_off:",
        )
        return probabilities
    dataset = model_dataset(model, quiet=True)
    reference = None if dataset is None else _novelty_reference(model.data_key, dataset)
    reasons = novelty.unlike_training_reasons(original, prepared, reference)
    if reasons:
        columns[2].warning(
            "This picture is unlike the images the network learned from: "
            + "; ".join(reasons)
            + f". A classifier must pick one of its classes, so the {probabilities[best]:.0%} "
            f"for “{escape_markdown(model.class_names[best])}” says nothing about what the "
            "picture is: confidence is not familiarity.",
            icon=":material/help:",
        )
    return probabilities


def show_stages(model: Inspected, prepared: np.ndarray) -> None:
    """The forward pass as a path of stages: slide along it to see one stage at a time (one
    chart to draw per pen stroke, not one per stage)."""
    stages = explain.forward_stages(model.spec, model.variables, prepared)
    labels = [f"{stage.title} — {'×'.join(map(str, stage.values.shape))}" for stage in stages]
    keys = [stage.key for stage in stages]
    if st.session_state.get("stage_key") not in keys:
        st.session_state["stage_key"] = "act1" if "act1" in keys else keys[0]
    chosen = st.select_slider(
        "Stage of the forward pass (slide from the input to the class scores)",
        keys,
        format_func=lambda key: labels[keys.index(key)],
        key="stage_key",
    )
    stage = stages[keys.index(chosen)]
    title = "Class scores (logits)" if stage.key == "logits" else labels[keys.index(chosen)]
    names = model.class_names if stage.key == "logits" else None
    ui.show_stage(st, stage.values, title, class_names=names)
    st.caption(
        f"{len(stages)} stages from the picture to the scores. Each map is scaled to its own "
        "largest value (red positive, blue negative); after flattening, one bar per unit."
    )


@st.fragment
def receptive_field(model: Inspected, prepared: np.ndarray) -> None:
    """Pick a unit; see its theoretical window and its effective (gradient) field."""
    stages = {
        stage.key: stage.values
        for stage in explain.forward_stages(model.spec, model.variables, prepared)
    }
    keys = explain.spatial_stage_keys(model.spec)
    columns = st.columns(4)
    stage = columns[0].selectbox("Stage", keys, index=min(2, len(keys) - 1), key="rf_stage")
    maps = stages[stage]
    filter_index = columns[1].number_input("Map", 1, maps.shape[-1], 1, key="rf_filter") - 1
    row = columns[2].slider("Row", 0, maps.shape[0] - 1, maps.shape[0] // 2, key="rf_row")
    col = columns[3].slider("Column", 0, maps.shape[1] - 1, maps.shape[1] // 2, key="rf_col")
    window = explain.receptive_window(model.spec, stage, row, col)
    field = explain.effective_receptive_field(
        model.spec, model.variables, prepared, stage, int(filter_index), row, col
    )
    left, right = st.columns(2)
    theory = figures.image_figure(
        prepared, title=f"Theoretical window: {window.size}×{window.size}", height=360
    )
    figures.outline_window(theory, int(window.top), int(window.left), window.size)
    left.plotly_chart(theory, width="stretch")
    effective = figures.overlay_figure(prepared, field, title="Effective field: |d unit / d input|")
    figures.outline_window(effective, int(window.top), int(window.left), window.size)
    right.plotly_chart(effective, width="stretch")
    st.caption(
        f"Unit value {maps[row, col, int(filter_index)]:.3f}. The effective field is usually "
        "smaller and centred; it is all zero when a ReLU unit is switched off (value 0)."
    )


def learned_filters(model: Inspected) -> None:
    """First-layer kernels as images and their frequency responses; deeper kernels per channel."""
    try:
        kernels = explain.first_layer_kernels(model.variables)
    except ExplorerError as error:
        st.info(str(error))
        return
    names = [str(i + 1) for i in range(kernels.shape[-1])]
    left, right = st.columns(2)
    if kernels.shape[2] == 3:
        kernel_figure = figures.image_gallery_figure(
            explain.kernels_as_rgb(kernels), names, title="First-layer kernels in colour (grey = 0)"
        )
    else:
        kernel_figure = figures.map_grid_figure(
            kernels.mean(axis=2), names, title="First-layer kernels", height=420
        )
    left.plotly_chart(kernel_figure, width="stretch")
    responses = frequency.kernel_frequency_response(kernels.mean(axis=2), (32, 32))
    right.plotly_chart(
        figures.map_grid_figure(
            responses, names, title="Their frequency responses", colorscale="viridis", height=420
        ),
        width="stretch",
    )
    deeper = [key for key in model.variables["params"] if key.startswith("conv") and key != "conv1"]
    if deeper:
        columns = st.columns(2)
        layer = columns[0].selectbox("Deeper layer", deeper, key="deep_layer")
        weights = np.asarray(model.variables["params"][layer]["kernel"])
        unit = columns[1].number_input("Filter", 1, weights.shape[-1], 1, key="deep_filter") - 1
        channel_names = [f"in {i + 1}" for i in range(weights.shape[2])]
        st.plotly_chart(
            figures.map_grid_figure(
                weights[..., int(unit)],
                channel_names,
                title=f"{layer} filter {int(unit) + 1}: one "
                f"{weights.shape[0]}×{weights.shape[1]} slice per input channel",
            ),
            width="stretch",
        )


WHY_CLASS = "why_class"
"""The key of the "Explain class" selector."""
WHY_INPUT = "why_input"
"""The digest of the input that selector last explained (see :mod:`explorer.explained_class`)."""


def _choose_class_to_explain(
    model: Inspected, prepared: np.ndarray, probabilities: np.ndarray
) -> None:
    """Set the "Explain class" selector, before it is drawn, to the predicted class or to
    the one the user picked for this same input and network."""
    digest = explained_class.input_digest(model.key, prepared)
    last_input, shown = st.session_state.get(WHY_INPUT), st.session_state.get(WHY_CLASS)
    previous = None if None in (last_input, shown) else explained_class.Explained(last_input, shown)
    index = explained_class.class_to_explain(
        digest, int(np.argmax(probabilities)), previous, len(model.class_names)
    )
    st.session_state[WHY_INPUT] = digest
    st.session_state[WHY_CLASS] = index


@st.fragment
def why(model: Inspected, prepared: np.ndarray, probabilities: np.ndarray) -> None:
    """Saliency, Grad-CAM and occlusion for a chosen class, overlaid on the input; a new
    input explains its predicted class again, and each choice shows its current probability."""
    _choose_class_to_explain(model, prepared, probabilities)
    columns = st.columns(3)
    class_index = columns[0].selectbox(
        "Explain class",
        range(len(model.class_names)),
        format_func=lambda i: explained_class.class_label(model.class_names[i], probabilities[i]),
        key=WHY_CLASS,
        help="The predicted class, until you pick another; a new picture starts again from "
        "its prediction.",
    )
    name = f"“{model.class_names[class_index]}”"
    blocks = list(explain.feature_blocks(model.spec))
    block = columns[1].selectbox(
        "Grad-CAM block",
        blocks or [None],
        index=max(len(blocks) - 1, 0),
        key="cam_block",
        disabled=len(blocks) < 2,
    )
    patch = columns[2].slider("Occlusion patch (px)", 2, 12, 6, key="occlusion_patch")
    left, middle, right = st.columns(3)
    left.plotly_chart(
        figures.overlay_figure(
            prepared,
            explain.saliency_map(model.spec, model.variables, prepared, class_index),
            title=f"Saliency for {name}",
        ),
        width="stretch",
    )
    if blocks:
        middle.plotly_chart(
            figures.overlay_figure(
                prepared,
                explain.grad_cam(model.spec, model.variables, prepared, class_index, block),
                title=f"Grad-CAM for {name}, block {block}",
            ),
            width="stretch",
        )
    else:
        middle.info("Grad-CAM needs a conv layer; this network is an MLP.")
    right.plotly_chart(
        figures.overlay_figure(
            prepared,
            explain.occlusion_map(model.spec, model.variables, prepared, class_index, patch, 2),
            title=f"Occlusion for {name}",
            signed=True,
        ),
        width="stretch",
    )
    st.caption(
        explained_class.maps_caption(
            escape_markdown(model.class_names[class_index]),
            probabilities[class_index],
            block,
            patch,
        )
    )


# Cached views take the model's ``key`` and ``data_key`` (small strings) as the cache
# key; the arguments named with a leading underscore are not hashed by Streamlit.


@st.cache_data(max_entries=4, show_spinner="Classifying the test set…")
def _test_probabilities(
    key: str, data_key: str, _spec: ModelSpec, _variables: dict, _images: np.ndarray
) -> np.ndarray:
    return explain.probabilities(_spec, _variables, _images.astype(np.float32) / 255.0)


@st.cache_data(max_entries=64, show_spinner="Optimising the input…")
def _dream(
    key: str, target: str, unit: int, steps: int, _spec: ModelSpec, _variables: dict
) -> np.ndarray:
    return explain.maximise_activation(_spec, _variables, target, unit, steps)


@st.cache_data(max_entries=8, show_spinner="Finding the most exciting test images…")
def _top_images(
    key: str, data_key: str, target: str, _spec: ModelSpec, _variables: dict, _images: np.ndarray
) -> np.ndarray:
    subset = _images.astype(np.float32) / 255.0
    return explain.top_activating(_spec, _variables, subset, target, count=9)


@st.cache_data(max_entries=32, show_spinner="Testing the edited network…")
def _subset_accuracy(
    key: str,
    data_key: str,
    edit: tuple[int, str] | None,
    _spec: ModelSpec,
    _variables: dict,
    _images: np.ndarray,
    _labels: np.ndarray,
) -> float:
    """Accuracy of the variables (the model's own, or with ``edit`` = (filter, kernel name)
    applied: the cache tells edits apart by it)."""
    predictions = explain.probabilities(_spec, _variables, _images.astype(np.float32) / 255.0)
    return float((predictions.argmax(axis=1) == _labels).mean())


@st.fragment
def unit_preferences(model: Inspected, split: splits.Split | None) -> None:
    """Activation maximisation and the test images that excite a unit most."""
    shapes = {step.key: step.shape for step in model_steps(model.spec) if step.feature}
    keys = [*shapes, "logits"]
    columns = st.columns(3)
    target = columns[0].selectbox("Layer", keys, key="wants_layer")
    size = len(model.class_names) if target == "logits" else shapes[target][-1]
    labels = [model.class_names[u] if target == "logits" else f"map {u + 1}" for u in range(size)]
    units = columns[1].multiselect(
        "Units (maps or classes)",
        list(range(size)),
        default=list(range(min(4, size))),
        format_func=labels.__getitem__,
        key=f"wants_units_{target}",
    )
    steps = columns[2].slider("Ascent steps", 20, 400, 150, 10, key="wants_steps")
    if not units:
        return
    dreams = np.stack(
        [_dream(model.key, target, unit, steps, model.spec, model.variables) for unit in units]
    )
    st.plotly_chart(
        figures.image_gallery_figure(
            dreams, [labels[u] for u in units], title="Inputs that maximise each unit", columns=8
        ),
        width="stretch",
    )
    if split is None or target == "logits":
        return
    top = _top_images(
        model.key, model.data_key, target, model.spec, model.variables, split.images[:2000]
    )
    for unit in units:
        st.plotly_chart(
            figures.image_gallery_figure(
                split.images[top[unit]],
                [""] * 9,
                title=f"Test images that excite map {unit + 1} most",
                columns=9,
            ),
            width="stretch",
        )


def edit_network(model: Inspected, prepared: np.ndarray, split: splits.Split | None) -> None:
    """Replace or zero one first-layer filter and see the maps, prediction and accuracy change."""
    try:
        kernels = explain.first_layer_kernels(model.variables)
    except ExplorerError as error:
        st.info(str(error))
        return
    size, filters = kernels.shape[0], kernels.shape[-1]
    presets = ["zero (switch off)", *ops.presets_for_kernel_size(size)]
    columns = st.columns(2)
    unit = columns[0].number_input("First-layer filter", 1, filters, 1, key="edit_filter") - 1
    replacement = columns[1].selectbox("Replace with", presets, key="edit_with")
    kernel = (
        np.zeros((size, size))
        if replacement.startswith("zero")
        else ops.kernel_preset(replacement, size)
    )
    edited = explain.replace_first_layer_filter(model.variables, int(unit), kernel)
    before = explain.forward_stages(model.spec, model.variables, prepared)[0].values
    after = explain.forward_stages(model.spec, edited, prepared)[0].values
    old = explain.probabilities(model.spec, model.variables, prepared[None])[0]
    new = explain.probabilities(model.spec, edited, prepared[None])[0]
    left, right = st.columns(2)
    left.plotly_chart(
        figures.image_figure(
            before[..., int(unit)],
            title=f"Map {int(unit) + 1} before",
            height=300,
            value_range=None,
            colorscale=figures.DIVERGING,
        ),
        width="stretch",
    )
    right.plotly_chart(
        figures.image_figure(
            after[..., int(unit)],
            title=f"Map {int(unit) + 1} after",
            height=300,
            value_range=None,
            colorscale=figures.DIVERGING,
        ),
        width="stretch",
    )
    names = model.class_names
    columns = st.columns(2)
    columns[0].metric("Prediction before", f"{names[int(old.argmax())]} ({old.max():.1%})")
    columns[1].metric("Prediction after", f"{names[int(new.argmax())]} ({new.max():.1%})")
    if split is not None:
        images, labels = split.images[:2000], split.labels[:2000]
        keys = (model.key, model.data_key)
        accuracy_before = _subset_accuracy(*keys, None, model.spec, model.variables, images, labels)
        accuracy_after = _subset_accuracy(
            *keys, (int(unit), replacement), model.spec, edited, images, labels
        )
        columns = st.columns(2)
        columns[0].metric(f"Test accuracy before ({len(labels)} images)", f"{accuracy_before:.2%}")
        columns[1].metric(
            "Test accuracy after",
            f"{accuracy_after:.2%}",
            f"{(accuracy_after - accuracy_before) * 100:+.2f} points",
        )


@st.cache_data(max_entries=32, show_spinner="Testing on moved images…")
def _robustness_curve(
    key: str,
    data_key: str,
    transform: str,
    _spec: ModelSpec,
    _variables: dict,
    _images: np.ndarray,
    _labels: np.ndarray,
) -> list[float]:
    return robustness.accuracy_under(_spec, _variables, _images, _labels, transform)[1]


def _is_mlp(spec: dict | None) -> bool:
    return bool(spec) and not spec.get("conv_blocks")


def _contrast_default(model: Inspected, options: list[str]) -> list[str]:
    """The newest saved model of the same dataset and the other kind (MLP vs CNN), if any."""
    want_mlp = not model.spec.conv_blocks
    for choice, summary in _saved_checkpoints():
        metadata = summary.metadata or {}
        if (
            choice in options
            and choice != model.label
            and metadata.get("dataset", {}).get("name") == model.dataset_name
            and _is_mlp(metadata.get("spec")) != want_mlp
        ):
            return [choice]
    return []


def _legends(models: list[Inspected]) -> list[str]:
    """E.g. "tiny (CNN that flattens), 206,922 parameters, trained without augmentation";
    the model's name is added when specs share a name."""
    names = [m.spec.name for m in models]
    legends = []
    for m in models:
        kind = robustness.model_kind(m.spec)
        legend = f"{m.spec.name} ({kind}), {count_params(m.variables['params']):,} parameters"
        training = robustness.training_words(m.augmentation)
        legend += (f", {training}" if training else "") + (
            f" ({m.label})" if names.count(m.spec.name) > 1 else ""
        )
        legends.append(legend)
    return legends


STUDY = "The shift study: six ready-made digit models"
CHOSEN = "Models you choose"


def _study_models() -> list[list[Inspected]] | None:
    """The shift study's starter models, one row per kind of network (see
    :data:`explorer.starter_models.SHIFT_STUDY`); None when one of them is missing."""
    options = model_options()
    rows = [[runs.STARTER_PREFIX + name for name in row] for row in starter_models.SHIFT_STUDY]
    if any(choice not in options for row in rows for choice in row):
        return None
    loaded = [[load_model(choice) for choice in row] for row in rows]
    return None if any(m is None for row in loaded for m in row) else loaded


def _study_choice(container, study: list[list[Inspected]]) -> list[Inspected]:
    """A checkbox per model, one row per kind of network; the lesson's two are ticked first."""
    chosen = []
    for row in study:
        columns = container.columns(3)
        columns[0].markdown(f"**{robustness.model_kind(row[0].spec)}**")
        for column, m in zip(columns[1:], row, strict=True):
            name = m.label[len(runs.STARTER_PREFIX) :]
            st.session_state.setdefault(STUDY_KEY + name, name in starter_models.SHIFT_LESSON)
            if column.checkbox(robustness.training_words(m.augmentation), key=STUDY_KEY + name):
                chosen.append(m)
    return chosen


def _study_caption(models: list[Inspected], images: int) -> str:
    """How the study's models were made, from the registry they were trained from."""
    starters = {s.name: s for s in starter_models.STARTERS}
    epochs = sorted({starters[m.label[len(runs.STARTER_PREFIX) :]].epochs for m in models})
    return (
        f"Accuracy on the same {images:,} test images of the models' own test split, moved "
        f"more and more; each legend gives the mean over the settings shown. The models were "
        f"trained alike ({' or '.join(map(str, epochs))} epochs, seed {starter_models.SEED}) "
        "but for what the legends name: the MLP, or the same small ResNet with its last maps "
        "flattened into the classifier or averaged (global average pooling), on unmoved "
        f"digits or with shift augmentation (training digits moved up to "
        f"±{starter_models.SHIFT:g} px)."
    )


def _chosen_models(container, model: Inspected) -> list[Inspected]:
    """Up to six models of the user's choice; first the inspected one and a contrast."""
    options = model_options()
    chosen_key = "robust_models"
    default = None
    if chosen_key not in st.session_state:
        default = [model.label, *_contrast_default(model, options)]
    elif any(choice not in options for choice in st.session_state[chosen_key]):
        st.session_state[chosen_key] = [c for c in st.session_state[chosen_key] if c in options]
    chosen = container.multiselect(
        "Models to compare (up to six)",
        options,
        default,
        max_selections=6,
        format_func=runs.choice_label,
        key=chosen_key,
    )
    return [loaded for loaded in map(load_model, chosen) if loaded is not None]


@st.fragment
def robustness_comparison(model: Inspected) -> None:
    """Test accuracy of several models as the test images are shifted, rotated or zoomed:
    by default the shift study (an MLP, a CNN that flattens and a CNN with global average
    pooling, each trained with and without shift augmentation), or models of one's choice."""
    study = _study_models()
    modes = [STUDY, CHOSEN] if study else [CHOSEN]
    top = st.columns([3, 2])
    mode = top[0].radio("Compare", modes, horizontal=True, key="robust_mode")
    transform = top[1].radio(
        "Move the test images by",
        list(robustness.TRANSFORMS),
        horizontal=True,
        key="robust_transform",
    )
    if mode == STUDY:
        st.markdown(
            "A CNN that flattens its last maps ties each classifier weight to a position; "
            "global average pooling keeps one mean per map, wherever the feature is; shift "
            "augmentation shows the network moved digits while it learns. Tick the curves "
            "to show:"
        )
        models = _study_choice(st, study)
    else:
        models = _chosen_models(st, model)
    if not models:
        st.info("Choose a model to test.")
        return
    problem = robustness.comparison_problem(
        [m.spec.input_shape for m in models],
        [m.dataset_name for m in models],
        [m.data_key for m in models],
    )
    if problem:
        st.warning(problem, icon=":material/swap_horiz:")
        return
    split = test_split(models[0])
    if split is None:
        return
    images, labels = robustness.fixed_subset(split.images, split.labels)
    accuracies = [
        _robustness_curve(m.key, models[0].data_key, transform, m.spec, m.variables, images, labels)
        for m in models
    ]
    moves = robustness.TRANSFORMS[transform]
    chance = 1 / len(models[0].class_names)
    if mode == STUDY:
        names = [
            f"{robustness.model_kind(m.spec)}, {robustness.training_words(m.augmentation)}"
            for m in models
        ]
        legends = [
            f"{name} (mean {np.mean(values):.0%})"
            for name, values in zip(names, accuracies, strict=True)
        ]
    else:
        names = legends = _legends(models)
    st.plotly_chart(
        figures.accuracy_curves_figure(
            moves.amounts,
            dict(zip(legends, accuracies, strict=True)),
            moves.axis_title,
            chance=chance,
        ),
        width="stretch",
    )
    summary = robustness.degradation_summary(
        moves.amounts, dict(zip(names, accuracies, strict=True)), chance, moves.unit
    )
    if mode == STUDY:
        study_curves = [
            robustness.StudyCurve(
                robustness.model_kind(m.spec),
                m.augmentation.enabled,
                (m.spec.conv_blocks, m.spec.dense_layers),
                values,
            )
            for m, values in zip(models, accuracies, strict=True)
        ]
        st.caption(
            _study_caption(models, len(labels))
            + " "
            + escape_markdown(summary)
            + " "
            + escape_markdown(robustness.study_summary(study_curves))
        )
        return
    st.caption(
        f"Accuracy on the same {len(labels):,} test images of the models' own test split, "
        "moved more and more. " + escape_markdown(summary)
    )
    has_conv = {bool(m.spec.conv_blocks) for m in models}
    if False not in has_conv:
        st.info(
            f"To compare with the MLP baseline, train it on **{TRAIN_TITLE}**: choose the same "
            "dataset, **Start from → MLP baseline** (preset “mlp”) and press Start. It is "
            "saved automatically and appears in the list above."
        )
    elif True not in has_conv:
        st.info("Add a CNN of the same dataset above to see what convolutions buy.")


@dataclass(frozen=True)
class InspectView:
    """One view of the Inspect page, computed only while it is the chosen one.

    ``show`` takes the model, the picture as the network sees it (float32 (H, W, C) in
    [0, 1], or None when there is no picture) and its class probabilities (or None).
    """

    label: str
    needs_picture: bool
    show: Callable[[Inspected, np.ndarray | None, np.ndarray | None], None]


def _test_set_view(model: Inspected) -> None:
    split = test_split(model)
    if split is not None:
        probabilities = _test_probabilities(
            model.key, model.data_key, model.spec, model.variables, split.images
        )
        mistakes_view.test_views(model, split, probabilities)


INSPECT_VIEWS = (
    InspectView("Every layer", True, lambda m, x, p: show_stages(m, x)),
    InspectView("Receptive field", True, lambda m, x, p: receptive_field(m, x)),
    InspectView("Learned filters", False, lambda m, x, p: learned_filters(m)),
    InspectView(mistakes_view.WHY_VIEW, True, lambda m, x, p: why(m, x, p)),
    InspectView("Test-set mistakes", False, lambda m, x, p: _test_set_view(m)),
    InspectView("Robustness: CNN vs MLP", False, lambda m, x, p: robustness_comparison(m)),
    InspectView("What a unit wants", False, lambda m, x, p: unit_preferences(m, test_split(m))),
    InspectView("Edit the network", True, lambda m, x, p: edit_network(m, x, test_split(m))),
)
"""The views in teaching order: picture views first, then the model and its test set."""


def _input_caption(model: Inspected, image: ui.WorkingImage) -> str:
    """What the input is: a test image sent from the mistakes view (with its true class),
    or a picture to change in the sidebar."""
    tested = st.session_state.get(mistakes_view.TEST_INPUTS, {}).get(image.label)
    if tested is not None and tested[0] == model.data_key:
        return (
            f"This is {escape_markdown(image.label)}, exactly as the network was tested on "
            f"it; its true class is “{escape_markdown(tested[2])}”."
        )
    return "Draw in the sidebar: the probabilities update when you lift the mouse."


def show_chosen_view(model: Inspected, image: ui.WorkingImage | None) -> None:
    """A picker of :data:`INSPECT_VIEWS` and the chosen view (the others compute nothing);
    a view of the picture shows first what the network predicts for it, a view of the model
    or its test set opens straight on its figures."""
    labels = [view.label for view in INSPECT_VIEWS]
    chosen = st.session_state.setdefault("inspect_view", labels[0])
    if chosen is not None and chosen not in labels:
        st.session_state["inspect_view"] = labels[0]
        st.warning(
            f"There is no view called “{escape_markdown(chosen)}”, so {labels[0]} is shown.",
            icon=":material/link_off:",
        )
    label = st.segmented_control(
        "Look inside",
        labels,
        key="inspect_view",
        help="Each view is computed when you open it, so drawing stays fast.",
    )
    view = next((view for view in INSPECT_VIEWS if view.label == label), None)
    if view is None:
        st.caption("Choose a view above.")
        return
    st.header(view.label)
    if not view.needs_picture:
        view.show(model, None, None)
        return
    if image is None:
        st.info(
            "Draw a digit, upload an image or pick a sample in the sidebar to see a prediction.",
            icon=":material/arrow_back:",
        )
        return
    prepared = network_input(model, image.original)
    st.caption(_input_caption(model, image))
    probabilities = show_prediction(model, image.original, prepared)
    view.show(model, prepared, probabilities)
