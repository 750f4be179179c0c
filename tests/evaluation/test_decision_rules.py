"""Confusion counts at decision rules, checked against scikit-learn's own metrics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, matthews_corrcoef, precision_score, recall_score

from evaluation.decision_rules import confusion_at, decision_rules
from evaluation.scored import LabelData
from models.thresholds import LabelThresholds


def data_of(y_true: list[int], scores: list[float]) -> LabelData:
    return LabelData(
        y_true=np.array(y_true, dtype=np.int64),
        scores=np.array(scores, dtype=np.float64),
        groups=np.array([str(i) for i in range(len(y_true))], dtype=object),
    )


@settings(deadline=None, max_examples=60)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.floats(0, 1, allow_nan=False)), min_size=1, max_size=60
    ),
    st.floats(0.01, 0.99),
)
def test_counts_and_rates_match_scikit_learn(pairs: list[tuple[int, float]], cut: float) -> None:
    y_true, scores = [p[0] for p in pairs], [p[1] for p in pairs]
    result = confusion_at(data_of(y_true, scores), cut)
    predicted = [int(score >= cut) for score in scores]
    assert result["tp"] + result["fp"] + result["tn"] + result["fn"] == len(pairs)
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, predicted))
    if any(predicted):
        assert result["precision"] == pytest.approx(precision_score(y_true, predicted))
    else:
        assert result["precision"] is None
    if any(y_true):
        assert result["recall"] == pytest.approx(recall_score(y_true, predicted))
    if result["mcc"] is not None:
        assert result["mcc"] == pytest.approx(matthews_corrcoef(y_true, predicted), abs=1e-9)


def test_band_rules_use_the_card_edges_and_say_when_an_edge_is_missing() -> None:
    data = data_of([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.95])
    rules = decision_rules(data, LabelThresholds(allow=0.2, enforce=0.9))
    assert (rules["flagged"]["tp"], rules["flagged"]["fp"]) == (2, 1)
    assert (rules["enforced"]["tp"], rules["enforced"]["fn"]) == (1, 1)
    assert decision_rules(data, LabelThresholds(allow=0.2))["enforced"] is None
