"""Streamlit widgets of the Train page: data, architecture, settings, live monitor, results.

Each browser
session keeps its own :class:`~explorer.runs.RunRecord`, run history and private
workspace id in ``st.session_state``, so several people can train at once without
seeing, replacing or deleting each other's runs (see :mod:`explorer.runs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from explorer import (
    budget,
    checkpoints,
    claims,
    explain,
    figures,
    labs,
    losses,
    model,
    runs,
    train,
    ui,
)
from explorer.architecture import HEADS, KINDS, POOLINGS, block_from_cells, word
from explorer.data import download, registry, splits, user_folders
from explorer.data.augmentation import Augmentation, augmentation_preview
from explorer.errors import ExplorerError
from explorer.files import read_regular_file
from explorer.runs import RunRecord
from explorer.text import escape_markdown
from explorer.training_session import TrainingSession
from explorer.ui import browser_cookie, sign_in
from explorer.ui.learning_page import epoch_sentence

OWN_ZIP = "Your own zip of class-named folders"
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0]
TRAINING_KEY = "training_run"
RUNS_KEY = "finished_runs"
LIVE_RUNS_KEPT = 32
WORKSPACE_KEY = "workspace_id"
WORKSPACE_COOKIE = "cnn_explorer_workspace"
"""The cookie in which the browser keeps its workspace id (:mod:`explorer.ui.browser_cookie`)."""
IMPORTED_KEY = "checkpoint_imported"


def workspace_id() -> str:
    """This session's private workspace id. On a server with sign-in, the signed-in user's
    (pages call :func:`require_workspace` first); else the one this browser kept (from an
    old link's ``?workspace=``, else its cookie), else a new random one."""
    if WORKSPACE_KEY not in st.session_state:
        if sign_in.configured():
            chosen = sign_in.user_workspace_id()
        else:
            old_link = st.query_params.get(ui.OLD_WORKSPACE_PARAMETER)
            kept = browser_cookie.kept(WORKSPACE_COOKIE)
            chosen = runs.first_workspace_id(old_link, kept) or runs.new_workspace_id()
        st.session_state[WORKSPACE_KEY] = chosen
    return st.session_state[WORKSPACE_KEY]


def keep_workspace_in_browser() -> None:
    """Have the browser keep this session's workspace id in a cookie, never in the address:
    an old link's private parameters are adopted once (see :func:`workspace_id`) and taken
    out of the address bar. With sign-in the identity names the workspace, and no workspace
    cookie is kept. Call it from ``app.py`` on every run."""
    workspace = None if sign_in.configured() else workspace_id()
    for name in ui.PRIVATE_PARAMETERS:
        if name in st.query_params:
            del st.query_params[name]
    browser_cookie.keep(WORKSPACE_COOKIE, workspace)


def require_workspace() -> None:
    """On a server with sign-in, ask a user who has not signed in to sign in, and stop the
    page run; otherwise do nothing."""
    if sign_in.configured() and sign_in.user_workspace_id() is None:
        sign_in.ask_to_sign_in()
        st.stop()


def close_workspace() -> None:
    """Forget this session's workspace, runs and run table (at sign-out)."""
    for key in (WORKSPACE_KEY, TRAINING_KEY, RUNS_KEY, IMPORTED_KEY):
        st.session_state.pop(key, None)


def workspace_root() -> Path:
    """This session's own run folder root (see :mod:`explorer.runs`)."""
    return runs.workspace_folder(workspace_id())


@st.cache_resource(max_entries=6, show_spinner="Loading the dataset…")
def _load_named(name: str, folder: str, seed: int) -> splits.Dataset:
    return registry.load_dataset(name, folder or None, seed)


@st.cache_resource(max_entries=2, show_spinner="Reading your zip…")
def _load_zip(digest: str, _data: bytes, seed: int) -> splits.Dataset:
    return user_folders.load_image_folder(_data, seed)


def data_root_picker(container=st) -> str:
    """Choose one of the configured data folders (:func:`explorer.data.registry.data_roots`)."""
    return container.selectbox(
        "Data folder (for MNIST, Fashion-MNIST, KMNIST and CIFAR-10 files)",
        [str(root) for root in registry.data_roots()],
        key="data_root",
        help="The folders this server offers: $CNN_EXPLORER_DATA and $CNN_EXPLORER_DATA_ROOTS.",
    )


def _check_data_root(folder: str) -> None:
    if folder not in [str(root) for root in registry.data_roots()]:
        raise ExplorerError("That data folder is not one this server offers.")


def dataset_picker(name: str, folder: str, seed: int) -> splits.Dataset | None:
    """Load the chosen dataset (cached per process); None while a zip is awaited.

    ``folder`` must be one of :func:`explorer.data.registry.data_roots`.

    Raises:
        ExplorerError: files missing or invalid, or a folder the server does not offer.
    """
    if name != OWN_ZIP:
        _check_data_root(folder)
        return _load_named(name, folder, seed)
    upload = st.file_uploader(
        "Zip with one folder per class (e.g. cats/…, dogs/…)", type=["zip"], key="dataset_zip"
    )
    if upload is None:
        st.info("Upload a zip whose top-level folders are the class names.")
        return None
    data = upload.getvalue()
    return _load_zip(hashlib.blake2b(data, digest_size=16).hexdigest(), data, seed)


def offer_download(name: str, folder: str) -> None:
    """After a failed load: offer the explicit download where the dataset allows it."""
    info = registry.DATASETS.get(name)
    if info is None or not info.needs_files or folder not in map(str, registry.data_roots()):
        return
    target = registry.data_dir(folder or None) / name
    if not info.download:
        st.info(f"Copy the dataset files into {target} (or choose another data folder).")
        return
    if st.button(f"Download {info.title} into {target} (checked by MD5)", key="download"):
        with st.spinner("Downloading…"):
            try:
                download.download_dataset(name, folder or None)
            except ExplorerError as error:
                ui.show_error(error)
                return
        _load_named.clear()
        st.rerun()


def dataset_overview(dataset: splits.Dataset) -> None:
    """Split sizes, a sample of every class, and how many images each class has."""
    height, width, channels = dataset.train.images.shape[1:]
    columns = st.columns(4)
    columns[0].metric("Training images", f"{len(dataset.train):,}")
    columns[1].metric("Validation images", f"{len(dataset.validation):,}")
    columns[2].metric("Test images", f"{len(dataset.test):,}")
    columns[3].metric("Image shape", f"{height}×{width}×{channels}")
    if getattr(dataset, "skipped", ()):
        st.warning(
            f"Skipped {len(dataset.skipped)} files that were not images: "
            + escape_markdown(", ".join(str(path) for path in dataset.skipped[:10]))
        )
    st.caption(
        "The **training** split updates the weights, the **validation** split picks the best "
        "epoch (that model is kept), and the **test** split is touched once, at the end."
    )
    picks = [
        np.flatnonzero(dataset.train.labels == label)[:2]
        for label in range(len(dataset.class_names))
    ]
    indices = np.concatenate(picks)
    left, right = st.columns([3, 2])
    left.plotly_chart(
        figures.image_gallery_figure(
            dataset.train.images[indices],
            _first_of_each_class([dataset.class_names[i] for i in dataset.train.labels[indices]]),
            title="Two training examples of every class",
            columns=10,
        ),
        width="stretch",
    )
    counts = splits.class_counts(dataset.train, len(dataset.class_names))
    right.plotly_chart(
        figures.counts_figure(dataset.class_names, counts, title="Training images per class"),
        width="stretch",
    )


def training_size_control(dataset: splits.Dataset, seed: int) -> splits.Dataset:
    """Train on a share of the training split (the same share of every class) to see what
    more data buys; validation and test stay whole, so runs compare fairly."""
    total = len(dataset.train)
    percent = st.select_slider(
        "Training images used",
        [5, 10, 25, 50, 100],
        value=100,
        format_func=lambda share: f"{share}% ({max(1, round(total * share / 100)):,})",
        key="train_share",
        help="Train twice with different amounts and compare the runs' validation curves.",
    )
    return splits.fewer_training_images(dataset, max(1, round(total * percent / 100)), seed)


def _first_of_each_class(names: list[str]) -> list[str]:
    """Each class name once, over its first example (blank over the rest), so that long
    names do not overlap in a gallery of small images."""
    return [name if name not in names[:index] else "" for index, name in enumerate(names)]


def _blocks_frame(blocks: tuple) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.asdict(block) for block in blocks])


BLOCK_COLUMNS = list(dict.fromkeys(n for kind in KINDS.values() for n in kind.EDITOR_COLUMNS))
"""The block editor's columns after "kind": every kind's editor columns, each once."""
NULLABLE_DTYPES = {"int": "Int64", "float": "Float64", "bool": "boolean"}
"""pandas types that hold a number or flag, or a blank where a kind has no such field."""


def _block_rows_frame(blocks: tuple) -> pd.DataFrame:
    """One row per block: its kind, then its editor columns (blank where it has none),
    each column typed so that the editor can show it (a checkbox column must be boolean
    even when only other kinds fill it)."""
    rows = [
        {"kind": block.KIND} | {name: getattr(block, name) for name in block.EDITOR_COLUMNS}
        for block in blocks
    ]
    types = {item.name: item.type for kind in KINDS.values() for item in dataclasses.fields(kind)}
    frame = pd.DataFrame(rows, columns=["kind", *BLOCK_COLUMNS])
    return frame.astype(
        {
            name: NULLABLE_DTYPES[types[name]]
            for name in BLOCK_COLUMNS
            if types[name] in NULLABLE_DTYPES
        }
    )


def _dense_layer_from_row(index: int, row: dict) -> model.DenseLayer:
    try:
        return model.DenseLayer(
            units=int(row["units"]),
            activation=str(row.get("activation") or "relu"),
            dropout=float(row.get("dropout") or 0.0),
        )
    except (TypeError, ValueError, KeyError) as error:
        raise ExplorerError(f"Dense layer {index + 1}: fill in every number ({error}).") from None


def _rows(frame: pd.DataFrame) -> list[dict]:
    cleaned = frame.dropna(how="all")
    return [
        {k: (None if pd.isna(v) else v) for k, v in row.items()}
        for row in cleaned.to_dict("records")
    ]


def architecture_editor(dataset: splits.Dataset) -> model.ModelSpec | None:
    """Pick a preset, edit it layer by layer, and see shapes, parameters and FLOPs per layer;
    None (with the reason shown) for a network that cannot be built or is over the model
    budget (:func:`explorer.budget.check_budget`)."""
    input_shape = dataset.train.images.shape[1:]
    classes = len(dataset.class_names)
    preset_name = st.selectbox(
        "Start from",
        list(model.PRESETS),
        format_func=lambda name: model.PRESETS[name].title,
        key="preset",
    )
    base = model.preset(preset_name, input_shape, classes)
    editor_key = f"{preset_name}_{'x'.join(map(str, input_shape))}_{classes}"
    activations = list(model.ACTIVATIONS)
    st.markdown(
        "**Blocks**, one per row: "
        + "; ".join(f"**{kind.KIND}**: {kind.SUMMARY}" for kind in KINDS.values())
        + ". Add or delete rows to change the depth; a blank cell takes the default."
    )
    conv_frame = st.data_editor(
        _block_rows_frame(base.conv_blocks),
        num_rows="dynamic",
        key=f"conv_blocks_{editor_key}",
        width="stretch",
        column_config={
            "kind": st.column_config.SelectboxColumn(options=list(KINDS), default="conv"),
            "filters": st.column_config.NumberColumn(min_value=1, max_value=512, step=1),
            "kernel_size": st.column_config.NumberColumn(
                "kernel", min_value=1, max_value=11, step=1
            ),
            "stride": st.column_config.NumberColumn(min_value=1, max_value=4, step=1),
            "padding": st.column_config.TextColumn(help='"same", "valid" or a number of pixels'),
            "activation": st.column_config.SelectboxColumn(options=activations, format_func=word),
            "pool": st.column_config.SelectboxColumn(options=list(POOLINGS)),
            "pool_size": st.column_config.NumberColumn(
                "pool size", min_value=1, max_value=4, step=1
            ),
            "batch_norm": st.column_config.CheckboxColumn("batch norm"),
            "dropout": st.column_config.NumberColumn(min_value=0.0, max_value=0.9, step=0.05),
            "bottleneck": st.column_config.CheckboxColumn(help="1×1 → 3×3 → 1×1, 4× filters"),
            **{
                name: st.column_config.NumberColumn(min_value=1, max_value=512, step=1)
                for name in ("ones", "reduce3", "threes", "reduce5", "fives", "pool_proj")
            },
            "wide_kernel": st.column_config.NumberColumn(
                "wide kernel", min_value=1, max_value=7, step=1
            ),
        },
    )
    head = st.radio(
        "Head: from the last maps to the dense layers",
        list(HEADS),
        index=list(HEADS).index(base.head),
        format_func=lambda name: HEADS[name].description,
        key=f"head_{editor_key}",
        horizontal=True,
    )
    st.markdown(f"**Dense layers** (hidden, before the softmax classifier of {classes} classes)")
    dense_frame = st.data_editor(
        _blocks_frame(base.dense_layers)
        if base.dense_layers
        else pd.DataFrame(columns=["units", "activation", "dropout"]),
        num_rows="dynamic",
        key=f"dense_layers_{editor_key}",
        width="stretch",
        column_config={
            "units": st.column_config.NumberColumn(min_value=1, max_value=4096, step=1),
            "activation": st.column_config.SelectboxColumn(options=activations, format_func=word),
            "dropout": st.column_config.NumberColumn(min_value=0.0, max_value=0.9, step=0.05),
        },
    )
    try:
        spec = dataclasses.replace(
            base,
            head=head,
            conv_blocks=tuple(
                block_from_cells(row.get("kind") or "conv", row, f"Block {i}")
                for i, row in enumerate(_rows(conv_frame), start=1)
            ),
            dense_layers=tuple(
                _dense_layer_from_row(i, r) for i, r in enumerate(_rows(dense_frame))
            ),
        )
        model.validate_spec(spec)
        budget.check_budget(spec)
    except ExplorerError as error:
        ui.show_error(error)
        return None
    rows = model.layer_table(spec)
    total_params = sum(row.params for row in rows)
    total_flops = sum(row.flops for row in rows)
    columns = st.columns(3)
    columns[0].metric("Parameters", f"{total_params:,}")
    columns[1].metric("FLOPs per image (forward)", f"{total_flops / 1e6:,.2f} M")
    columns[2].metric("Layers", len(rows))
    ui.show_layer_table(rows)
    return spec


def training_settings(dataset: splits.Dataset) -> train.TrainConfig | None:
    """Optimizer, learning rate, schedule, batch size, epochs, regularisation and augmentation."""
    columns = st.columns(4)
    optimizer = columns[0].selectbox("Optimizer", train.OPTIMIZERS, index=2, key="optimizer")
    learning_rate = columns[1].select_slider(
        "Learning rate",
        LEARNING_RATES,
        value=3e-3,
        key="learning_rate",
        help="Too high and the loss explodes; too low and nothing happens. Try 3.0.",
    )
    schedule = columns[2].selectbox("Schedule", train.SCHEDULES, index=2, key="schedule")
    epochs = columns[3].slider("Epochs", 1, 30, 3, key="epochs")
    columns = st.columns(5)
    batch_size = columns[0].select_slider(
        "Batch size", [16, 32, 64, 128, 256, 512], value=128, key="batch_size"
    )
    weight_decay = columns[1].select_slider(
        "Weight decay", [0.0, 1e-5, 1e-4, 1e-3, 1e-2], value=0.0, key="weight_decay"
    )
    label_smoothing = columns[2].slider(
        "Label smoothing", 0.0, 0.3, 0.0, 0.05, key="label_smoothing"
    )
    seed = int(columns[3].number_input("Seed", 0, 9999, 0, key="train_seed"))
    loss = columns[4].selectbox(
        "Loss",
        losses.LOSSES,
        format_func=losses.LOSS_TITLES.get,
        key="loss",
        help="Cross-entropy −log p(true class), or mean squared error ½Σ(y − p)² between the "
        "one-hot label and the probabilities. See the lab “How a network learns”.",
    )
    info = registry.DATASETS.get(dataset.name)
    flip_ok = bool(info and info.flip_makes_sense)
    with st.expander("Data augmentation: random changes to every training batch"):
        columns = st.columns(4)
        augmentation = Augmentation(
            max_shift=columns[0].slider("Shift (px)", 0.0, 6.0, 0.0, 0.5, key="aug_shift"),
            max_rotation=columns[1].slider("Rotation (°)", 0.0, 45.0, 0.0, 5.0, key="aug_rotation"),
            max_scale=columns[2].slider("Zoom (±)", 0.0, 0.4, 0.0, 0.05, key="aug_scale"),
            horizontal_flip=columns[3].checkbox(
                "Horizontal flip",
                False,
                key="aug_flip",
                disabled=not flip_ok,
                help=None if flip_ok else "A mirrored digit is not the same digit.",
            ),
        )
        preview = augmentation_preview(dataset.train.images[:4], augmentation, seed, 7)
        st.plotly_chart(
            figures.image_gallery_figure(
                preview.reshape(-1, *preview.shape[2:]),
                ["original" if i % 8 == 0 else "" for i in range(preview.shape[0] * 8)],
                title="Each row: one image and seven augmented copies",
                columns=8,
            ),
            width="stretch",
        )
    config = train.TrainConfig(
        optimizer=optimizer,
        loss=loss,
        learning_rate=float(learning_rate),
        schedule=schedule,
        weight_decay=float(weight_decay),
        label_smoothing=float(label_smoothing),
        batch_size=int(batch_size),
        epochs=int(epochs),
        seed=seed,
        augmentation=augmentation,
    )
    try:
        train.validate_config(config, len(jax.devices()))
    except ExplorerError as error:
        ui.show_error(error)
        return None
    counts = train.epoch_counts(len(dataset.train), config.batch_size, config.epochs)
    if counts.steps_per_epoch:
        st.caption(epoch_sentence(counts))
    return config


def current_run() -> RunRecord | None:
    """This session's latest run, if any."""
    return st.session_state.get(TRAINING_KEY)


_current_run = current_run


@st.cache_resource
def _live_runs() -> OrderedDict[str, RunRecord]:
    """This server's recent runs by secret token (a random 128-bit hex string), newest last."""
    return OrderedDict()


def _register_run(run: RunRecord) -> None:
    """Make ``run`` findable by its token after a reload; forget the oldest beyond a few."""
    live = _live_runs()
    live[run.token] = run
    while len(live) > LIVE_RUNS_KEPT:
        live.popitem(last=False)


def reattach_run() -> None:
    """After a page reload (a new browser session), pick up the newest run that saves into
    this session's workspace: its progress, curves and result. Only a browser that holds the
    workspace can."""
    if TRAINING_KEY not in st.session_state:
        run = runs.newest_run_in(_live_runs().values(), workspace_id())
        if run is not None:
            st.session_state[TRAINING_KEY] = run


def run_is_active() -> bool:
    """True while this session's run is training or stopping."""
    run = _current_run()
    return bool(run and run.session.snapshot().active)


def training_controls(
    dataset: splits.Dataset, spec: model.ModelSpec, config: train.TrainConfig
) -> None:
    """Start a new run, stop it, or resume a stopped one."""
    run = _current_run()
    snapshot = run.session.snapshot() if run else None
    active = bool(snapshot and snapshot.active)
    row = st.container(horizontal=True, vertical_alignment="center")
    if row.button(
        "Start training",
        icon=":material/play_arrow:",
        type="primary",
        disabled=active,
        key="start",
    ):
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{spec.name}-{dataset.name}-{uuid.uuid4().hex[:6]}"
        try:
            session = TrainingSession(
                dataset, spec, config, checkpoints.run_folder(workspace_root(), name)
            )
        except ExplorerError as error:
            ui.show_error(error)
            return
        session.start()
        run = RunRecord(session, name, dataset.name, spec, config, uuid.uuid4().hex, workspace_id())
        st.session_state[TRAINING_KEY] = run
        _register_run(run)
        st.rerun()
    if row.button("Stop", icon=":material/pause:", disabled=not active, key="stop"):
        run.session.stop()
        run.session.wait(30)
        st.rerun()
    can_resume = bool(snapshot and snapshot.status == "stopped")
    if row.button("Resume", icon=":material/resume:", disabled=not can_resume, key="resume"):
        run.session.resume()
        st.rerun()
    if run and (run.spec != spec or run.config != config) and not active:
        row.caption("Settings changed since the last run: press Start for a new run.")


def _accuracies(history: tuple) -> dict[str, list[float]]:
    return {
        "training accuracy": [record.train_accuracy for record in history],
        "validation accuracy": [record.val_accuracy for record in history],
    }


def _format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "…"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def training_monitor() -> None:
    """Live progress and curves, refreshed every second while a run is active, then the
    film strip of first-layer filters (about 170 KB), redrawn only when an epoch adds to it."""
    run = _current_run()
    if run is None:
        st.info("Press **Start training**. The page stays usable while the network learns.")
        return
    snapshot = run.session.snapshot()
    interval = 1.0 if snapshot.active else None
    run.drawn_films = len(snapshot.filters)
    st.fragment(run_every=interval)(_draw_progress)()
    if snapshot.filters:
        _filter_film(snapshot.filters)


def _draw_progress() -> None:
    run = _current_run()
    snapshot = run.session.snapshot()
    eta = _format_seconds(snapshot.eta_seconds)
    text = (
        f"**{snapshot.status}** · epoch {max(snapshot.epoch, 1)}/{snapshot.epochs} · "
        f"step {snapshot.step}/{snapshot.steps_per_epoch} · "
        f"{snapshot.images_per_second:,.0f} images/s · ETA {eta} · "
        f"elapsed {_format_seconds(snapshot.elapsed_seconds)} · {snapshot.params:,} parameters · "
        f"{snapshot.device}"
    )
    st.progress(snapshot.fraction_done, text=text)
    if snapshot.error:
        ui.show_error(snapshot.error)
    epochs = [record.epoch for record in snapshot.history]
    if snapshot.loss_points:
        columns = st.columns(2)
        loss_figure = figures.loss_curve_figure(
            snapshot.loss_points,
            epochs,
            [record.val_loss for record in snapshot.history],
            title=f"Loss ({losses.LOSS_TITLES[run.config.loss]})",
        )
        if snapshot.history:
            accuracies = _accuracies(snapshot.history)
            best = train.best_epoch(accuracies["validation accuracy"])
            accuracy_figure = figures.line_figure(
                epochs, accuracies, title="Accuracy", x_title="epoch", y_title="fraction correct"
            )
            for figure in (loss_figure, accuracy_figure):
                figures.mark_epoch(figure, best, f"best: epoch {best}")
            columns[1].plotly_chart(accuracy_figure, width="stretch")
            st.caption(_best_epoch_caption(snapshot.history, best))
        columns[0].plotly_chart(loss_figure, width="stretch")
        if not snapshot.history:
            columns[1].caption("Validation loss and accuracy appear after each epoch.")
    elif snapshot.active:
        st.caption("The loss curve starts after the first steps (the first seconds compile them).")
    ended = run.last_status in ("running", "stopping") and not snapshot.active
    run.last_status = snapshot.status
    if ended or len(snapshot.filters) != run.drawn_films:
        st.rerun(scope="app")


def _best_epoch_caption(history: tuple, best: int) -> str:
    """Which epoch is kept and, once later epochs have not beaten it, what that shows."""
    record = history[best - 1]
    text = (
        f"Best validation accuracy so far: {record.val_accuracy:.2%} in epoch {best} (dotted "
        "line); that epoch's weights are the ones kept and saved."
    )
    later = history[best:]
    if not later:
        return text
    train_gain = later[-1].train_accuracy - record.train_accuracy
    trend = (
        f"training accuracy rose by {train_gain:.1%} meanwhile: the network is fitting its "
        "training images more than it learns what generalises (overfitting)"
        if train_gain > 0
        else f"training accuracy did not rise either ({train_gain:+.1%})"
    )
    return (
        f"{text} The {len(later)} epoch(s) after it did not beat it; {trend}. Choosing the "
        "epoch by validation accuracy keeps the test images unseen."
    )


def _film_figure(
    frames: list, row_names: list, colour: bool, title: str, limit: float | None = None
) -> go.Figure:
    """One film strip: colour kernels in colour (one scale), others as a heatmap, each tile
    at its own scale or, given ``limit``, all on one scale with a colour bar."""
    if colour:
        return figures.rgb_film_figure(explain.film_as_rgb(frames), row_names, title=title)
    return figures.filter_film_figure(frames, row_names, title=title, limit=limit)


def _filter_film(filters: tuple) -> None:
    """The first-layer kernels over training: first their change since init at its own
    scale (what moved is too small to see in the weights after a few epochs), then the
    weights."""
    channels, count = filters[0].shape[2], filters[0].shape[-1]
    colour = channels == 3
    if len(filters) > 1:
        changes, names = explain.filter_film(filters, change=True)
        limit = figures.film_limit(changes, colour=colour)
        title = claims.filter_change_title(limit)
        st.plotly_chart(_film_figure(changes, names, colour, title, limit), width="stretch")
        st.caption(claims.filter_change_note(filters[0], filters[-1], len(filters) - 1, limit))
    frames, names = explain.filter_film(filters)
    title = "First-layer filters over training"
    st.plotly_chart(_film_figure(frames, names, colour, title), width="stretch")
    colours = (
        "Each tile is a filter's three colour channels drawn as one picture, all tiles of a "
        "strip on one scale: grey is zero, a red tile adds the red channel under it, a cyan "
        "one subtracts it."
        if colour
        else "Red weights add the pixels under them, blue ones subtract; in the change every "
        "tile shares the colour bar's scale, in the weights each tile is scaled to its own "
        "largest value."
    )
    st.caption(
        "Each row shows the same first-layer filters, from the random start (init) to the "
        "end of each epoch (“moved”: how far from init, relative L2). Over longer runs, and "
        "with LeNet-5's 5×5 kernels, random noise turns into edge, line and blob detectors "
        "that show in the weights too. "
        + colours
        + (
            f" The first {figures.FILM_FILTERS} of {count} filters are shown."
            if count > figures.FILM_FILTERS
            else ""
        )
    )


def did_not_learn_note(run: RunRecord) -> str | None:
    """:func:`explorer.claims.did_not_learn_note` of a finished run (the CLI's exit-3 sentence),
    or None when it learned or finished no epoch."""
    snapshot = run.session.snapshot()
    if not snapshot.history:
        return None
    return claims.did_not_learn_note(
        snapshot.best_val_accuracy,
        claims.chance_accuracy(run.session.dataset.validation.labels),
        run.config.optimizer,
        run.config.learning_rate,
        [record.train_loss for record in snapshot.history],
    )


def _record_run(run: RunRecord, evaluation: train.Evaluation) -> None:
    snapshot = run.session.snapshot()
    config = run.config
    st.session_state.setdefault(RUNS_KEY, []).append(
        {
            "run": run.name,
            "settings": runs.describe_run(run.dataset_name, run.spec, config),
            "parameters": snapshot.params,
            "train images": len(run.session.dataset.train),
            "epochs run": len(snapshot.history),
            "best val accuracy": snapshot.best_val_accuracy,
            "test accuracy": evaluation.accuracy,
            "result": "learned" if did_not_learn_note(run) is None else "did not learn",
            "seconds": round(snapshot.elapsed_seconds, 1),
            "history": snapshot.history,
        }
    )
    run.recorded = True


def training_results() -> None:
    """Test accuracy of the kept model, confusion matrix, per-class accuracy, and past runs."""
    run = _current_run()
    if run is not None:
        snapshot = run.session.snapshot()
        if not snapshot.active and run.session.best_variables is not None:
            if run.evaluation is None:
                with st.spinner("Testing the kept model on the test split…"):
                    run.evaluation = run.session.evaluate_test()
            evaluation = run.evaluation
            if not run.recorded:
                _record_run(run, evaluation)
            dataset = run.session.dataset
            names = dataset.class_names
            matrix = train.confusion_matrix(dataset.test.labels, evaluation.predictions, len(names))
            columns = st.columns(3)
            columns[0].metric("Test accuracy", f"{evaluation.accuracy:.2%}")
            columns[1].metric("Test loss", f"{evaluation.loss:.4f}")
            columns[2].metric("Best validation accuracy", f"{snapshot.best_val_accuracy:.2%}")
            note = did_not_learn_note(run)
            if note is not None:
                st.warning(note, icon=":material/trending_flat:")
            columns = st.columns([3, 2])
            columns[0].plotly_chart(figures.confusion_figure(matrix, names), width="stretch")
            columns[1].plotly_chart(
                figures.counts_figure(
                    names,
                    train.per_class_accuracy(matrix),
                    title="Test accuracy per class",
                    percent=True,
                ),
                width="stretch",
            )
        elif snapshot.active:
            st.info("Results appear when the run finishes or is stopped.")
    history = st.session_state.get(RUNS_KEY, [])
    if not history:
        return
    st.subheader("Runs this session")
    differing = runs.differing_settings([entry["settings"] for entry in history])
    shown = differing or ["dataset", "preset"]
    st.caption(
        "Settings that differ between the runs: " + ", ".join(differing) + "."
        if differing
        else "The runs so far share every setting."
    )
    st.dataframe(
        [
            {
                "run": entry["run"],
                **{key: entry["settings"][key] for key in shown},
                **{k: v for k, v in entry.items() if k not in ("run", "settings", "history")},
            }
            for entry in history
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "best val accuracy": st.column_config.NumberColumn(format="%.4f"),
            "test accuracy": st.column_config.NumberColumn(format="%.4f"),
        },
    )
    chosen = st.multiselect(
        "Overlay validation curves of runs",
        [entry["run"] for entry in history],
        default=[entry["run"] for entry in history[-2:]],
        key="compare_runs",
    )
    series = {}
    for entry in history:
        if entry["run"] in chosen:
            series[entry["run"]] = [record.val_accuracy for record in entry["history"]]
    if series:
        longest = max(len(values) for values in series.values())
        padded = {
            name: values + [None] * (longest - len(values)) for name, values in series.items()
        }
        st.plotly_chart(
            figures.line_figure(
                range(1, longest + 1),
                padded,
                title="Validation accuracy",
                x_title="epoch",
                y_title="fraction correct",
            ),
            width="stretch",
        )


def workspace_sentence(with_sign_in: bool) -> str:
    """Where the saved models live and who can open them (with sign-in or without)."""
    if with_sign_in:
        return (
            "Best-validation checkpoints are saved atomically in your own workspace, named by "
            "your sign-in: they follow you to any computer where you sign in, and nobody else "
            "can see them. Sign out when you leave a shared computer."
        )
    return (
        "Best-validation checkpoints are saved atomically in this browser's own workspace, "
        "named by a secret code that the browser keeps in a cookie (never in the page's "
        "address, so a copied address or a projected screen does not give it away): a reload "
        "keeps them, other browsers cannot see them. Anyone using this browser profile can "
        "open the workspace."
    )


def _summary_row(summary: checkpoints.CheckpointSummary) -> dict:
    """A table row; the metadata of a listed summary without ``error`` passed validation."""
    metadata = summary.metadata or {}
    return {
        "name": summary.name,
        "dataset": metadata["dataset"]["name"] if metadata else "?",
        "architecture": metadata["spec"].get("name", "?") if metadata else "?",
        "best val accuracy": metadata["metrics"].get("best_val_accuracy") if metadata else None,
        "problem": summary.error or "",
    }


def download_checkpoint(container, path: Path, name: str, key: str) -> None:
    """A Download button for the checkpoint file at ``path``, saved as ``NAME.msgpack``; a
    file that vanished or cannot be read gets a message that names no folder instead."""
    try:
        data = read_regular_file(path, checkpoints.MAX_CHECKPOINT_BYTES)
    except ExplorerError as error:
        container.caption(f"Cannot download it now: {error}")
        return
    container.download_button(
        "Download", data, icon=":material/download:", file_name=f"{name}.msgpack", key=key
    )


def checkpoint_manager() -> None:
    """This session's saved models (download, delete, import) and the class models
    (download only). Every file is validated; nothing is ever unpickled."""
    root = workspace_root()
    st.caption(workspace_sentence(sign_in.configured()))
    imported = st.session_state.pop(IMPORTED_KEY, None)
    if imported:
        st.success(f"Imported {escape_markdown(imported)}: it is listed here and on Inspect.")
    summaries = runs.own_checkpoints(workspace_id())
    if summaries:
        st.dataframe(
            [_summary_row(summary) for summary in summaries], hide_index=True, width="stretch"
        )
        by_name = {summary.name: summary for summary in summaries}
        columns = st.columns([3, 1, 1])
        name = columns[0].selectbox("Checkpoint", list(by_name), key="checkpoint_pick")
        path = checkpoints.checkpoint_path(checkpoints.run_folder(root, name))
        if by_name[name].error is None:
            download_checkpoint(columns[1], path, name, key="checkpoint_download")
        if columns[2].button("Delete", icon=":material/delete:", key="checkpoint_delete"):
            try:
                checkpoints.delete_checkpoint(root, name)
            except ExplorerError as error:
                ui.show_error(error)
            else:
                st.rerun()
        columns = st.columns([3, 1, 1], vertical_alignment="bottom")
        new_name = columns[0].text_input("New name for this checkpoint", key="checkpoint_new_name")
        if columns[1].button("Rename", icon=":material/edit:", key="checkpoint_rename"):
            try:
                _rename_run(root, name, new_name.strip())
            except ExplorerError as error:
                ui.show_error(error)
            else:
                st.rerun()
    else:
        st.info("No saved models in this session yet: train one, or upload a checkpoint.")
    _class_models()
    upload = st.file_uploader(
        "Upload a checkpoint (.msgpack from CNN Explorer)",
        type=["msgpack"],
        key="checkpoint_upload",
    )
    if upload is not None and st.button("Import it", key="checkpoint_import"):
        name = checkpoints.safe_run_name(Path(upload.name).stem)
        try:
            checkpoints.import_checkpoint(root, name, upload.getvalue())
        except ExplorerError as error:
            ui.show_error(error)
        else:
            st.session_state[IMPORTED_KEY] = name
            st.rerun()


def _rename_run(root: Path, old: str, new: str) -> None:
    """Rename a saved run, in the session's runs table too; the run this session could
    still train into (running or stopped) keeps its name.

    Raises:
        ExplorerError: see :func:`explorer.checkpoints.rename_checkpoint`, or the run is
            still training or can be resumed.
    """
    run = _current_run()
    if run is not None and run.name == old:
        snapshot = run.session.snapshot()
        if snapshot.active or snapshot.status == "stopped":
            raise ExplorerError("This run can still train: let it finish before renaming it.")
    checkpoints.rename_checkpoint(root, old, new)
    if run is not None and run.name == old:
        run.name = new
    for entry in st.session_state.get(RUNS_KEY, []):
        if entry["run"] == old:
            entry["run"] = new


def _class_models() -> None:
    """The read-only models (the teacher's class models, the shipped starter models): listed
    and downloadable, never changed from here."""
    usable = dict(runs.shared_models())
    if not usable:
        return
    st.subheader("Class and starter models (read-only)")
    st.dataframe(
        [
            {k: v for k, v in _summary_row(s).items() if k != "problem"}
            | {"name": runs.choice_label(choice)}
            for choice, s in usable.items()
        ],
        hide_index=True,
        width="stretch",
    )
    columns = st.columns([3, 1, 1])
    choice = columns[0].selectbox(
        "Read-only model", list(usable), format_func=runs.choice_label, key="class_model_pick"
    )
    name = usable[choice].name
    path = checkpoints.checkpoint_path(usable[choice].path)
    download_checkpoint(columns[1], path, name, key="class_download")
    columns[2].caption(f"Open it on **{labs.title(labs.by_file('6_inspect.py'))}**.")
