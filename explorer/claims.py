"""Sentences that state a result, each a function of its numbers with its predicate.

Whether a run learned (:func:`learned`) and, when it did not, what its numbers point to
(:func:`did_not_learn_note`): the same sentence on the Train page and from
``python -m explorer.train``. How far the first-layer filters moved and whether that shows
in the weights (:func:`filter_change_note`, :func:`visible_in_weights`): the Train page's
film strip. What a confusion-matrix cell holds, and whether it is the network's most
common mistake (:func:`confusion_cell_sentence`), on Inspect.
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


VISIBLE_CHANGE = 0.3
"""First-layer filters that have moved less than this share of their size since
initialisation (:func:`relative_change`) look like their initialisation when each tile is
drawn at its own scale: 3×3 filters move 4–7% in three epochs."""


def relative_change(initial: np.ndarray, latest: np.ndarray) -> float:
    """How far kernels moved, ‖K_e − K_0‖ / ‖K_0‖ (Frobenius norms over every weight);
    arrays of one shape, e.g. (k, k, C, F). Zero initial kernels count as size 1."""
    initial = np.asarray(initial, np.float64)
    size = float(np.linalg.norm(initial)) or 1.0
    return float(np.linalg.norm(np.asarray(latest, np.float64) - initial)) / size


def visible_in_weights(moved: float) -> bool:
    """Whether a :func:`relative_change` shows in the weights themselves (see
    :data:`VISIBLE_CHANGE`)."""
    return moved >= VISIBLE_CHANGE


def filter_change_title(limit: float) -> str:
    """The title of a film strip of changes drawn on one colour scale from −limit to limit."""
    return f"Change since initialisation, scale ±{limit:.2g}"


def filter_change_note(initial: np.ndarray, latest: np.ndarray, epoch: int, limit: float) -> str:
    """What the change film shows, from its numbers.

    Args:
        initial: the first-layer kernels at initialisation, (k, k, C, F).
        latest: the same kernels after epoch ``epoch`` (≥ 1).
        limit: the largest |change| drawn, the ends of the change film's colour scale.
    """
    moved = relative_change(initial, latest)
    seen = (
        "enough to show in the weights themselves too"
        if visible_in_weights(moved)
        else "too little to show in the weights themselves, so the change comes first"
    )
    return (
        f"The change since initialisation is drawn at its own scale, ±{limit:.2g}. By epoch "
        f"{epoch} the first-layer filters moved {moved:.1%} of their size (relative L2, "
        f"‖K − K_init‖ / ‖K_init‖): {seen}."
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
