"""Benchmark: what refusing issue 22's crafted checkpoint costs, and every model's budget figures.

Writes the crafted 375 KB checkpoint (1024×1024×3 input, one conv of 256 filters 11×11,
global average pooling; its weights written by hand, nothing builds the model), then
loads it in a fresh Python process and prints that process's peak RSS before and after
and the time the refusal took. Then prints the figures of :mod:`explorer.budget` for
every preset on every registered dataset shape, every starter model, the learning lab's
network, the widest networks the Train page's editor offers, and the ImageNet gallery's
networks (only described, never built), each marked as fitting or over the budget.

Usage: python -m bench.budget_memory
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import jax
import numpy as np

from explorer import budget, checkpoints, gallery, learning, model
from explorer.architecture import ConvBlock, DenseLayer
from explorer.data.user_folders import MAX_FOLDER_CLASSES
from explorer.starter_models import STARTER_DIR

CRAFTED = model.ModelSpec(
    (1024, 1024, 3), 10, (ConvBlock(256, kernel_size=11, pool="none"),), head="gap", name="x"
)
PROBE = """
import resource, time
from explorer import checkpoints
from explorer.errors import ExplorerError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    checkpoints.load_checkpoint({path!r})
    outcome = "loaded"
except ExplorerError as error:
    outcome = str(error)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, seconds)
print(outcome)
"""


def crafted_checkpoint(folder: Path) -> Path:
    """Issue 22's crafted checkpoint in ``folder``; returns its path."""
    params = {
        "conv1": {"kernel": np.zeros((11, 11, 3, 256), np.float32), "bias": np.zeros(256)},
        "logits": {"kernel": np.zeros((256, 10), np.float32), "bias": np.zeros(10)},
    }
    params = jax.tree_util.tree_map(lambda array: array.astype(np.float32), params)
    dataset = {"name": "x", "class_names": [str(digit) for digit in range(10)]}
    data = checkpoints.checkpoint_bytes({"params": params}, CRAFTED, dataset, {})
    path = folder / "crafted.msgpack"
    path.write_bytes(data)
    return path


def refusal(path: Path) -> None:
    """Load ``path`` in a fresh process and print its peak RSS before and after, and the time."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PROBE.format(path=str(path)))],
        capture_output=True,
        text=True,
        check=True,
    )
    numbers, outcome = result.stdout.splitlines()[:2]
    before, after, seconds = numbers.split()
    print(f"crafted checkpoint: {path.stat().st_size / 1024:.0f} KB")
    print(f"  peak RSS before loading: {int(before) / 1024:.0f} MB")
    print(f"  peak RSS after loading:  {int(after) / 1024:.0f} MB")
    print(f"  time to refuse: {float(seconds) * 1000:.1f} ms")
    print(f"  message: {outcome}")


def editor_extremes(shape: tuple[int, int, int], classes: int) -> dict[str, model.ModelSpec]:
    """The widest networks the Train page's editor offers on pictures of ``shape``: its
    largest conv block (512 filters, 11×11, stride 1, no pooling) once and twice, and the
    VGG preset's blocks with one and two dense layers of the editor's 4096 units."""
    wide = ConvBlock(512, kernel_size=11, pool="none")
    blocks = model.preset("vgg", shape, classes).conv_blocks
    return {
        "editor: one 512×11×11 conv": model.ModelSpec(shape, classes, (wide,), head="gap"),
        "editor: two 512×11×11 convs": model.ModelSpec(shape, classes, (wide, wide), head="gap"),
        "editor: VGG blocks + dense 4096": model.ModelSpec(
            shape, classes, blocks, (DenseLayer(4096),)
        ),
        "editor: VGG blocks + dense 4096, 4096": model.ModelSpec(
            shape, classes, blocks, (DenseLayer(4096), DenseLayer(4096))
        ),
    }


def networks() -> dict[str, model.ModelSpec]:
    """Every network to print, by a readable name."""
    shapes = [((28, 28, 1), 10), ((32, 32, 3), 10), ((32, 32, 3), MAX_FOLDER_CLASSES)]
    found = {
        f"{name} {'×'.join(map(str, shape))}, {classes} classes": model.preset(name, shape, classes)
        for shape, classes in shapes
        for name in model.PRESETS
    }
    for folder in sorted(p for p in STARTER_DIR.iterdir() if p.is_dir()):
        found[f"starter {folder.name}"] = checkpoints.load_checkpoint(folder).spec
    found["learning lab"] = learning.LAB_SPEC
    found.update(editor_extremes((32, 32, 3), 10))
    for entry in gallery.ARCHITECTURES:
        found[f"gallery {entry.spec.name} (never built)"] = entry.spec
    return found


def figure_rows() -> None:
    """A Markdown table of every network's figures against the budget."""
    limits = budget.BUDGET
    print()
    columns = ("parameters", "multiply-adds / image", "largest activation", "Inspect batch")
    print(f"| network | {' | '.join(columns)} | fits |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| **limit** | {budget.count_words(limits.params)} | {budget.count_words(limits.macs)} "
        f"| {budget.size_words(limits.activation_bytes)} "
        f"| {budget.size_words(limits.batch_activation_bytes)} | |"
    )
    for name, spec in networks().items():
        numbers = budget.figures(spec)
        fits = "yes" if not budget.over_budget(numbers) else "**no**"
        print(
            f"| {name} | {numbers.params:,} | {budget.count_words(numbers.macs)} "
            f"| {budget.size_words(numbers.activation_bytes)} "
            f"| {budget.size_words(numbers.batch_activation_bytes)} | {fits} |"
        )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="budget-bench-") as folder:
        refusal(crafted_checkpoint(Path(folder)))
    figure_rows()


if __name__ == "__main__":
    main()
