"""Sentences that state a result, each a function of its numbers with its predicate.

Whether a run learned (:func:`learned`) and, when it did not, what its numbers point to
(:func:`did_not_learn_note`): the same sentence on the Train page and from
``python -m explorer.train``. What a confusion-matrix cell holds, and whether it is the
network's most common mistake (:func:`confusion_cell_sentence`), on Inspect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LEARNED_SHARE = 0.1
"""A run has learned when its best validation accuracy closes at least this share of the
gap between chance and 100% (for ten balanced classes: 10% → at least 19%)."""

LEARNING_RATE_ENDS = {
    "sgd": (1e-3, 1.0),
    "momentum": (1e-4, 0.3),
    "adam": (1e-4, 0.1),
    "adamw": (1e-4, 0.1),
}
"""Per optimizer, (low, high): a learning rate at or below ``low`` hardly moves the
weights in a few epochs, one at or above ``high`` makes them jump past every good value.
Only beyond these does a run that did not learn blame its learning rate."""
FLAT_LOSS_SHARE = 0.9
"""A training loss that ends above this share of where it started barely changed."""


def chance_accuracy(labels: np.ndarray) -> float:
    """Accuracy of always answering the most common class of int ``labels`` (N,), N ≥ 1."""
    return float(np.bincount(labels).max() / len(labels))


def learned(best_accuracy: float, chance: float) -> bool:
    """Whether a best validation accuracy is clearly above ``chance`` (see
    :data:`LEARNED_SHARE`)."""
    return best_accuracy >= chance + LEARNED_SHARE * (1.0 - chance)


def _likely_cause(optimizer: str, learning_rate: float, train_losses: Sequence[float]) -> str:
    """What the settings and the training losses (one per epoch, ≥ 1) say about a run that
    did not learn: the learning rate only when it is at an end of its optimizer's range."""
    if not all(math.isfinite(loss) for loss in train_losses):
        return "The training loss became NaN or infinite: the weights diverged."
    low, high = LEARNING_RATE_ENDS[optimizer]
    if learning_rate >= high:
        return (
            f"The learning rate ({learning_rate:g}) is at the high end for {optimizer}: the "
            "weights jump past every good value. Lower it (e.g. by 10×)."
        )
    if learning_rate <= low:
        return (
            f"The learning rate ({learning_rate:g}) is at the low end for {optimizer}: the "
            "weights hardly move. Raise it (e.g. by 10×) or train for more epochs."
        )
    epochs, first, last = len(train_losses), train_losses[0], train_losses[-1]
    if epochs == 1:
        return f"It trained for one epoch only (training loss {last:.3g}): train for more."
    span = f"from {first:.3g} to {last:.3g} over {epochs} epochs"
    if last > first:
        return f"The training loss rose {span}."
    if last > FLAT_LOSS_SHARE * first:
        return f"The training loss barely changed ({span})."
    return f"The training loss fell {span}, but the validation accuracy did not follow."


def did_not_learn_note(
    best_accuracy: float,
    chance: float,
    optimizer: str,
    learning_rate: float,
    train_losses: Sequence[float],
) -> str | None:
    """None when the run :func:`learned`; else why it did not, from its numbers.

    Args:
        best_accuracy: the best validation accuracy (a fraction).
        chance: :func:`chance_accuracy` of the validation labels.
        optimizer: a key of :data:`LEARNING_RATE_ENDS`.
        learning_rate: the peak learning rate.
        train_losses: the mean training loss of each finished epoch (at least one).
    """
    if learned(best_accuracy, chance):
        return None
    return (
        f"The run did not learn: its best validation accuracy, {best_accuracy:.1%}, is not "
        f"clearly above chance ({chance:.1%} by always answering the most common class). "
        + _likely_cause(optimizer, learning_rate, train_losses)
    )


def confusion_cell_sentence(
    matrix: np.ndarray, cell: tuple[int, int] | None, names: Sequence[str]
) -> str:
    """What the cell (true class, predicted class) of a confusion matrix (int (classes,
    classes), row = true class) holds, out of its true class's test images; whether it is
    the most common mistake (the off-diagonal cell with the most images, or one of several
    tied). With ``cell`` None, whether there is any mistake at all."""
    counts = np.asarray(matrix, dtype=np.int64)
    off_diagonal = counts[~np.eye(len(counts), dtype=bool)]
    most = int(off_diagonal.max()) if off_diagonal.size else 0
    if cell is None:
        if most == 0:
            return (
                f"Every one of the {int(counts.sum()):,} test images is on the diagonal: "
                "the network classified them all correctly, so there is no mistake to open."
            )
        return "Choose a cell of the confusion matrix to see its test images."
    true, predicted = cell
    count, total = int(counts[true, predicted]), int(counts[true].sum())
    share = f" ({count / total:.1%})" if total else ""
    sentence = (
        f"“{names[true]}” predicted as “{names[predicted]}”: {count:,} of the {total:,} test "
        f"images of “{names[true]}”{share}"
    )
    if true == predicted:
        return sentence + ", the ones it got right."
    if count == 0:
        return sentence + ": no test image falls in this cell."
    if count < most:
        return sentence + f". The most common mistake holds {most:,}."
    tied = int((off_diagonal == most).sum())
    if tied == 1:
        return sentence + ", the network's most common mistake."
    return sentence + f", one of {tied} cells tied as the most common mistake."
