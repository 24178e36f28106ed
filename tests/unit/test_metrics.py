import math

import pytest

from evaluation.metrics import err_at, mrr_at, ndcg_at, recall_at


def test_ndcg_perfect_reversed_and_unjudged() -> None:
    grades = {"a": 2.0, "b": 1.0, "c": 0.0}
    assert ndcg_at(["a", "b", "c"], grades) == pytest.approx(1.0)
    worst = (1 / math.log2(2) * 0 + 1 / math.log2(3) * 1 + 3 / math.log2(4))
    assert ndcg_at(["c", "b", "a"], grades) == pytest.approx(worst / (3 + 1 / math.log2(3)))
    assert ndcg_at(["x", "y"], grades) == 0.0
    assert ndcg_at(["a"], {"a": 0.0}) == 0.0


def test_recall_mrr_err() -> None:
    grades = {"a": 2.0, "b": 1.0, "z": 0.0}
    assert recall_at(["x", "b"], grades, 100) == 0.5
    assert mrr_at(["x", "z", "b"], grades, 10) == pytest.approx(1 / 3)
    assert mrr_at(["x"], grades, 10) == 0.0
    # ERR: the top result satisfies with (2^2-1)/2^2 = 0.75.
    assert err_at(["a"], grades, 10) == pytest.approx(0.75)
    assert err_at(["b", "a"], grades, 10) == pytest.approx(0.25 + 0.75 * 0.75 / 2)
    assert err_at(["b"], grades, 10, max_grade=2.0) == pytest.approx(0.25)
