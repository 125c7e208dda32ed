"""Training runs of the app and where their checkpoints live; free of Streamlit.

Every browser has a private **workspace**: a folder under the runs root
(``$CNN_EXPLORER_RUNS``, else ``<data folder>/runs``) named by a random id that only that
browser knows (:func:`new_workspace_id`), or, on a server where students sign in, by a keyed
hash of their identity (:func:`workspace_for_identity`). Its runs are saved, listed, opened,
downloaded, imported and deleted there, and no other session can name them.

A teacher may publish **class models**: checkpoints in run folders under
``$CNN_EXPLORER_CLASS_MODELS`` (e.g. written by ``python -m explorer.train --out``).
Every session can open and download them; none can delete or replace them. In
model choices they are named ``class/<run name>`` (:data:`CLASS_PREFIX`), which no own
run can be called, since run names hold no ``/``. The **starter models** shipped with the
app (:mod:`explorer.starter_models`) are read-only in the same way, named ``starter/<name>``
and listed last, so Inspect has a trained network before anyone trains one.

:class:`RunRecord` is the one typed record of a run started from the Train page; the
Train and Inspect pages share it instead of a dictionary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from explorer import checkpoints, starter_models
from explorer.architecture import word
from explorer.data import registry
from explorer.errors import ExplorerError
from explorer.model import ModelSpec
from explorer.train import Evaluation, TrainConfig
from explorer.training_session import TrainingSession

RUNS_ENV = "CNN_EXPLORER_RUNS"
CLASS_MODELS_ENV = "CNN_EXPLORER_CLASS_MODELS"
CLASS_PREFIX = "class/"
"""Model choices that name a class model start with this (run names never hold a ``/``)."""
STARTER_PREFIX = "starter/"
"""Model choices that name a starter model start with this."""
_WORKSPACE_ID = re.compile(r"[0-9a-f]{32}")


def runs_root() -> Path:
    """The root of all workspaces: ``$CNN_EXPLORER_RUNS`` or ``<data folder>/runs``."""
    return Path(os.environ.get(RUNS_ENV) or registry.data_dir() / "runs").expanduser()


def new_workspace_id() -> str:
    """A fresh random workspace id: 32 hex digits (128 bits), unguessable by other sessions."""
    return secrets.token_hex(16)


def is_workspace_id(text: object) -> bool:
    """True for a string shaped like :func:`new_workspace_id`'s (32 lowercase hex digits)."""
    return isinstance(text, str) and _WORKSPACE_ID.fullmatch(text) is not None


def first_workspace_id(*candidates: object) -> str | None:
    """The first of ``candidates`` that is a workspace id (:func:`is_workspace_id`), or None:
    what a browser kept, in the order the caller trusts it."""
    return next((text for text in candidates if is_workspace_id(text)), None)


def workspace_for_identity(issuer: str, subject: str, key: bytes) -> str:
    """The workspace id of a signed-in user: HMAC-SHA256 keyed by the server's secret ``key``
    over the sign-in provider's ``issuer`` and the user's ``subject`` (the provider's stable
    id for the user, never the e-mail), cut to 128 bits as 32 hex digits. The same user gets
    the same workspace on any computer; without the key nobody can compute it from the name.
    """
    message = json.dumps([issuer, subject]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def workspace_folder(workspace_id: str) -> Path:
    """The folder of a workspace under :func:`runs_root` (created on the first save).

    Raises:
        ExplorerError: ``workspace_id`` is not one of :func:`new_workspace_id`'s.
    """
    if not is_workspace_id(workspace_id):
        raise ExplorerError("This session's workspace id is not valid; reload the page.")
    return runs_root() / workspace_id


def class_models_root() -> Path | None:
    """The read-only class-models folder (``$CNN_EXPLORER_CLASS_MODELS``), or None."""
    setting = os.environ.get(CLASS_MODELS_ENV)
    return Path(setting).expanduser() if setting else None


def own_checkpoints(workspace_id: str) -> list[checkpoints.CheckpointSummary]:
    """Every run in the workspace, newest first, refused ones with ``error`` set."""
    return checkpoints.list_checkpoints(workspace_folder(workspace_id))


def class_checkpoints() -> list[checkpoints.CheckpointSummary]:
    """Every class model, newest first, refused ones with ``error`` set."""
    root = class_models_root()
    return checkpoints.list_checkpoints(root) if root is not None else []


def starter_checkpoints() -> list[checkpoints.CheckpointSummary]:
    """The shipped starter models, in :data:`explorer.starter_models.STARTERS` order."""
    found = {s.name: s for s in checkpoints.list_checkpoints(starter_models.STARTER_DIR)}
    return [found[starter.name] for starter in starter_models.STARTERS if starter.name in found]


def shared_models() -> list[tuple[str, checkpoints.CheckpointSummary]]:
    """(choice, summary) of the read-only models that passed validation: class models
    (``class/<name>``), then starter models (``starter/<name>``)."""
    return [
        (prefix + s.name, s)
        for prefix, found in (
            (CLASS_PREFIX, class_checkpoints()),
            (STARTER_PREFIX, starter_checkpoints()),
        )
        for s in found
        if s.error is None
    ]


def describe_run(dataset_name: str, spec: ModelSpec, config: TrainConfig) -> dict[str, str]:
    """What a run was, one short text per setting: dataset, layers (filters@k×k, batch norm,
    pooling), dense units, activations, dropout, optimiser, loss, schedule, batch, epochs,
    regularisation, augmentation and seed. Two runs differ where these texts differ."""
    blocks = ", ".join(
        f"{b.filters}@{b.kernel_size}×{b.kernel_size}"
        + (f"/s{b.stride}" if b.stride != 1 else "")
        + (" bn" if b.batch_norm else "")
        + (f" {b.pool}{b.pool_size}" if b.pool != "none" else "")
        for b in spec.conv_blocks
    )
    layers = (*spec.conv_blocks, *spec.dense_layers)
    return {
        "dataset": dataset_name,
        "preset": spec.name,
        "conv blocks": blocks or "none",
        "dense units": ", ".join(str(layer.units) for layer in spec.dense_layers) or "none",
        "activation": ", ".join(sorted({word(layer.activation) for layer in layers})) or "none",
        "dropout": ", ".join(f"{layer.dropout:g}" for layer in layers) or "none",
        "optimizer": config.optimizer,
        "loss": config.loss,
        "learning rate": f"{config.learning_rate:g}",
        "schedule": config.schedule,
        "batch": str(config.batch_size),
        "epochs": str(config.epochs),
        "weight decay": f"{config.weight_decay:g}",
        "label smoothing": f"{config.label_smoothing:g}",
        "augmentation": config.augmentation.describe(),
        "seed": str(config.seed),
    }


def differing_settings(descriptions: list[dict[str, str]]) -> list[str]:
    """The settings (keys of :func:`describe_run`) whose text is not the same in every
    run, in :func:`describe_run` order; empty for fewer than two runs."""
    if len(descriptions) < 2:
        return []
    return [key for key in descriptions[0] if len({d[key] for d in descriptions}) > 1]


def usable_models(workspace_id: str) -> list[tuple[str, checkpoints.CheckpointSummary]]:
    """(choice, summary) of every checkpoint that passed validation: own runs (choice = run
    name), then :func:`shared_models`."""
    own = [(s.name, s) for s in own_checkpoints(workspace_id) if s.error is None]
    return own + shared_models()


def is_class_model(choice: str) -> bool:
    """True for a choice naming a class model."""
    return choice.startswith(CLASS_PREFIX)


def model_folder(workspace_id: str, choice: str) -> Path:
    """The run folder a choice of :func:`usable_models` names.

    Raises:
        ExplorerError: a bad name, or a class model when none are configured.
    """
    if is_class_model(choice):
        root = class_models_root()
        if root is None:
            raise ExplorerError("This server publishes no class models.")
        return checkpoints.run_folder(root, choice[len(CLASS_PREFIX) :])
    if choice.startswith(STARTER_PREFIX):
        return checkpoints.run_folder(starter_models.STARTER_DIR, choice[len(STARTER_PREFIX) :])
    return checkpoints.run_folder(workspace_folder(workspace_id), choice)


def choice_label(choice: str) -> str:
    """How a choice reads in a menu: ``NAME (class model)``, ``NAME (starter model, ships
    with the app)`` or the run's name."""
    if is_class_model(choice):
        return f"{choice[len(CLASS_PREFIX) :]} (class model)"
    if choice.startswith(STARTER_PREFIX):
        return f"{choice[len(STARTER_PREFIX) :]} (starter model, ships with the app)"
    return choice


@dataclass(eq=False)
class RunRecord:
    """One run started on the Train page, shared with the Inspect page.

    Attributes:
        session: the background training (progress, best weights, test evaluation).
        name: the run's folder name in the workspace.
        dataset_name: the dataset's registry name (or the zip's name).
        spec, config: what was trained and how.
        token: a random 128-bit hex string, the run's key among the server's live runs (it
            never leaves the server).
        workspace: the id of the workspace the run saves into; a reloaded page of the same
            workspace re-attaches to the run (:func:`newest_run_in`).
        recorded: added to the session's table of runs.
        evaluation: the kept model's test result, once computed.
        last_status: the status the page last drew (to redraw once when a run ends).
        drawn_films: how many filter snapshots the page's film strip last showed (a new
            epoch's snapshot redraws the page once, not the film every second).
    """

    session: TrainingSession
    name: str
    dataset_name: str
    spec: ModelSpec
    config: TrainConfig
    token: str
    workspace: str
    recorded: bool = False
    evaluation: Evaluation | None = None
    last_status: str | None = None
    drawn_films: int = 0

    @property
    def folder(self) -> Path:
        """Where the run's checkpoint is saved."""
        return checkpoints.run_folder(workspace_folder(self.workspace), self.name)


def newest_run_in(records: Iterable[RunRecord], workspace_id: str) -> RunRecord | None:
    """The last of ``records`` (oldest first) that saves into ``workspace_id``, or None."""
    return next((run for run in reversed(list(records)) if run.workspace == workspace_id), None)
