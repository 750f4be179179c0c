"""Confusion matrix and per-class scores of the regulated-category head, by hand."""

import math

import numpy as np
import pytest

from evaluation.category_metrics import ClassScores, class_scores, confusion_matrix

CLASSES = ("alcohol", "tobacco", "weapons")


def test_confusion_matrix_counts_pairs_and_skips_unknown_truth() -> None:
    truth = ["alcohol", "alcohol", "tobacco", None, "weapons", "alcohol"]
    predicted = ["alcohol", "tobacco", "tobacco", "weapons", "alcohol", "alcohol"]
    matrix = confusion_matrix(truth, predicted, classes=CLASSES)
    assert matrix.classes == CLASSES
    np.testing.assert_array_equal(matrix.counts, [[2, 1, 0], [0, 1, 0], [1, 0, 0]])
    assert matrix.n_unknown == 1


def test_class_scores_by_hand() -> None:
    truth = ["alcohol", "alcohol", "tobacco", "weapons", "alcohol"]
    predicted = ["alcohol", "tobacco", "tobacco", "alcohol", "alcohol"]
    scores = class_scores(confusion_matrix(truth, predicted, classes=CLASSES))
    assert scores["alcohol"] == ClassScores(precision=2 / 3, recall=2 / 3, support=3)
    assert scores["tobacco"] == ClassScores(precision=1 / 2, recall=1.0, support=1)
    weapons = scores["weapons"]
    assert math.isnan(weapons.precision)  # never predicted
    assert (weapons.recall, weapons.support) == (0.0, 1)


def test_class_without_true_rows_has_nan_recall() -> None:
    scores = class_scores(confusion_matrix(["alcohol"], ["weapons"], classes=CLASSES))
    assert math.isnan(scores["tobacco"].recall)
    assert scores["weapons"].precision == 0.0


def test_empty_input_gives_a_zero_matrix() -> None:
    matrix = confusion_matrix([], [], classes=CLASSES)
    np.testing.assert_array_equal(matrix.counts, np.zeros((3, 3)))


@pytest.mark.parametrize(
    ("truth", "predicted", "classes", "message"),
    [
        (["alcohol"], [], CLASSES, "predicted has 0 labels but true_labels has 1"),
        (["beer"], ["alcohol"], CLASSES, r"true_labels\[0\] is 'beer', not one of the classes"),
        (["alcohol"], [None], CLASSES, r"predicted\[0\] is None, not one of the classes"),
        (["alcohol"], ["alcohol"], (), "classes must name at least one class"),
        (["alcohol"], ["alcohol"], ("alcohol", "alcohol"), "repeated: alcohol"),
    ],
)
def test_invalid_inputs_are_refused(
    truth: list[str | None], predicted: list[str], classes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        confusion_matrix(truth, predicted, classes=classes)
