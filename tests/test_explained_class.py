"""The class "Why this prediction?" explains: a new input explains its own prediction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from explorer.explained_class import (
    Explained,
    class_label,
    class_to_explain,
    input_digest,
    maps_caption,
    percent,
)

CLASSES = 4
DIGESTS = ("picture a", "picture b")


def test_without_a_previous_choice_the_prediction_is_explained():
    for predicted in range(CLASSES):
        assert class_to_explain("picture a", predicted, None, CLASSES) == predicted


@pytest.mark.parametrize(
    ("digest", "last_digest", "predicted", "shown"),
    itertools.product(DIGESTS, DIGESTS, range(CLASSES), range(-2, CLASSES + 2)),
)
def test_a_choice_is_kept_only_for_its_own_input_and_only_when_it_is_a_class(
    digest, last_digest, predicted, shown
):
    """Every combination: same or another input, each prediction, each shown index."""
    chosen = class_to_explain(digest, predicted, Explained(last_digest, shown), CLASSES)
    kept = digest == last_digest and 0 <= shown < CLASSES
    assert chosen == (shown if kept else predicted)
    assert 0 <= chosen < CLASSES


def test_a_pick_survives_reruns_and_a_new_picture_returns_to_its_prediction():
    """The sequence of the lecture: pick class 3 for a drawing, rerun, then draw on."""
    shown = class_to_explain("one", 1, None, CLASSES)
    assert shown == 1
    picked = 3
    for _ in range(3):
        assert class_to_explain("one", 1, Explained("one", picked), CLASSES) == picked
    assert class_to_explain("one plus a stroke", 2, Explained("one", picked), CLASSES) == 2


def test_the_digest_names_the_network_and_the_picture_it_sees():
    picture = np.zeros((28, 28, 1), np.float32)
    changed = picture.copy()
    changed[5, 7, 0] = 1.0
    digest = input_digest("model a", picture)
    assert input_digest("model a", picture.copy()) == digest, "the same input, the same name"
    assert input_digest("model b", picture) != digest, "another network"
    assert input_digest("model a", changed) != digest, "one pixel more"
    assert input_digest("model a", picture.reshape(28, 1, 28)) != digest, "another shape"
    assert input_digest("model a", picture.astype(np.float64)) != digest, "another type"
    assert input_digest("model a", np.asfortranarray(changed[..., 0])) == input_digest(
        "model a", np.ascontiguousarray(changed[..., 0])
    ), "memory layout does not matter"


@pytest.mark.parametrize(
    ("probability", "text"),
    [(0.966, "96.6%"), (0.9999, "100.0%"), (0.0, "0.0%"), (0.81449, "81.4%"), (1.0, "100.0%")],
)
def test_a_class_reads_with_the_percent_the_prediction_shows(probability, text):
    assert percent(probability) == text
    assert class_label("2", probability) == f"2 ({text})"


def test_the_caption_names_the_explained_class_in_every_sentence():
    caption = maps_caption("2", 0.966, 2, 6)
    sentences = [s for s in caption.split(". ") if s]
    assert len(sentences) == 4
    assert all("“2”" in sentence for sentence in sentences)
    assert "(96.6%)" in caption and "block 2" in caption and "6×6 px" in caption
    without = maps_caption("cat", 0.5, None, 4)
    assert "Grad-CAM" not in without and without.count("“cat”") == 3
