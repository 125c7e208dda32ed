"""Training core: learning, determinism, resume, divergence, sharding, the background session."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from explorer.data.registry import load_shapes
from explorer.data.splits import Dataset
from explorer.errors import ExplorerError
from explorer.model import ConvBlock, ModelSpec, Network, init_variables, preset
from explorer.train import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    best_epoch,
    confusion_matrix,
    epoch_counts,
    fit,
    learning_rate_schedule,
    loss_and_accuracy,
    per_class_accuracy,
    state_variables,
    validate_config,
)
from explorer.training_session import (
    FAILED,
    FINISHED,
    STOPPED,
    TrainingSession,
    live_steps_per_call,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL_SPEC = ModelSpec((28, 28, 1), 6, (ConvBlock(8, pool_size=4),), name="small")


@pytest.fixture(scope="module")
def shapes() -> Dataset:
    return load_shapes(seed=0, count=600)


def run(trainer: Trainer, data: Dataset, **kwargs) -> list:
    train, val = trainer.put(data.train), trainer.put(data.validation)
    return list(fit(trainer, train, val, **kwargs))


def params_equal(a, b) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True)
    )


def test_training_reduces_the_loss_beats_chance_and_is_deterministic(shapes):
    config = TrainConfig(batch_size=32, epochs=3, learning_rate=1e-2, seed=3)
    trainer = Trainer(SMALL_SPEC, config, len(shapes.train))
    updates = run(trainer, shapes)
    records = [u.record for u in updates if u.kind == "epoch"]
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records[-1].train_loss < 0.5 * records[0].train_loss
    assert records[-1].val_accuracy > 0.6  # chance is 1/6
    again = run(trainer, shapes)
    assert params_equal(state_variables(updates[-1].state), state_variables(again[-1].state))


def test_training_can_minimise_the_squared_error_and_reports_it(shapes):
    config = TrainConfig(loss="mse", batch_size=32, epochs=2, learning_rate=1e-2, seed=3)
    trainer = Trainer(SMALL_SPEC, config, len(shapes.train))
    updates = run(trainer, shapes)
    records = [u.record for u in updates if u.kind == "epoch"]
    assert records[-1].train_loss < records[0].train_loss < 0.5  # ½Σ(y − p)² starts near 0.42
    assert records[-1].val_accuracy > 0.5
    variables = state_variables(updates[-1].state)
    images = shapes.validation.images.astype(np.float32) / 255.0
    logits = np.asarray(Network(SMALL_SPEC).apply(variables, images, train=False), np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    targets = np.eye(6)[shapes.validation.labels]
    expected = 0.5 * ((targets - probabilities) ** 2).sum(-1).mean()
    assert records[-1].val_loss == pytest.approx(expected, rel=1e-4)


def test_an_unknown_loss_is_refused_and_an_old_config_reads_as_cross_entropy():
    with pytest.raises(ExplorerError, match="Unknown loss 'hinge'"):
        validate_config(TrainConfig(loss="hinge"))
    old = TrainConfig().to_dict()
    del old["loss"]
    assert TrainConfig.from_dict(old).loss == "cross-entropy"


def test_epoch_counts_by_hand_match_the_trainer():
    counts = epoch_counts(4000, 128, 3)
    assert (counts.steps_per_epoch, counts.left_out) == (31, 32)  # 31 × 128 = 3968
    assert (counts.total_steps, counts.images_seen) == (93, 93 * 128)
    assert Trainer(SMALL_SPEC, TrainConfig(batch_size=128), 4000).steps_per_epoch == 31
    assert epoch_counts(96, 32, 1).left_out == 0


def test_the_best_epoch_is_the_first_with_the_highest_validation_accuracy():
    assert best_epoch([0.5, 0.7, 0.7, 0.6]) == 2
    assert best_epoch([0.9]) == 1


def test_stop_and_resume_continues_exactly(shapes):
    config = TrainConfig(batch_size=32, epochs=2, seed=1)
    trainer = Trainer(SMALL_SPEC, config, len(shapes.train), steps_per_call=4)
    assert (trainer.steps_per_epoch, trainer.calls_per_epoch) == (15, 4)
    whole = run(trainer, shapes)
    train, val = trainer.put(shapes.train), trainer.put(shapes.validation)
    first = []
    for update in fit(trainer, train, val):
        first.append(update)
        if update.kind == "step" and update.epoch == 1 and update.call == 2:
            break
    stopped = first[-1]
    rest = list(fit(trainer, train, val, stopped.state, start_epoch=0, start_call=2))
    assert params_equal(state_variables(whole[-1].state), state_variables(rest[-1].state))
    assert [u.record.epoch for u in rest if u.kind == "epoch"] == [1, 2]


def test_each_call_reports_the_mean_loss_of_its_own_steps(shapes):
    """Calls of 4 steps against a run of one step per call (no dropout or augmentation,
    so the random keys do not matter and both runs take the same steps)."""
    config = TrainConfig(batch_size=32, epochs=1, seed=4)
    grouped = run(Trainer(SMALL_SPEC, config, len(shapes.train), steps_per_call=4), shapes)
    single = run(Trainer(SMALL_SPEC, config, len(shapes.train), steps_per_call=1), shapes)
    step_losses = np.array([u.loss for u in single if u.kind == "step"])
    assert len(step_losses) == 15
    calls = [u for u in grouped if u.kind == "step"]
    assert [u.step for u in calls] == [4, 8, 12, 15]
    expected = [step_losses[start : start + 4].mean() for start in (0, 4, 8, 12)]
    np.testing.assert_allclose([u.loss for u in calls], expected, rtol=1e-5)
    assert grouped[-1].kind == "epoch" and math.isnan(grouped[-1].loss)
    assert grouped[-1].record.train_loss == pytest.approx(step_losses.mean(), rel=1e-5)


def test_divergence_stops_with_an_explanation_and_keeps_finite_weights(shapes):
    config = TrainConfig(optimizer="sgd", learning_rate=1e30, schedule="constant", batch_size=32)
    trainer = Trainer(SMALL_SPEC, config, len(shapes.train))
    with pytest.raises(TrainingDiverged, match="learning rate") as caught:
        run(trainer, shapes)
    leaves = jax.tree_util.tree_leaves(state_variables(caught.value.state))
    assert all(np.isfinite(leaf).all() for leaf in leaves)


def test_schedules_by_hand():
    total = 100
    config = TrainConfig(learning_rate=0.1, schedule="cosine")
    cosine = learning_rate_schedule(config, total)
    assert math.isclose(cosine(0), 0.1, rel_tol=1e-6) and cosine(total) < 1e-8
    assert math.isclose(cosine(50), 0.05, rel_tol=1e-5)
    one_cycle = learning_rate_schedule(TrainConfig(learning_rate=0.1, schedule="one-cycle"), total)
    assert math.isclose(one_cycle(30), 0.1, rel_tol=1e-5) and one_cycle(0) < 0.01
    constant = learning_rate_schedule(TrainConfig(learning_rate=0.1, schedule="constant"), total)
    assert constant(77) == pytest.approx(0.1)


def test_loss_with_label_smoothing_by_hand():
    logits = jnp.array([[0.0, math.log(3.0)]])
    labels = jnp.array([1])
    loss, accuracy = loss_and_accuracy(logits, labels, 2)
    assert float(loss) == pytest.approx(-math.log(0.75), rel=1e-5) and float(accuracy) == 1.0
    smoothed, _ = loss_and_accuracy(logits, labels, 2, smoothing=0.2)
    expected = -0.1 * math.log(0.25) - 0.9 * math.log(0.75)
    assert float(smoothed) == pytest.approx(expected, rel=1e-5)


def test_confusion_matrix_and_per_class_accuracy_by_hand():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    accuracy = per_class_accuracy(matrix)
    np.testing.assert_allclose(accuracy[:3], [0.5, 1.0, 2 / 3])
    assert np.isnan(accuracy[3])


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (TrainConfig(optimizer="lbfgs"), "optimizer"),
        (TrainConfig(learning_rate=0.0), "learning rate"),
        (TrainConfig(batch_size=10_000), "fewer than one batch"),
    ],
)
def test_impossible_settings_are_refused(shapes, config, message):
    with pytest.raises(ExplorerError, match=message):
        Trainer(SMALL_SPEC, config, len(shapes.train))


def test_evaluation_counts_every_image_once(shapes):
    trainer = Trainer(SMALL_SPEC, TrainConfig(batch_size=32), len(shapes.train))
    state = trainer.init_state()
    result = trainer.evaluate(state_variables(state), trainer.put(shapes.validation))
    assert result.predictions.shape == (len(shapes.validation),)
    expected = np.mean(result.predictions == shapes.validation.labels)
    assert result.accuracy == pytest.approx(expected)
    assert result.loss > 0


SHARDED_SCRIPT = textwrap.dedent(
    """
    import json, jax, numpy as np
    from explorer.data.registry import load_shapes
    from explorer.model import ConvBlock, DenseLayer, ModelSpec
    from explorer.train import TrainConfig, Trainer, fit, state_variables

    data = load_shapes(seed=0, count=300)
    spec = ModelSpec((28, 28, 1), 6, (ConvBlock(4, batch_norm=True, pool_size=4),),
                     (DenseLayer(8, dropout=0.2),))
    config = TrainConfig(batch_size=16, epochs=1, seed=2)
    results = {}
    for devices in (jax.devices()[:1], jax.devices()[:2]):
        trainer = Trainer(spec, config, len(data.train), devices=devices)
        updates = list(fit(trainer, trainer.put(data.train), trainer.put(data.validation)))
        variables = state_variables(updates[-1].state)
        results[len(devices)] = {
            "leaves": [np.ravel(x).tolist() for x in jax.tree_util.tree_leaves(variables)],
            "devices_used": len(updates[-1].state.params["logits"]["kernel"].sharding.device_set),
            "val_accuracy": updates[-1].record.val_accuracy,
        }
    print(json.dumps({"devices": len(jax.devices()), "results": results}))
    """
)


def test_sharded_training_equals_single_device_training():
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    completed = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = json.loads(completed.stdout.strip().splitlines()[-1])
    assert output["devices"] == 2
    one, two = output["results"]["1"], output["results"]["2"]
    assert (one["devices_used"], two["devices_used"]) == (1, 2)
    for a, b in zip(one["leaves"], two["leaves"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert one["val_accuracy"] == pytest.approx(two["val_accuracy"], abs=0.02)


def test_session_trains_in_the_background_and_saves_the_best(shapes, tmp_path):
    config = TrainConfig(batch_size=32, epochs=2, learning_rate=1e-2)
    session = TrainingSession(shapes, SMALL_SPEC, config, tmp_path / "run", steps_per_call=5)
    assert session.snapshot().status == "idle"
    session.start()
    assert session.wait(timeout=120)
    snapshot = session.snapshot()
    assert snapshot.status == FINISHED, snapshot.error
    assert [r.epoch for r in snapshot.history] == [1, 2]
    assert snapshot.fraction_done == 1.0 and snapshot.images_per_second > 0
    assert snapshot.best_val_accuracy == max(r.val_accuracy for r in snapshot.history)
    assert (tmp_path / "run" / "checkpoint.msgpack").is_file()
    test = session.evaluate_test()
    assert test.predictions.shape == (len(shapes.test),)
    with pytest.raises(ExplorerError):
        session.start()


def test_session_records_a_loss_point_per_call_and_filters_per_epoch(shapes):
    config = TrainConfig(batch_size=32, epochs=2, learning_rate=1e-2, seed=5)
    session = TrainingSession(shapes, SMALL_SPEC, config, steps_per_call=5)
    session.start()
    assert session.wait(timeout=120)
    snapshot = session.snapshot()
    assert snapshot.status == FINISHED, snapshot.error
    # 480 images / 32 = 15 steps per epoch, 3 calls of 5: six points, more than the epochs
    done = [x for x, _ in snapshot.loss_points]
    np.testing.assert_allclose(done, [1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
    for epoch, record in enumerate(snapshot.history):
        losses = [loss for _, loss in snapshot.loss_points[3 * epoch : 3 * epoch + 3]]
        assert np.mean(losses) == pytest.approx(record.train_loss, rel=1e-5)
    assert len(snapshot.filters) == 3  # initialisation + one per epoch
    initial = init_variables(SMALL_SPEC, config.seed)["params"]["conv1"]["kernel"]
    np.testing.assert_array_equal(snapshot.filters[0], initial)
    best_epoch = 1 + int(np.argmax([r.val_accuracy for r in snapshot.history]))
    np.testing.assert_array_equal(
        snapshot.filters[best_epoch], session.best_variables["params"]["conv1"]["kernel"]
    )
    assert not np.allclose(snapshot.filters[0], snapshot.filters[2])
    assert all(kernel.shape == (3, 3, 1, 8) for kernel in snapshot.filters)


def test_session_of_an_mlp_has_no_filters_to_show(shapes):
    spec = preset("mlp", (28, 28, 1), 6)
    session = TrainingSession(shapes, spec, TrainConfig(batch_size=32, epochs=1))
    session.start()
    assert session.wait(timeout=120)
    snapshot = session.snapshot()
    assert snapshot.status == FINISHED and snapshot.filters == ()
    assert len(snapshot.loss_points) > len(snapshot.history)


@pytest.mark.parametrize(
    ("steps_per_epoch", "expected"), [(0, 1), (5, 1), (18, 2), (100, 10), (468, 32)]
)
def test_live_steps_per_call_gives_about_ten_updates_per_epoch(steps_per_epoch, expected):
    assert live_steps_per_call(steps_per_epoch) == expected


def test_session_stop_then_resume_finishes(shapes):
    config = TrainConfig(batch_size=32, epochs=3)
    session = TrainingSession(shapes, SMALL_SPEC, config, steps_per_call=1)
    session.start()
    session.stop()
    assert session.wait(timeout=120)
    assert session.snapshot().status == STOPPED
    stopped_at = session.snapshot().fraction_done
    session.resume()
    assert session.wait(timeout=120)
    snapshot = session.snapshot()
    assert snapshot.status == FINISHED and stopped_at < 1.0
    assert [r.epoch for r in snapshot.history] == [1, 2, 3]


def test_session_reports_divergence(shapes):
    config = TrainConfig(optimizer="sgd", learning_rate=1e30, schedule="constant", batch_size=32)
    session = TrainingSession(shapes, SMALL_SPEC, config)
    session.start()
    assert session.wait(timeout=120)
    snapshot = session.snapshot()
    assert snapshot.status == FAILED and "learning rate" in snapshot.error
