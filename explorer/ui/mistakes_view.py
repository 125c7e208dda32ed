"""Inspect's "Test-set mistakes" view: the confusion matrix as a grid of cells that open
their test images (the most common mistake first), each image one click from "Why this
prediction?".

The choice of cell and the sentences are pure functions in :mod:`explorer.mistakes` and
:mod:`explorer.claims`; this module only draws them and keeps the clicks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from explorer import claims, figures, mistakes, train, ui
from explorer.data import splits
from explorer.text import escape_markdown

if TYPE_CHECKING:
    from explorer.ui.inspect_page import Inspected

TEST_INPUTS = "inspect_test_inputs"
"""Session key: sample name → (test data key, uint8 (H, W, C), true class name) of each
test image sent to "Why this prediction?" from the mistakes view."""

MISTAKE_CELL = "mistake_cell"
"""Session key of the confusion-matrix cell last clicked: (model key, test data key, true
class, predicted class); another model or test set opens on its own most common mistake."""
WHY_VIEW = "Why this prediction?"
"""The label of the Inspect view that "Explain this one" opens."""
CELL_IMAGES = 9
"""How many test images of the chosen cell are shown (three rows of three)."""


def _pick_cell(model: Inspected, cell: mistakes.Cell) -> None:
    """Button callback: show the images of ``cell`` (true class, predicted class)."""
    st.session_state[MISTAKE_CELL] = (model.key, model.data_key, *cell)


def _picked_cell(model: Inspected) -> mistakes.Cell | None:
    """The cell last clicked for this model and test set, if any."""
    picked = st.session_state.get(MISTAKE_CELL)
    if picked is None or tuple(picked[:2]) != (model.key, model.data_key):
        return None
    return int(picked[2]), int(picked[3])


def _explain_test_image(model: Inspected, name: str, image: np.ndarray, true_name: str) -> None:
    """Button callback: make test image ``image`` (uint8 (H, W, C)) of true class
    ``true_name`` the Inspect input, as a sample called ``name``, and open "Why this
    prediction?" on it."""
    st.session_state.setdefault(ui.SAVED_DRAWINGS, {})[name] = image
    st.session_state.setdefault(TEST_INPUTS, {})[name] = (model.data_key, image, true_name)
    st.session_state["image_source"] = "Sample"
    st.session_state["sample_name"] = name
    st.session_state["inspect_view"] = WHY_VIEW


def _grid_style(matrix: np.ndarray, shown: mistakes.Cell | None) -> str:
    """CSS for the confusion grid: each cell blue by its share of its true class, the shown
    cell framed in red, numbers large enough to read from the back of a room."""
    rules = [
        ".st-key-confusion_grid [data-testid='stColumn'] { min-width: 0; flex: 1 1 0; }",
        ".st-key-confusion_grid button { min-height: 1.9rem; min-width: 0; padding: 0 0.1rem; }",
        ".st-key-confusion_grid button p { font-size: 1rem; }",
        ".st-key-confusion_grid p { font-size: 1rem; text-align: center; }",
    ]
    for (true, predicted), share in np.ndenumerate(mistakes.shading(matrix)):
        text = "#fff" if share > 0.5 else "#111"
        rules.append(
            f".st-key-cm_{true}_{predicted} button {{ background: rgba(31, 119, 180, "
            f"{0.08 + 0.92 * share:.3f}) !important; color: {text} !important; }}"
        )
    if shown is not None:
        rules.append(
            f".st-key-cm_{shown[0]}_{shown[1]} button {{ box-shadow: inset 0 0 0 0.2rem "
            "#d62728 !important; }"
        )
    return "<style>" + "\n".join(rules) + "</style>"


def confusion_grid(model: Inspected, matrix: np.ndarray, shown: mistakes.Cell | None) -> None:
    """The confusion matrix as a grid of buttons (rows: true class, columns: predicted
    class), each showing its count and opening its test images; Tab and Enter reach each."""
    names = model.class_names
    st.html(_grid_style(matrix, shown))
    with st.container(key="confusion_grid", gap="xxsmall"):
        header = st.columns(len(names) + 1, gap="xxsmall", wrap=False)
        for column, name in zip(header[1:], names, strict=True):
            column.markdown(f"**{escape_markdown(name)}**")
        for true, name in enumerate(names):
            row = st.columns(len(names) + 1, gap="xxsmall", wrap=False, vertical_alignment="center")
            row[0].markdown(f"**{escape_markdown(name)}**")
            for predicted, column in enumerate(row[1:]):
                count = int(matrix[true, predicted])
                column.button(
                    f"{count:,}",
                    key=f"cm_{true}_{predicted}",
                    help=f"{count:,} test images of “{name}” predicted as “{names[predicted]}”",
                    on_click=_pick_cell,
                    args=(model, (true, predicted)),
                    width="stretch",
                )


def explainable_gallery(
    model: Inspected,
    split: splits.Split,
    indices: np.ndarray,
    captions: list[str],
    per_row: int,
    key: str,
) -> None:
    """Test images ``indices`` of ``split``, each with its caption (Markdown, in text of
    the page's size) and an "Explain this one" button that opens "Why this prediction?"
    on it."""
    for start in range(0, len(indices), per_row):
        columns = st.columns(per_row)
        row = zip(indices[start : start + per_row], captions[start : start + per_row], strict=True)
        for column, (index, caption) in zip(columns, row, strict=False):
            image = split.images[index]
            picture = figures.image_view(image.astype(np.float32) / 255.0, height=112, hover=False)
            ui.show_view(column, picture)
            column.markdown(caption)
            column.button(
                "Explain this one",
                key=f"{key}_{index}",
                width="stretch",
                wrap=True,
                help=f"Open “{WHY_VIEW}” on test image {index + 1:,}",
                on_click=_explain_test_image,
                args=(
                    model,
                    f"test image {index + 1:,} of {model.dataset_name}",
                    image,
                    model.class_names[split.labels[index]],
                ),
            )


def test_views(model: Inspected, split: splits.Split, probabilities: np.ndarray) -> None:
    """Confusion matrix (its cells open their test images, the most common mistake first),
    per-class accuracy and the most confident mistakes, each image one click from "Why this
    prediction?"; ``probabilities`` are the model's, float (N, classes), for ``split``."""
    predictions = probabilities.argmax(axis=1)
    names = model.class_names
    matrix = train.confusion_matrix(split.labels, predictions, len(names))
    shown = mistakes.cell_to_show(matrix, _picked_cell(model))
    left, right = st.columns(2)
    with left:
        confusion_grid(model, matrix, shown)
    escaped = [escape_markdown(name) for name in names]
    right.markdown(claims.confusion_cell_sentence(matrix, shown, escaped))
    if shown is not None:
        chosen = mistakes.images_in_cell(split.labels, predictions, shown, CELL_IMAGES)
        with right:
            explainable_gallery(
                model,
                split,
                chosen,
                [
                    f"#{i + 1:,}: “{escaped[shown[1]]}” {probabilities[i, shown[1]]:.0%}"
                    for i in chosen
                ],
                3,
                "explain_cell",
            )
    right.markdown(
        "**Rows are the true class, columns the predicted one.** Click a cell to see its "
        "test images."
    )
    right.metric(
        "Test accuracy",
        f"{(predictions == split.labels).mean():.2%}",
        help=f"{len(split)} test images",
    )
    st.plotly_chart(
        figures.counts_figure(
            names, train.per_class_accuracy(matrix), title="Accuracy per class", percent=True
        ),
        width="stretch",
    )
    wrong = np.flatnonzero(predictions != split.labels)
    worst = wrong[np.argsort(-probabilities[wrong].max(axis=1))][:8]
    if len(worst):
        st.subheader("Most confident mistakes")
        explainable_gallery(
            model,
            split,
            worst,
            [
                f"#{i + 1:,}: “{escaped[split.labels[i]]}” → “{escaped[predictions[i]]}” "
                f"{probabilities[i].max():.0%}"
                for i in worst
            ],
            4,
            "explain_worst",
        )
