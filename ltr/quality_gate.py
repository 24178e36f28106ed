"""Promote a retrained model only if it ranks held-out queries better than what is served now.

The held-out queries are a fixed slice of the training labels that training never sees (not even
for early stopping). Both rankings are scored on the same rows: the candidate's order by its
scores, the served order by the active model's scores (same featureset) or, with no model active,
the fused hybrid order the rows come in. Pure functions: the retrain job supplies the scores.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from evaluation.metrics import ndcg_at
from ltr.ranker.dataset import RankingData


def is_holdout_query(query: str) -> bool:
    """A fixed ~15% of the labelled queries, disjoint from run to run and from the early-stopping slice's
    choice (a separate hash)."""
    return hashlib.sha256(("holdout:" + query).encode()).digest()[0] < 38


def holdout_ndcg(data: RankingData, scores: np.ndarray | None = None, k: int = 10) -> float:
    """Mean nDCG@k over ``data``'s queries: rows ordered by ``scores`` (ties keep the given order), or as given."""
    if not len(data.groups):
        return 0.0
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    values = []
    for g in range(len(data.groups)):
        rows = np.arange(starts[g], starts[g + 1])
        order = rows if scores is None else rows[np.argsort(-scores[rows], kind="stable")]
        grades = {data.product_ids[r]: float(data.labels[r]) for r in rows if data.labels[r] > 0}
        values.append(ndcg_at([data.product_ids[r] for r in order], grades, k))
    return float(np.mean(values))


@dataclass(frozen=True)
class QualityVerdict:
    promote: bool
    candidate_ndcg: float
    served_ndcg: float
    served_by: str  # the active model's name, or "hybrid"
    queries: int
    min_gain: float

    @property
    def reason(self) -> str:
        gain = self.candidate_ndcg - self.served_ndcg
        verb = "beats" if self.promote else "does not beat"
        return (f"candidate nDCG@10 {self.candidate_ndcg:.4f} {verb} {self.served_by} {self.served_ndcg:.4f} by the "
                f"required {self.min_gain:+.4f} (gain {gain:+.4f}) on {self.queries} held-out queries")


def verdict(candidate_ndcg: float, served_ndcg: float, served_by: str, queries: int, min_gain: float,
            min_queries: int = 10) -> QualityVerdict:
    """Promote when the candidate's gain reaches ``min_gain`` on at least ``min_queries`` held-out queries."""
    promote = queries >= min_queries and candidate_ndcg - served_ndcg >= min_gain
    return QualityVerdict(promote, candidate_ndcg, served_ndcg, served_by, queries, min_gain)
