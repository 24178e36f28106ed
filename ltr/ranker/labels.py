"""Graded labels per (query, product) for LambdaMART, from clicks with or without debiasing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np

from ltr.clickmodels import ClickLog, graded_labels
from ltr.clickmodels.base import ClickModel

#: Where training labels come from: a fitted click model, raw CTR, the shop's judgments, or each search's
#: own actions (``shelfrank train --labels``).
LABEL_SOURCES = ("clickmodel", "ctr", "judgments", "actions")

Labels = dict[str, dict[str, int]]  # query -> product -> grade


def by_query(pairs: Mapping[tuple[str, str], int]) -> Labels:
    labels: Labels = defaultdict(dict)
    for (query, product), grade in pairs.items():
        labels[query][product] = grade
    return dict(labels)


def click_model_labels(model: ClickModel, min_support: int) -> Labels:
    """Debiased: the click model's relevance estimates, graded 0..4 (position bias divided out)."""
    return by_query(graded_labels(model.estimates(), min_support))


def naive_ctr_labels(log: ClickLog, min_support: int, levels: int = 5) -> Labels:
    """Naive: raw click-through rate per pair, graded on the same scale; position bias left in."""
    shown = log.shown
    keys = log.query_ids[:, None].astype(np.int64) * len(log.docs) + np.where(shown, log.doc_ids, 0)
    flat_keys, flat_clicks = keys[shown], log.clicks[shown]
    unique, inverse = np.unique(flat_keys, return_inverse=True)
    impressions = np.bincount(inverse)
    clicks = np.bincount(inverse, weights=flat_clicks.astype(float))
    ctr = (clicks + 1.0) / (impressions + 2.0)  # the click models' Beta(1, 1) prior, for a fair comparison
    grades = np.minimum((ctr * levels).astype(int), levels - 1)
    pairs = {}
    for key, grade, support in zip(unique, grades, impressions):
        if support >= min_support:
            pairs[(log.queries[int(key // len(log.docs))], log.docs[int(key % len(log.docs))])] = int(grade)
    return by_query(pairs)


def judgment_labels(judgments: Mapping[str, Mapping[str, float]], max_grade: float) -> Labels:
    """Oracle: human grades scaled to 0..4."""
    return {q: {p: int(round(4 * g / max_grade)) for p, g in grades.items()} for q, grades in judgments.items()}
