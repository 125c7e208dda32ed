"""Training settings, tiny datasets and honest messages, below the CLI (issue 13, part 5):
the same rules protect the Train page, which builds its runs from these functions."""

from __future__ import annotations

import io
import math
import zipfile

import jax
import numpy as np
import pytest
from PIL import Image

from explorer.data.registry import load_shapes
from explorer.data.user_folders import load_image_folder
from explorer.errors import ExplorerError
from explorer.model import ConvBlock, ModelSpec
from explorer.train import (
    MAX_SEED,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    chance_accuracy,
    fit,
    learned,
    validate_config,
)
from explorer.training_session import FINISHED, TrainingSession

SMALL_SPEC = ModelSpec((28, 28, 1), 6, (ConvBlock(8, pool_size=4),), name="small")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": math.nan}, "learning rate must be a positive number; nan"),
        ({"learning_rate": math.inf}, "learning rate must be a positive number; inf"),
        ({"learning_rate": -1.0}, "learning rate must be a positive number; -1"),
        ({"weight_decay": math.nan}, "Weight decay must be a number ≥ 0 (0 turns it off); nan"),
        ({"weight_decay": math.inf}, "Weight decay must be a number ≥ 0"),
        ({"weight_decay": -1e-4}, "Weight decay must be a number ≥ 0"),
        ({"momentum": 1.0}, "Momentum must be in"),
        ({"momentum": math.nan}, "Momentum must be in"),
        ({"label_smoothing": math.nan}, "Label smoothing must be in"),
        ({"seed": -1}, f"seed must be a whole number from 0 to {MAX_SEED}"),
        ({"seed": 2**70}, f"seed must be a whole number from 0 to {MAX_SEED}"),
    ],
)
def test_each_setting_is_refused_with_its_own_message(changes, message):
    with pytest.raises(ExplorerError) as refused:
        validate_config(TrainConfig(**changes))
    assert message in str(refused.value)


def test_the_extreme_valid_settings_pass():
    validate_config(TrainConfig(seed=MAX_SEED, weight_decay=0.0, momentum=0.0, learning_rate=1e3))
    validate_config(TrainConfig(seed=0, label_smoothing=0.999))


def test_chance_is_the_share_of_the_most_common_class():
    assert chance_accuracy(np.array([0, 1, 1, 2])) == 0.5
    assert chance_accuracy(np.array([3, 3, 3])) == 1.0
    assert chance_accuracy(np.repeat(np.arange(10), 7)) == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("accuracy", "chance", "expected"),
    [
        (0.19, 0.1, True),
        (0.189, 0.1, False),
        (0.1, 0.1, False),
        (0.55, 0.5, True),
        (0.54, 0.5, False),
        (0.25, 1 / 6, True),
        (0.2167, 1 / 6, False),
    ],
)
def test_learned_means_a_tenth_of_the_way_from_chance_to_perfect(accuracy, chance, expected):
    assert learned(accuracy, chance) is expected


def five_per_class(side: int = 12) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in (("dark", 20), ("bright", 230)):
            for index in range(5):
                picture = io.BytesIO()
                Image.fromarray(np.full((side, side), value, np.uint8)).save(picture, "PNG")
                archive.writestr(f"{name}/{index}.png", picture.getvalue())
    return buffer.getvalue()


def test_five_images_per_class_give_non_empty_validation_and_test_splits():
    dataset = load_image_folder(five_per_class(), seed=0, side=12)
    assert (len(dataset.train), len(dataset.validation), len(dataset.test)) == (6, 2, 2)
    for split in (dataset.validation, dataset.test):
        assert sorted(split.labels.tolist()) == [0, 1]


def test_the_train_page_session_tests_a_five_per_class_dataset():
    """The UI path: TrainingSession then evaluate_test, which raised "Slice size ..."."""
    dataset = load_image_folder(five_per_class(28), seed=0, side=28)
    spec = ModelSpec((28, 28, 1), 2, (ConvBlock(4, pool_size=4),), name="tiny-2")
    session = TrainingSession(dataset, spec, TrainConfig(batch_size=2, epochs=2))
    session.start()
    assert session.wait(timeout=120)
    assert session.snapshot().status == FINISHED, session.snapshot().error
    test = session.evaluate_test()
    assert test.predictions.shape == (2,) and 0.0 <= test.accuracy <= 1.0


def test_evaluating_an_empty_split_is_an_explorer_error():
    shapes = load_shapes(seed=0, count=120)
    trainer = Trainer(SMALL_SPEC, TrainConfig(batch_size=32), len(shapes.train))
    empty = trainer.put(type(shapes.test)(shapes.test.images[:0], shapes.test.labels[:0]))
    variables = jax.device_get({"params": trainer.init_state().params})
    with pytest.raises(ExplorerError, match="no images"):
        trainer.evaluate(variables, empty)


@pytest.fixture(scope="module")
def shapes():
    return load_shapes(seed=0, count=600)


def diverging(shapes, **fit_kwargs) -> TrainingDiverged:
    config = TrainConfig(
        optimizer="sgd", learning_rate=1e30, schedule="constant", batch_size=32, epochs=3
    )
    trainer = Trainer(SMALL_SPEC, config, len(shapes.train))
    train, validation = trainer.put(shapes.train), trainer.put(shapes.validation)
    with pytest.raises(TrainingDiverged) as caught:
        list(fit(trainer, train, validation, **fit_kwargs))
    return caught.value


def test_a_divergence_before_any_epoch_promises_no_weights(shapes):
    message = str(diverging(shapes))
    assert message.startswith("Training stopped in epoch 1: ")
    assert message.endswith("No epoch had finished, so there are no trained weights to keep.")


def test_a_divergence_after_good_epochs_names_the_weights_its_callers_keep(shapes):
    """Resumed in epoch 2 with a best validation accuracy of 62.5% from epoch 1."""
    error = diverging(shapes, start_epoch=1, best_accuracy=0.625)
    assert str(error).startswith("Training stopped in epoch 2: ")
    assert str(error).endswith(
        "The weights of the best finished epoch (validation accuracy 62.5%) are kept."
    )
