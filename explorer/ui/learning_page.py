"""Streamlit widgets of the lab "How a network learns": targets and losses, one step of
gradient descent, the learning rate, initialisation and depth, epochs and batches.

All maths lives in :mod:`explorer.learning`, :mod:`explorer.losses` and
:mod:`explorer.train`. The lab trains its own small network
(:data:`explorer.learning.LAB_SPEC`) from a fixed seed: its current weights live in this
browser session's ``st.session_state``, so steps taken here never touch anyone else's.
Only the open section is computed; the heavy ones (the loss landscape, the deep stacks)
are cached per process for the same inputs.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import jax
import numpy as np
import streamlit as st

from explorer import (
    checkpoints,
    explain,
    figures,
    learning,
    losses,
    predict,
    svg_charts,
    train,
    ui,
)
from explorer.architecture import word
from explorer.learning import LAB_SPEC
from explorer.model import init_variables

SECTIONS = (
    "1 · Targets & losses",
    "2 · One step",
    "3 · Learning rate",
    "4 · Initialisation & depth",
    "5 · Epochs & batches",
)
BUILT_IN = "20 real digits (2 of each class)"
OWN_IMAGE = "The sidebar image, with a label you choose"
STEP_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
SLICE_TOP = 2.5
"""The 1-D slice's loss axis ends at this multiple of the current loss."""
SLICE_COLOUR = "#444444"
RATE_ROLES = ("small", "good", "too large")
CLASS_NAMES = tuple(str(digit) for digit in range(10))
TARGET_COLOUR = "#bbbbbb"
PARAMS_KEY, STEPS_KEY, HISTORY_KEY, CONTEXT_KEY = (
    "learn_params",
    "learn_steps",
    "learn_history",
    "learn_context",
)


@dataclass(frozen=True)
class Batch:
    """The images the lab learns from: float32 (N, 28, 28, 1) in [0, 1], int labels (N,),
    and ``key``, which names them for caches."""

    images: np.ndarray
    labels: np.ndarray
    key: str
    description: str


@st.cache_data(show_spinner="Loading the digits…")
def _lesson_batch() -> tuple[np.ndarray, np.ndarray]:
    return learning.lesson_batch()


@st.cache_resource(show_spinner="Building the network…")
def _initial_params() -> dict:
    return jax.device_get(init_variables(LAB_SPEC, seed=0)["params"])


def choose_batch_and_loss() -> tuple[Batch | None, str]:
    """The built-in digits or the sidebar's picture with a chosen label (None, with advice,
    when there is no picture), and the loss, on one row."""
    columns = st.columns([3, 1, 2])
    kind = columns[2].radio(
        "Loss", losses.LOSSES, format_func=losses.LOSS_TITLES.get, key="learn_loss"
    )
    source = columns[0].radio("Learn from", (BUILT_IN, OWN_IMAGE), key="learn_source")
    if source == BUILT_IN:
        images, labels = _lesson_batch()
        return Batch(images, labels, "built-in", "20 digits"), kind
    label = int(columns[1].selectbox("Its true label", CLASS_NAMES, key="learn_label"))
    return _sidebar_batch(label), kind


def _sidebar_batch(label: int) -> Batch | None:
    image = st.session_state.get("working_image")
    if image is None:
        st.info(
            "Draw a digit, upload an image or pick a sample in the sidebar, or learn from the "
            "built-in digits.",
            icon=":material/arrow_back:",
        )
        return None
    prepared = predict.prepare_image(image.original, LAB_SPEC.input_shape, "digit")
    digest = hashlib.blake2b(prepared.tobytes(), digest_size=12).hexdigest()
    return Batch(prepared[None], np.array([label], np.int32), f"{digest}-{label}", "1 image")


def current_params(batch: Batch, kind: str) -> dict:
    """This session's weights (the random start until a step is taken). The loss history
    starts again when the batch or the loss changes."""
    if PARAMS_KEY not in st.session_state:
        reset_weights()
    if st.session_state.get(CONTEXT_KEY) != (batch.key, kind):
        st.session_state[CONTEXT_KEY] = (batch.key, kind)
        st.session_state[HISTORY_KEY] = []
    return st.session_state[PARAMS_KEY]


def reset_weights() -> None:
    """Back to the random start (seed 0), with no steps taken."""
    st.session_state[PARAMS_KEY] = _initial_params()
    st.session_state[STEPS_KEY] = 0
    st.session_state[HISTORY_KEY] = []


def _take_step(step: learning.Step) -> None:
    st.session_state[HISTORY_KEY] = [*st.session_state[HISTORY_KEY], step.loss_before]
    st.session_state[PARAMS_KEY] = step.new_params
    st.session_state[STEPS_KEY] += 1


def _image_index(batch: Batch) -> int:
    if len(batch.labels) == 1:
        return 0
    return st.slider("Image of the batch to look at", 0, len(batch.labels) - 1, key="learn_image")


def _format(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


# --- 1 · Targets and losses ----------------------------------------------------------------


def targets_and_losses(batch: Batch, params: dict, kind: str) -> None:
    """One image: its one-hot label beside the softmax, both losses from those numbers,
    and both losses' gradients with respect to the logits."""
    index = _image_index(batch)
    step = learning.gradient_step(LAB_SPEC, params, batch.images, batch.labels, kind, 0.0)
    label = int(batch.labels[index])
    target, probabilities = step.targets[index], step.probabilities[index]
    logits = step.logits[index][None]
    gradients = {
        name: np.asarray(losses.logit_gradient(name, logits, target[None]))[0]
        for name in losses.LOSSES
    }
    left, right = st.columns([1, 3])
    title = f"Image {index}: a {label}" if len(batch.labels) > 1 else f"Labelled {label}"
    ui.show_view(
        left, figures.image_view(batch.images[index], title=title, height=260, hover=False)
    )
    ui.show_svg(
        right,
        svg_charts.bar_chart_svg(
            CLASS_NAMES,
            {"target y": target, "prediction p": probabilities},
            title="The label as a one-hot target, and the softmax",
            x_title="class",
            width=760,
            height=300,
            colours=(TARGET_COLOUR, figures.LINE_COLOURS[0]),
            percent=True,
        ),
    )
    table = np.stack([target, probabilities, gradients["cross-entropy"], gradients["mse"]])
    right.html(
        figures.value_table_html(
            table,
            title="Target, prediction and each loss's gradient dL/dz for the 10 logits",
            decimals=3,
            row_names=["y (one-hot)", "p (softmax)", "cross-entropy: p − y", "MSE: dL/dz"],
            column_names=CLASS_NAMES,
        )
    )
    true_p = float(probabilities[label])
    ce = -math.log(true_p)
    squares = np.square(target - probabilities)
    mse = 0.5 * float(squares.sum())
    right.markdown(
        f"**Cross-entropy** = −log p({label}) = −log {true_p:.3f} = **{ce:.3f}**  \n"
        f"**Mean squared error** = ½ Σ (y − p)² = ½ × {float(squares.sum()):.3f} = **{mse:.3f}**"
    )
    push = {name: -float(gradients[name][label]) for name in losses.LOSSES}
    st.caption(
        _gradient_comparison(label, true_p, push)
        + f" The training step below uses {losses.LOSS_TITLES[kind]}; over the whole batch "
        f"its loss is the mean over the {len(batch.labels)} image(s): {step.loss_before:.3f}."
    )


def _gradient_comparison(label: int, true_p: float, push: dict[str, float]) -> str:
    """Compare how hard each loss pushes the true class's logit up (−dL/dz of that logit)."""
    ce, mse = push["cross-entropy"], push["mse"]
    ratio = ce / mse if mse > 0 else math.inf
    comparison = (
        f"{ratio:,.1f}× harder than mean squared error ({mse:.3f})"
        if ratio > 1
        else f"less hard than mean squared error ({mse:.3f})"
    )
    return (
        f"The network gives the true class {label} a probability of {true_p:.1%}. Gradient "
        f"descent raises its logit by η × {ce:.3f} with cross-entropy (p − y is {-ce:.3f} "
        f"there), {comparison}: the softmax's slope multiplies every MSE gradient, so MSE "
        "learns slowly from answers that are far off."
    )


# --- 2 · One step ----------------------------------------------------------------------------


def one_step(batch: Batch, params: dict, kind: str) -> None:
    """Forward, loss, backward and the update ``W ← W − η·dL/dW``, with buttons to take one
    more step and to reset."""
    columns = st.columns([2, 1, 1, 2])
    rate = columns[0].select_slider("Learning rate η", STEP_RATES, value=0.1, key="learn_rate")
    step = learning.gradient_step(LAB_SPEC, params, batch.images, batch.labels, kind, rate)
    if columns[1].button(
        "One more step",
        type="primary",
        icon=":material/skip_next:",
        disabled=not step.finite,
        help=None if step.finite else "This step overflows: take a smaller η first.",
    ):
        _take_step(step)
        st.rerun()
    if columns[2].button("Reset", icon=":material/restart_alt:"):
        reset_weights()
        st.rerun()
    taken = st.session_state[STEPS_KEY]
    columns[3].metric("Steps taken", taken)
    st.subheader("Forward pass")
    _forward_stages(batch, params)
    st.subheader("Loss, backward pass and update")
    _loss_before_after(step, batch, kind)
    _gradient_sizes(step)
    _first_layer_update(step, params)
    _loss_history(step)


def _forward_stages(batch: Batch, params: dict) -> None:
    index = _image_index(batch)
    stages = explain.forward_stages(LAB_SPEC, {"params": params}, batch.images[index])
    keys = [stage.key for stage in stages]
    labels = {s.key: f"{s.title} — {'×'.join(map(str, s.values.shape))}" for s in stages}
    chosen = st.select_slider(
        f"Stage of the forward pass of image {index} (slide from the input to the logits)",
        keys,
        value="act1",
        format_func=labels.get,
        key="learn_stage",
    )
    stage = stages[keys.index(chosen)]
    names = CLASS_NAMES if stage.key == "logits" else None
    ui.show_stage(st, stage.values, labels[chosen], class_names=names, height=380)
    st.caption(
        f"{len(stages)} stages from the picture to the 10 logits; the softmax of the logits "
        "is the prediction p in section 1. Each map is scaled to its own largest value."
    )


def _loss_before_after(step: learning.Step, batch: Batch, kind: str) -> None:
    columns = st.columns(3)
    columns[0].metric(f"Loss now ({losses.LOSS_TITLES[kind]})", _format(step.loss_before, 4))
    change = step.loss_after - step.loss_before
    columns[1].metric(
        f"Loss after this step (same {batch.description})",
        _format(step.loss_after, 4),
        delta=_format(change, 4) if math.isfinite(change) else None,
        delta_color="inverse",
    )
    columns[2].metric("Learning rate η", f"{step.learning_rate:g}")
    if not step.finite:
        st.error(
            f"With η = {step.learning_rate:g} the new weights give a loss of "
            f"{step.loss_after}: the step overflowed. This is divergence; take a smaller η.",
            icon=":material/warning:",
        )
    elif change < 0:
        st.caption(
            f"One step of η = {step.learning_rate:g} lowers the loss on the same "
            f"{batch.description} from {step.loss_before:.4f} to {step.loss_after:.4f} "
            f"({-change / step.loss_before:.1%} lower)."
        )
    else:
        st.caption(
            f"This step would raise the loss from {step.loss_before:.4f} to "
            f"{step.loss_after:.4f}: η = {step.learning_rate:g} jumps past the valley "
            "(see section 3)."
        )


def _gradient_sizes(step: learning.Step) -> None:
    left, right = st.columns(2)
    ui.show_svg(
        left,
        svg_charts.bar_chart_svg(
            step.layers,
            {"‖dL/dW‖": step.gradient_norms},
            title="Gradient size ‖dL/dW‖ per layer",
            width=500,
            value_text=lambda value: f"{value:.3g}",
        ),
    )
    relative = step.learning_rate * step.gradient_norms / step.weight_norms
    ui.show_svg(
        right,
        svg_charts.bar_chart_svg(
            step.layers,
            {"η‖dL/dW‖ / ‖W‖": 100 * relative},
            title="How much this step changes each layer: η‖dL/dW‖ / ‖W‖",
            y_title="% of ‖W‖",
            width=500,
            value_text=lambda percent: f"{percent:.2f}%",
        ),
    )
    largest, smallest = int(np.argmax(step.gradient_norms)), int(np.argmin(step.gradient_norms))
    st.caption(
        f"The backward pass (jax.grad) gives dL/dW for all {_weight_count(step)} weights. "
        f"Its size is largest for {step.layers[largest]} "
        f"({step.gradient_norms[largest]:.3g}) and smallest for {step.layers[smallest]} "
        f"({step.gradient_norms[smallest]:.3g}); at η = {step.learning_rate:g} the step moves "
        f"{step.layers[int(np.argmax(relative))]} most, by {np.max(relative):.1%} of its size."
    )


def _weight_count(step: learning.Step) -> str:
    return f"{sum(leaf.size for leaf in jax.tree_util.tree_leaves(step.gradients)):,}"


def _first_layer_update(step: learning.Step, params: dict) -> None:
    kernels = np.asarray(params["conv1"]["kernel"])
    gradient = np.asarray(step.gradients["conv1"]["kernel"])
    count = kernels.shape[-1]
    names = [str(index + 1) for index in range(count)]
    left, right = st.columns(2)
    for column, maps, title in (
        (left, kernels, "First-layer kernels W"),
        (right, gradient, "Their gradients dL/dW"),
    ):
        view = figures.map_grid_view(
            maps[:, :, 0], names, title=title, columns=4, height=230, hover=False
        )
        ui.show_view(column, view)
    chosen = st.slider("Filter to update by hand", 1, count, key="learn_filter") - 1
    weights, grad = kernels[:, :, 0, chosen], gradient[:, :, 0, chosen]
    change = -step.learning_rate * grad
    tables = (
        (weights, f"W (filter {chosen + 1})"),
        (grad, "dL/dW"),
        (change, f"− η·dL/dW (η = {step.learning_rate:g})"),
        (weights + change, "W − η·dL/dW"),
    )
    for column, (values, title) in zip(st.columns(4), tables, strict=True):
        column.html(figures.value_table_html(values, title=title, decimals=4))
    moved = int(np.argmax(np.abs(change)))
    row, col = divmod(moved, weights.shape[1])
    st.caption(
        f"The update subtracts η times the gradient from every weight: weight ({row}, {col}) "
        f"of filter {chosen + 1} goes from {weights[row, col]:.4f} to "
        f"{weights[row, col] + change[row, col]:.4f} ({change[row, col]:+.4f}, the largest "
        "change in this filter). Red gradients lower the weight, blue ones raise it: the minus "
        "sign sends every weight downhill."
    )


def _loss_history(step: learning.Step) -> None:
    history = [*st.session_state[HISTORY_KEY], step.loss_before]
    if len(history) < 2:
        st.caption("Press **One more step** to take the step and see the loss fall step by step.")
        return
    first = st.session_state[STEPS_KEY] - len(history) + 1
    ui.show_svg(
        st,
        svg_charts.line_chart_svg(
            range(first, first + len(history)),
            {"loss on the batch": history},
            title="Loss after each step on this batch",
            x_title="steps taken",
            y_title="loss",
            width=960,
        ),
    )


# --- 3 · Learning rate ----------------------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner="Walking the loss landscape…")
def _landscape(
    params_key: str,
    _params: dict,
    batch_key: str,
    _batch: Batch,
    kind: str,
    rates: tuple[float, ...],
    steps: int,
) -> learning.Landscape:
    return learning.loss_landscape(
        LAB_SPEC, _params, _batch.images, _batch.labels, kind, list(rates), steps
    )


def learning_rate(batch: Batch, params: dict, kind: str) -> None:
    """The loss along the gradient, descent at three rates, and a 2-D slice with the paths."""
    columns = st.columns(4)
    rates = tuple(
        float(
            columns[index].select_slider(
                f"η {role}",
                STEP_RATES,
                value=learning.DEFAULT_RATES[index],
                key=f"learn_rate_{index}",
            )
        )
        for index, role in enumerate(RATE_ROLES)
    )
    steps = columns[3].slider("Steps", 2, 30, 10, key="learn_path_steps")
    land = _landscape(checkpoints.fingerprint(params), params, batch.key, batch, kind, rates, steps)
    loss_now = float(land.slice_losses[0])
    if not math.isfinite(loss_now):
        st.error(
            f"The current weights give a loss of {loss_now}: they have overflowed. Press "
            "**Reset** in section 2 to start again from the random weights.",
            icon=":material/warning:",
        )
        return
    if not land.gradient_norm > 0:
        st.info(
            f"The gradient is zero at the current weights (loss {loss_now:.4g}): a step of "
            "any size leaves every weight where it is, so there is no downhill direction to "
            "draw. Press **Reset** in section 2 to start again from the random weights.",
            icon=":material/horizontal_rule:",
        )
        return
    names = [f"η = {rate:g} ({role})" for rate, role in zip(rates, RATE_ROLES, strict=True)]
    left, right = st.columns(2)
    marks = {
        name: (rate, float(curve[1]))
        for name, rate, curve in zip(names, rates, land.path_losses, strict=True)
    }
    ui.show_svg(
        left,
        svg_charts.line_chart_svg(
            land.step_sizes,
            {"loss after one step of size η": land.slice_losses},
            title="1-D slice: the loss along −gradient",
            x_title="step size η (log scale)",
            y_title="loss on the batch",
            width=500,
            height=380,
            colours=(SLICE_COLOUR,),
            log_x=True,
            y_limits=(0.0, SLICE_TOP * loss_now),
            marks=marks,
            level=(loss_now, "loss now (η = 0)"),
        ),
    )
    ui.show_svg(
        right,
        svg_charts.line_chart_svg(
            range(steps + 1),
            dict(zip(names, land.path_losses, strict=True)),
            title="Loss after each step of gradient descent (log scale)",
            x_title="steps",
            y_title="loss on the batch",
            width=500,
            height=380,
            colours=figures.RATE_COLOURS,
            log_y=True,
        ),
    )
    st.caption(_slice_caption(land, rates))
    _divergence_notes(land, names)
    paths = {
        name: (points, path_losses)
        for name, points, path_losses in zip(names, land.path_points, land.path_losses, strict=True)
    }
    ui.show_svg(
        st,
        svg_charts.surface_svg(
            land.alphas, land.betas, land.surface, paths, title="2-D slice of the loss around W"
        ),
    )
    st.caption(_surface_caption(land, names))


def _slice_caption(land: learning.Landscape, rates: tuple[float, ...]) -> str:
    slice_losses = np.where(np.isfinite(land.slice_losses), land.slice_losses, np.inf)
    best = int(np.argmin(slice_losses))
    start = land.path_losses[0, 0]
    ends = ", ".join(
        f"η = {rate:g} → {_format(float(path[-1]))}"
        for rate, path in zip(rates, land.path_losses, strict=True)
    )
    top = SLICE_TOP * start
    above = np.flatnonzero(~(slice_losses <= top))
    off_chart = (
        f" From η ≈ {land.step_sizes[above[0]]:.3g} the loss exceeds {top:.3g} and runs off "
        "the top of the chart."
        if above.size
        else ""
    )
    beyond = (
        "beyond it a step jumps past the valley and the loss rises again."
        if best < len(slice_losses) - 1
        else "the loss is still falling at the largest step shown."
    )
    return (
        f"Left: one step of size η from the current weights (loss {start:.3f}; "
        f"‖dL/dW‖ = {land.gradient_norm:.3g}). The lowest loss along this line, "
        f"{land.slice_losses[best]:.3f}, is at η ≈ {land.step_sizes[best]:.3g}; {beyond}"
        f"{off_chart} Right: after {land.path_losses.shape[1] - 1} steps, {ends}."
    )


def _divergence_notes(land: learning.Landscape, names: list[str]) -> None:
    for name, curve, where in zip(names, land.path_losses, land.divergence, strict=True):
        if where is not None:
            st.error(
                f"{name}: the loss became {curve[where]} at step {where}: the weights "
                "overflowed (divergence). Its line stops there; lower the learning rate.",
                icon=":material/warning:",
            )
        elif curve.max() > curve[0]:
            peak = int(np.argmax(curve))
            st.warning(
                f"{name}: the loss rose from {curve[0]:.3f} to {curve[peak]:.4g} at step "
                f"{peak}: its steps overshoot the valley.",
                icon=":material/trending_up:",
            )


def _surface_caption(land: learning.Landscape, names: list[str]) -> str:
    reach = float(land.alphas[-1])
    outside = [
        name
        for name, points in zip(names, land.path_points, strict=True)
        if not np.all(np.abs(points[np.isfinite(points).all(axis=-1)]) <= reach)
    ]
    left = f" {', '.join(outside)} leaves the picture." if outside else ""
    overflow = (
        " Pink marks where the loss is not a finite number (the weights overflow there) and "
        "the half cell around it."
        if not np.isfinite(land.surface).all()
        else ""
    )
    return (
        "The loss on a plane through the current weights (×): α along −dL/dW, β towards "
        f"where the {RATE_ROLES[1]} rate's path ends, both in units of weight-space distance "
        f"(±{reach:.3g}). Lighter is lower (a log scale; hover for the loss). The paths are "
        "the weights after each step, projected on the plane." + left + overflow
    )


# --- 4 · Initialisation and depth -----------------------------------------------------------


@st.cache_data(show_spinner="Computing gradients through six deep networks (once per server)…")
def _depth_norms() -> np.ndarray:
    images, labels = learning.lesson_batch()
    return learning.deep_stack_gradient_norms(images, labels)


def initialisation_and_depth(batch: Batch, kind: str) -> None:
    """What the untrained network outputs, and gradient sizes through a deep stack."""
    start = learning.gradient_step(
        LAB_SPEC, _initial_params(), batch.images, batch.labels, kind, 0.0
    )
    mean = start.probabilities.mean(axis=0)
    ui.show_svg(
        st,
        svg_charts.bar_chart_svg(
            CLASS_NAMES,
            {"mean probability": mean},
            title="The untrained network: mean probability per class",
            x_title="class",
            width=960,
            height=300,
            percent=True,
        ),
    )
    chance = math.log(10)
    ce = -float(np.mean(np.log(start.probabilities[np.arange(len(batch.labels)), batch.labels])))
    st.caption(
        f"With random weights (seed 0) the network gives each class between {mean.min():.1%} "
        f"and {mean.max():.1%} on average over the {batch.description}: close to 1/10 = 10%, "
        f"a guess. Its cross-entropy is {ce:.3f}, near ln 10 = {chance:.3f}, the loss of a "
        "uniform guess: a useful check that a new network starts sensibly."
    )
    st.subheader("Gradients through a deep stack at initialisation")
    norms = _depth_norms()
    depth = norms.shape[-1]
    st.plotly_chart(
        figures.gradient_norms_figure(
            norms,
            [word(name) for name in learning.DEPTH_ACTIVATIONS],
            title=f"{depth} conv layers of {learning.DEEP_WIDTH} filters: ‖dL/dW‖ per layer",
        ),
        width="stretch",
    )
    st.caption(_depth_caption(norms))


def _depth_caption(norms: np.ndarray) -> str:
    ratios = norms[..., 0] / norms[..., -1]
    sentences = [
        f"{word(activation)}: {ratios[index, 0]:.2g} without batch norm, "
        f"{ratios[index, 1]:.2g} with"
        for index, activation in enumerate(learning.DEPTH_ACTIVATIONS)
    ]
    sigmoid = learning.DEPTH_ACTIVATIONS.index("sigmoid")
    verdict = (
        f"Through {norms.shape[-1]} sigmoid layers the first layer's gradient is "
        f"{1 / ratios[sigmoid, 0]:,.0f}× smaller than the last one's: the first layers "
        "barely learn (vanishing gradients)."
        if ratios[sigmoid, 0] < 0.01
        else "No activation shrinks the gradient by 100× here."
    )
    return (
        "Same random kernels, same 20 built-in digits, one backward pass of the cross-entropy "
        "each. Gradient of the first conv layer ÷ gradient of the last: "
        + "; ".join(sentences)
        + ". "
        + verdict
    )


# --- 5 · Epochs and batches -----------------------------------------------------------------


def epochs_and_batches() -> None:
    """The counts of an epoch spelled out for a training-set size and batch size."""
    columns = st.columns(3)
    size = int(columns[0].number_input("Training images", 1, 10_000_000, 4000, key="learn_size"))
    batch = int(
        columns[1].select_slider(
            "Batch size", [1, 16, 32, 64, 128, 256, 512], value=128, key="learn_batch"
        )
    )
    epochs = int(columns[2].slider("Epochs", 1, 30, 3, key="learn_epochs"))
    if batch > size:
        st.error(
            f"A batch of {batch} needs at least {batch} training images; there are {size}.",
            icon=":material/warning:",
        )
        return
    counts = train.epoch_counts(size, batch, epochs)
    columns = st.columns(3)
    columns[0].metric("Iterations (steps) per epoch", f"{counts.steps_per_epoch:,}")
    columns[1].metric("Iterations in all", f"{counts.total_steps:,}")
    columns[2].metric("Images seen", f"{counts.images_seen:,}")
    st.markdown(epoch_sentence(counts))
    st.caption(
        "The built-in MNIST set has 4,000 training images. The Train page marks the epoch "
        "with the best validation accuracy on its curves: that epoch's weights are the ones "
        "kept, so training on after the validation accuracy stops rising (overfitting) "
        "costs time but not the model."
    )


def epoch_sentence(counts: train.EpochCounts) -> str:
    """The arithmetic of :class:`explorer.train.EpochCounts` in words, from its numbers."""
    left = (
        f" The last {counts.left_out:,} image(s) do not fill a batch and wait for a later "
        "epoch (each epoch shuffles again)."
        if counts.left_out
        else ""
    )
    return (
        f"An **epoch** is one pass over the training set: {counts.train_size:,} images in "
        f"batches of {counts.batch_size:,} make **{counts.steps_per_epoch:,} iterations** "
        f"(gradient steps), {counts.train_size:,} ÷ {counts.batch_size:,} rounded down.{left} "
        f"{counts.epochs:,} epoch(s) = {counts.steps_per_epoch:,} × {counts.epochs:,} = "
        f"**{counts.total_steps:,} steps**, {counts.images_seen:,} images seen, each training "
        f"image about {counts.images_seen / counts.train_size:.1f} time(s)."
    )
