"""The mistakes view opens on the most common mistake: checked against a plain loop, over
random confusion matrices with ties, and in the sentence that names the cell."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from explorer import claims, mistakes

MATRICES = st.integers(1, 6).flatmap(
    lambda n: hnp.arrays(np.int64, (n, n), elements=st.integers(0, 3))
)
"""Small counts, so that ties between cells are common."""


def naive_largest_off_diagonal(matrix: np.ndarray) -> tuple[int, int] | None:
    """Row by row, column by column: the first off-diagonal cell with the largest count."""
    best, best_count = None, 0
    for true in range(matrix.shape[0]):
        for predicted in range(matrix.shape[1]):
            if true != predicted and matrix[true, predicted] > best_count:
                best, best_count = (true, predicted), matrix[true, predicted]
    return best


@given(MATRICES)
def test_the_largest_off_diagonal_cell_is_the_first_largest_in_reading_order(matrix):
    assert mistakes.largest_off_diagonal(matrix) == naive_largest_off_diagonal(matrix)


def test_ties_go_to_the_first_cell_in_reading_order_and_the_diagonal_never_counts():
    matrix = np.array([[90, 0, 4], [4, 80, 0], [0, 4, 99]])
    assert mistakes.largest_off_diagonal(matrix) == (0, 2)
    assert mistakes.largest_off_diagonal(np.diag([5, 7, 9])) is None
    assert mistakes.largest_off_diagonal(np.array([[3]])) is None


def test_a_picked_cell_is_kept_only_when_it_is_a_cell_of_the_matrix():
    matrix = np.array([[9, 1], [3, 8]])
    assert mistakes.cell_to_show(matrix, None) == (1, 0)
    assert mistakes.cell_to_show(matrix, (0, 0)) == (0, 0)
    assert mistakes.cell_to_show(matrix, (2, 0)) == (1, 0), "from a model with more classes"


def test_the_images_of_a_cell_are_those_of_its_true_and_predicted_class():
    labels = np.array([0, 1, 1, 2, 1, 1])
    predictions = np.array([0, 2, 1, 2, 2, 2])
    assert mistakes.images_in_cell(labels, predictions, (1, 2), 2).tolist() == [1, 4]


@given(MATRICES)
def test_the_cell_sentence_states_its_numbers_and_whether_it_is_the_most_common_mistake(
    matrix,
):
    names = [str(i) for i in range(len(matrix))]
    largest = mistakes.largest_off_diagonal(matrix)
    sentence = claims.confusion_cell_sentence(matrix, largest, names)
    if largest is None:
        assert f"Every one of the {matrix.sum():,} test images is on the diagonal" in sentence
        assert "no mistake" in sentence
        return
    true, predicted = largest
    count, total = matrix[true, predicted], matrix[true].sum()
    assert sentence.startswith(
        f"“{true}” predicted as “{predicted}”: {count:,} of the {total:,} test images"
    )
    off = matrix[~np.eye(len(matrix), dtype=bool)]
    tied = int((off == off.max()).sum())
    assert ("most common mistake" in sentence) and (("tied" in sentence) == (tied > 1))
    for cell in np.ndindex(matrix.shape):
        other = claims.confusion_cell_sentence(matrix, cell, names)
        if cell[0] != cell[1] and 0 < matrix[cell] < off.max():
            assert f"The most common mistake holds {off.max():,}." in other
        if cell[0] != cell[1] and matrix[cell] == 0:
            assert "no test image falls in this cell" in other
