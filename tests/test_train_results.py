"""The Train page's results say when a run did not learn, with the CLI's sentence, in the
results and in the runs table."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer import claims, model, train
from explorer.data.registry import load_shapes
from explorer.runs import RunRecord
from explorer.training_session import Snapshot
from explorer.ui import train_page

DATASET = load_shapes(seed=0)


class FinishedSession:
    """A finished training session: one epoch at ``val_accuracy``, tested at ``test``."""

    def __init__(self, val_accuracy: float, test: float):
        record = train.EpochRecord(1, 14.2, 0.1, 15.0, val_accuracy, 1.0, 1000.0)
        self.dataset = DATASET
        self.best_variables = {}
        self._snapshot = Snapshot(
            "finished", 1, 1, history=(record,), best_val_accuracy=val_accuracy
        )
        self._test = test

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def evaluate_test(self) -> train.Evaluation:
        return train.Evaluation(2.3, self._test, np.zeros(len(DATASET.test.labels), np.int64))


def finished_run(val_accuracy: float, test: float) -> RunRecord:
    spec = model.preset("mlp", DATASET.input_shape, len(DATASET.class_names))
    config = train.TrainConfig(optimizer="adam", learning_rate=3.0, epochs=1)
    session = FinishedSession(val_accuracy, test)
    return RunRecord(session, "run-1", DATASET.name, spec, config, "c" * 32, "b" * 32)


def _results_page():
    from explorer.ui import train_page

    train_page.training_results()


@pytest.mark.parametrize(("val_accuracy", "result"), [(0.082, "did not learn"), (0.9, "learned")])
def test_the_results_and_the_runs_table_say_whether_the_run_learned(val_accuracy, result):
    run = finished_run(val_accuracy, 0.096)
    app = AppTest.from_function(_results_page, default_timeout=60)
    app.session_state[train_page.TRAINING_KEY] = run
    app.run()
    assert not app.exception
    chance = claims.chance_accuracy(DATASET.validation.labels)
    note = claims.did_not_learn_note(val_accuracy, chance, "adam", 3.0, [14.2])
    assert train_page.did_not_learn_note(run) == note
    assert [warning.value for warning in app.warning] == ([] if note is None else [note])
    if note is not None:
        assert "The learning rate (3) is at the high end for adam" in note
    [table] = app.dataframe
    assert list(table.value["result"]) == [result]
