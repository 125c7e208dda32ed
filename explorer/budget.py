"""One budget for every model built from a description, checked before any array exists.

A network description (an :class:`explorer.model.ModelSpec`) is read from files that
anyone can write: a 375 KB checkpoint can describe a network whose forward pass needs
tens of gigabytes. Its cost is therefore counted from the description alone, by the
arithmetic of :func:`explorer.architecture.steps` (no array, no tracing, no forward
pass), and refused when a figure is over :data:`BUDGET`:

- parameters: trainable scalars (float32 each);
- multiply-adds per image, of the convolutions and dense layers;
- the largest activation: the most values one image's tensor holds at any stage of the
  forward pass, the input included, as float32 bytes;
- the activations of a forward pass over Inspect's batch (:data:`INSPECT_BATCH`
  images) with every stage recorded: the input and every stage's output together, as
  float32 bytes.

Loading or importing a checkpoint, creating a model's variables and the Train page's
architecture editor all call :func:`check_budget`. The ImageNet gallery's networks are
only counted, never built, and are far over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.architecture import steps
from explorer.errors import ExplorerError

INSPECT_BATCH = 500
"""Images per forward pass of Inspect's test-set views (probabilities, top images)."""
BYTES_PER_VALUE = 4
"""float32."""


@dataclass(frozen=True)
class Budget:
    """Limits on a model's :class:`Figures`: parameters, multiply-adds per image, bytes of
    the largest activation of one image, bytes of all activations of :data:`INSPECT_BATCH`
    images."""

    params: int
    macs: int
    activation_bytes: int
    batch_activation_bytes: int


BUDGET = Budget(
    params=20_000_000,
    macs=500_000_000,
    activation_bytes=4 * 2**20,
    batch_activation_bytes=3 * 2**30,
)
"""The budget of every model the app builds. The largest preset on the largest dataset
(VGG-style on 32×32×3 pictures of 100 classes) needs 1.1 million parameters, 26 million
multiply-adds, 128 KB at its largest activation and 600 MB for Inspect's batch: the
limits are about 18×, 20×, 32× and 5× that (README, "Safe for a class")."""


@dataclass(frozen=True)
class Figures:
    """What a model costs, counted from its description (see the module docstring).

    Attributes:
        params: trainable parameters.
        macs: multiply-adds per image (forward).
        activation_bytes: bytes of the largest activation of one image.
        largest: the stage that holds it, e.g. "block 1 · convolution" or "input".
        batch_activation_bytes: bytes of every stage's output for :data:`INSPECT_BATCH`
            images.
    """

    params: int
    macs: int
    activation_bytes: int
    largest: str
    batch_activation_bytes: int


def figures(spec: Any) -> Figures:
    """The :class:`Figures` of a valid model description (see
    :func:`explorer.model.validate_spec`), by integer arithmetic on its steps alone."""
    walk = steps(spec)
    sizes = [("input", math.prod(spec.input_shape))]
    sizes += [(step.title, math.prod(step.shape)) for step in walk]
    largest, values = max(sizes, key=lambda item: item[1])
    return Figures(
        params=sum(step.params for step in walk),
        macs=sum(step.macs for step in walk),
        activation_bytes=values * BYTES_PER_VALUE,
        largest=largest,
        batch_activation_bytes=sum(size for _, size in sizes) * BYTES_PER_VALUE * INSPECT_BATCH,
    )


def size_words(count: int) -> str:
    """A byte count for people: "375 KB", "64 MB", "2.1 GB" (binary units)."""
    for unit, scale in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{count} bytes"


def count_words(count: int) -> str:
    """A large count for people: "61,706", "2.3 million", "12 billion"."""
    for unit, scale in (("trillion", 10**12), ("billion", 10**9), ("million", 10**6)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:,.0f} {unit}"
    return f"{count:,}"


def over_budget(numbers: Figures, budget: Budget = BUDGET) -> list[str]:
    """One sentence for each figure over its limit, naming the figure and the limit; empty
    when the model fits."""
    problems = []
    if numbers.params > budget.params:
        problems.append(
            f"This model has {count_words(numbers.params)} parameters; "
            f"the limit is {count_words(budget.params)}."
        )
    if numbers.macs > budget.macs:
        problems.append(
            f"This model needs {count_words(numbers.macs)} multiply-adds per image; "
            f"the limit is {count_words(budget.macs)}."
        )
    if numbers.activation_bytes > budget.activation_bytes:
        problems.append(
            f"This model needs {size_words(numbers.activation_bytes)} of activations per "
            f"image at its largest ({numbers.largest}); the limit is "
            f"{size_words(budget.activation_bytes)}."
        )
    if numbers.batch_activation_bytes > budget.batch_activation_bytes:
        problems.append(
            f"A forward pass over {INSPECT_BATCH} images needs "
            f"{size_words(numbers.batch_activation_bytes)} of activations; the limit is "
            f"{size_words(budget.batch_activation_bytes)}."
        )
    return problems


def check_budget(spec: Any, budget: Budget = BUDGET) -> Figures:
    """The figures of a valid model description, when it fits ``budget``.

    Raises:
        ExplorerError: naming every figure over its limit, and the limit.
    """
    numbers = figures(spec)
    problems = over_budget(numbers, budget)
    if problems:
        raise ExplorerError(" ".join(problems))
    return numbers
