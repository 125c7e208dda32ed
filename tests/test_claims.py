"""A run that did not learn says so, with the cause its numbers show, over random runs."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer import claims

FRACTIONS = st.floats(0.0, 1.0)
LOSSES = st.lists(st.floats(0.0, 20.0) | st.just(math.nan), min_size=1, max_size=30)
RATES = st.floats(1e-6, 10.0) | st.sampled_from([1e-4, 3e-4, 1e-3, 0.1, 0.3, 1.0, 3.0])
OPTIMIZERS = st.sampled_from(sorted(claims.LEARNING_RATE_ENDS))


@given(FRACTIONS, st.floats(0.01, 1.0), OPTIMIZERS, RATES, LOSSES)
def test_the_note_is_stated_only_when_the_run_did_not_learn(best, chance, optimizer, rate, losses):
    note = claims.did_not_learn_note(best, chance, optimizer, rate, losses)
    assert (note is None) == claims.learned(best, chance)
    if note is None:
        return
    assert note.startswith(f"The run did not learn: its best validation accuracy, {best:.1%}, ")
    assert f"chance ({chance:.1%} by always answering the most common class)" in note
    low, high = claims.LEARNING_RATE_ENDS[optimizer]
    finite = all(math.isfinite(loss) for loss in losses)
    assert ("diverged" in note) == (not finite)
    blames_rate = finite and not low < rate < high
    assert ("learning rate" in note) == blames_rate
    if blames_rate:
        end = "high" if rate >= high else "low"
        assert f"({rate:g}) is at the {end} end for {optimizer}" in note
    elif finite and len(losses) > 1:
        assert f"from {losses[0]:.3g} to {losses[-1]:.3g} over {len(losses)} epochs" in note


def test_adam_at_the_top_of_the_page_s_range_is_blamed_on_the_learning_rate():
    note = claims.did_not_learn_note(0.082, 0.1, "adam", 3.0, [14.2])
    assert note == (
        "The run did not learn: its best validation accuracy, 8.2%, is not clearly above "
        "chance (10.0% by always answering the most common class). The learning rate (3) is "
        "at the high end for adam: the weights jump past every good value. Lower it (e.g. by "
        "10×)."
    )


def test_a_middling_rate_is_not_blamed_and_the_losses_speak():
    note = claims.did_not_learn_note(0.12, 0.1, "sgd", 0.01, [2.30, 2.29, 2.28])
    assert "learning rate" not in note
    assert note.endswith("The training loss barely changed (from 2.3 to 2.28 over 3 epochs).")


def test_every_optimizer_has_its_learning_rate_ends():
    from explorer import train

    assert sorted(claims.LEARNING_RATE_ENDS) == sorted(train.OPTIMIZERS)
    assert all(low < high for low, high in claims.LEARNING_RATE_ENDS.values())


FILTER_STACKS = st.tuples(
    st.sampled_from([1, 3, 5]),  # k
    st.sampled_from([1, 3]),  # channels
    st.integers(1, 40),  # filters
    st.integers(0, 2**32 - 1),  # seed
    st.floats(1e-4, 2.0),  # how far the weights move, relative to their spread
)


def filter_stacks(k, channels, filters, seed, step):
    """Kernels (k, k, C, F) at init and after a random move of about ``step`` of their size."""
    rng = np.random.default_rng(seed)
    initial = rng.normal(0.0, 0.3, (k, k, channels, filters))
    return initial, initial + rng.normal(0.0, 0.3 * step, initial.shape)


@given(FILTER_STACKS, st.integers(1, 50))
def test_the_film_s_change_sentence_states_its_numbers(stack, epoch):
    initial, latest = filter_stacks(*stack)
    change = latest - initial
    limit = float(np.abs(change.mean(axis=2)).max())
    note = claims.filter_change_note(initial, latest, epoch, limit)
    moved = math.sqrt(((latest - initial) ** 2).sum()) / math.sqrt((initial**2).sum())
    assert claims.relative_change(initial, latest) == pytest.approx(moved, rel=1e-9)
    assert f"drawn at its own scale, ±{limit:.2g}." in note
    assert f"By epoch {epoch} the first-layer filters moved {moved:.1%} of their size" in note
    shows = "enough to show in the weights themselves too" in note
    assert shows == (moved >= claims.VISIBLE_CHANGE) == claims.visible_in_weights(moved)
    assert shows != ("too little to show in the weights themselves" in note)
    assert claims.filter_change_title(limit) == f"Change since initialisation, scale ±{limit:.2g}"


def test_three_epochs_of_a_few_percent_say_the_change_comes_first():
    initial = np.ones((3, 3, 1, 4))
    latest = initial.copy()
    latest[0, 0, 0, 0] += 0.3  # ‖ΔK‖ = 0.3, ‖K‖ = 6: 5%
    assert claims.filter_change_note(initial, latest, 3, 0.3) == (
        "The change since initialisation is drawn at its own scale, ±0.3. By epoch 3 the "
        "first-layer filters moved 5.0% of their size (relative L2, ‖K − K_init‖ / "
        "‖K_init‖): too little to show in the weights themselves, so the change comes first."
    )
