"""The quality gate's arithmetic (pure): held-out nDCG by the labels or by the shop's judgments."""

from __future__ import annotations

import numpy as np
import pytest

from ltr.quality_gate import holdout_ndcg, holdout_ndcgs, judged_slice, verdict
from ltr.ranker.dataset import RankingData


def _data() -> RankingData:
    # two queries, three candidates each, in the hybrid's order; labels say the first candidate is best
    return RankingData(np.zeros((6, 1), np.float32), np.array([2, 0, 0, 2, 0, 0]), np.array([3, 3]), ["q1", "q2"],
                       ["a", "b", "c", "d", "e", "f"])


def test_judgments_replace_the_labels_and_count_every_judged_product() -> None:
    data = _data()
    assert holdout_ndcg(data) == pytest.approx(1.0)  # the given order is the labels' ideal
    judged = {"q1": {"c": 3.0}, "q2": {"d": 1.0, "zz": 3.0}}  # zz: judged, not among the candidates
    scores = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    by_judgments = holdout_ndcg(data, scores, grades=judged)
    ideal_q2 = (2**3 - 1) + (2**1 - 1) / np.log2(3)
    assert by_judgments == pytest.approx((1.0 + (2**1 - 1) / ideal_q2) / 2)
    assert holdout_ndcg(data, grades=judged) < by_judgments  # the hybrid's order puts c last


def test_too_few_judged_held_out_queries_fall_back_to_the_labels() -> None:
    data = _data()
    assert judged_slice(data, {"q1": {"a": 1.0}}, min_queries=2) is None
    sliced = judged_slice(data, {"q1": {"a": 1.0}, "q2": {"d": 2.0}, "q3": {"x": 1.0}}, min_queries=2)
    assert sliced is not None and sliced.queries == ["q1", "q2"]
    assert judged_slice(data, {"q1": {"a": 1.0}, "q2": {}}, min_queries=1).queries == ["q1"]  # type: ignore[union-attr]


def test_the_verdict_names_what_graded_it() -> None:
    candidate, served = [0.5] * 30, [0.4] * 30
    won = verdict(candidate, served, "hybrid", 0.01, graded_by="the shop's judgments (train split)")
    assert won.promote and "graded by the shop's judgments (train split)" in won.reason
    assert (won.candidate_ndcg, won.served_ndcg, won.queries) == (pytest.approx(0.5), pytest.approx(0.4), 30)
    assert not verdict(candidate[:9], served[:9], "hybrid", 0.01).promote  # too few queries to decide


def test_a_gain_that_could_be_luck_is_not_enough() -> None:
    """The demo's click model won +0.0026 on 14 held-out queries and then ranked the test split below the
    hybrid: a mean gain is not a gain the gate can trust."""
    rng = np.random.default_rng(0)
    served = rng.uniform(0.2, 0.8, 14)
    noisy = served + np.array([0.3, -0.25, 0.2, -0.3, 0.25, -0.2] + [0.0] * 8) + 0.0026
    lucky = verdict(noisy, served, "hybrid", 0.001)
    assert lucky.candidate_ndcg - lucky.served_ndcg >= 0.001  # the mean alone would have promoted it
    assert not lucky.promote and lucky.gain_low < 0.001 and "with 95% confidence" in lucky.reason
    steady = verdict(served + 0.02 + rng.normal(0, 0.01, 14), served, "hybrid", 0.001)
    assert steady.promote and steady.gain_low >= 0.001  # a smaller gain, but on every query
    with pytest.raises(ValueError):
        verdict([0.5, 0.4], [0.5], "hybrid", 0.0)


def test_per_query_values_average_to_the_mean() -> None:
    data = _data()
    scores = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    per_query = holdout_ndcgs(data, scores)
    assert per_query.shape == (2,) and per_query[1] == pytest.approx(1.0) and per_query[0] < 1.0
    assert holdout_ndcg(data, scores) == pytest.approx(per_query.mean())
