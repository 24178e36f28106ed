"""Promote a retrained model only if it ranks held-out queries better than what is served now.

The held-out queries are a fixed slice of the training labels that training never sees (not even
for early stopping). Both rankings are scored on the same rows: the candidate's order by its
scores, the served order by the active model's scores (same featureset) or, with no model active,
the fused hybrid order the rows come in. Pure functions: the retrain job supplies the scores.

The grades are the shop's own human judgments (train split) where enough held-out queries have them, and
the training labels otherwise: a model trained on click-model labels, judged by the same labels, can win the
gate while ranking worse by the judgments (measured: +0.046 on held-out click labels, -0.012 on the test
split's judgments). The test split is never read here.

A mean gain on a few dozen queries can be luck (measured: +0.0026 on 14 held-out queries promoted a model that
ranked the 2,438 test queries 0.004 below the hybrid). So the gain must hold with confidence: the lower end of
a one-sided 95% paired bootstrap interval of the per-query gain, not its mean, must reach the minimum gain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.metrics import ndcg_at
from evaluation.significance import paired_bootstrap
from ltr.ranker.dataset import RankingData


def is_holdout_query(query: str) -> bool:
    """A fixed ~15% of the labelled queries, disjoint from run to run and from the early-stopping slice's
    choice (a separate hash)."""
    return hashlib.sha256(("holdout:" + query).encode()).digest()[0] < 38


def holdout_ndcgs(data: RankingData, scores: np.ndarray | None = None, k: int = 10,
                  grades: Mapping[str, Mapping[str, float]] | None = None) -> np.ndarray:
    """nDCG@k of each of ``data``'s queries: rows ordered by ``scores`` (ties keep the given order), or as given.
    ``grades`` (query -> product -> grade) replace the rows' labels: every judged product of the query counts
    in the ideal ranking, as in the offline evaluation."""
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    values = []
    for g in range(len(data.groups)):
        rows = np.arange(starts[g], starts[g + 1])
        order = rows if scores is None else rows[np.argsort(-scores[rows], kind="stable")]
        truth = (grades[data.queries[g]] if grades is not None else
                 {data.product_ids[r]: float(data.labels[r]) for r in rows if data.labels[r] > 0})
        values.append(ndcg_at([data.product_ids[r] for r in order], truth, k))
    return np.asarray(values, dtype=float)


def holdout_ndcg(data: RankingData, scores: np.ndarray | None = None, k: int = 10,
                 grades: Mapping[str, Mapping[str, float]] | None = None) -> float:
    """Mean of :func:`holdout_ndcgs` (0.0 without queries)."""
    values = holdout_ndcgs(data, scores, k, grades)
    return float(values.mean()) if len(values) else 0.0


@dataclass(frozen=True)
class QualityVerdict:
    promote: bool
    candidate_ndcg: float
    served_ndcg: float
    served_by: str  # the active model's name, or "hybrid"
    queries: int
    min_gain: float
    graded_by: str = "the training labels"
    gain_low: float = float("nan")  # the gain's one-sided 95% lower bound (paired bootstrap)

    @property
    def reason(self) -> str:
        gain = self.candidate_ndcg - self.served_ndcg
        verb = "beats" if self.promote else "does not beat"
        return (f"candidate nDCG@10 {self.candidate_ndcg:.4f} {verb} {self.served_by} {self.served_ndcg:.4f} by the "
                f"required {self.min_gain:+.4f} (gain {gain:+.4f}, at least {self.gain_low:+.4f} with 95% "
                f"confidence) on {self.queries} held-out queries graded by {self.graded_by}")


def judged_slice(data: RankingData, judgments: Mapping[str, Mapping[str, float]],
                 min_queries: int = 10) -> RankingData | None:
    """The held-out queries that have human judgments, when there are at least ``min_queries`` of them."""
    keep = [bool(judgments.get(q)) for q in data.queries]
    return data.select(keep) if sum(keep) >= min_queries else None


def verdict(candidate: Sequence[float], served: Sequence[float], served_by: str, min_gain: float,
            min_queries: int = 10, graded_by: str = "the training labels") -> QualityVerdict:
    """Promote when, on at least ``min_queries`` held-out queries (per-query nDCG of the candidate and of what
    is served, in the same order), the gain is at least ``min_gain`` with 95% confidence."""
    queries = len(candidate)
    if queries != len(served):
        raise ValueError(f"{queries} candidate scores against {len(served)} served ones")
    low = float("nan")
    if queries:
        # two-sided 90% = one-sided 95%: only the lower end decides
        low = paired_bootstrap(candidate, served, confidence=0.90).low
    promote = queries >= min_queries and low >= min_gain
    return QualityVerdict(promote, float(np.mean(candidate)) if queries else 0.0,
                          float(np.mean(served)) if queries else 0.0, served_by, queries, min_gain, graded_by, low)
