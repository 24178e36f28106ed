"""The quality gate's arithmetic (pure): held-out nDCG by the labels or by the shop's judgments."""

from __future__ import annotations

import numpy as np
import pytest

from ltr.quality_gate import holdout_ndcg, judged_slice, verdict
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
    won = verdict(0.5, 0.4, "hybrid", 30, 0.01, graded_by="the shop's judgments (train split)")
    assert won.promote and "graded by the shop's judgments (train split)" in won.reason
    assert not verdict(0.5, 0.4, "hybrid", 9, 0.01).promote  # too few queries to decide
