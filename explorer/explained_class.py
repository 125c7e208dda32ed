"""Which class "Why this prediction?" explains, and how its choices read.

The saliency, Grad-CAM and occlusion maps explain the predicted class of the input on
screen, unless the user picked another class for this same input. A new input (another
stroke, picture or network) starts again from its own prediction, so the maps never
explain a class chosen for a picture that is gone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Explained:
    """The class explained for one input.

    Attributes:
        digest: names the input, see :func:`input_digest`.
        index: the class, an index into the network's class names.
    """

    digest: str
    index: int


def input_digest(model_key: str, prepared: np.ndarray) -> str:
    """A short name of what the network is asked about: its weights' fingerprint
    ``model_key`` and the picture as it sees it (``prepared``, any array)."""
    picture = np.ascontiguousarray(prepared)
    content = hashlib.blake2b(picture.tobytes(), digest_size=16).hexdigest()
    return f"{model_key}:{content}:{picture.dtype}{picture.shape}"


def class_to_explain(digest: str, predicted: int, previous: Explained | None, classes: int) -> int:
    """The class to explain for the input named ``digest``.

    ``previous`` is the class the selector held for the input it showed last (the
    prediction, or the user's pick), None when it showed none. That class is kept only
    while the input is the same and it is one of the ``classes``; otherwise the
    ``predicted`` class is explained.
    """
    if previous is not None and previous.digest == digest and 0 <= previous.index < classes:
        return previous.index
    return predicted


def percent(probability: float) -> str:
    """A probability as the prediction and the class choices show it, e.g. "96.6%"."""
    return f"{probability:.1%}"


def class_label(name: str, probability: float) -> str:
    """A class as its choice reads, e.g. "2 (96.6%)"."""
    return f"{name} ({percent(probability)})"


def maps_caption(name: str, probability: float, block: int | None, patch: int) -> str:
    """What the maps of class ``name`` show; ``block`` is Grad-CAM's block (None: no
    Grad-CAM), ``patch`` the side of occlusion's black square in pixels."""
    quoted = f"“{name}”"
    grad_cam = (
        f" Grad-CAM: where block {block}'s maps hold evidence for {quoted}."
        if block is not None
        else ""
    )
    return (
        f"The maps explain class {quoted} ({percent(probability)}). Saliency: how strongly "
        f"each pixel moves the score of {quoted}.{grad_cam} Occlusion: the probability of "
        f"{quoted} lost when a {patch}×{patch} px black square covers each place (red: lost, "
        "blue: gained)."
    )
