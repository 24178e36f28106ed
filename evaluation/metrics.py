"""Ranking metrics over one query (pure functions).

``ranking`` is the list of product ids returned, best first; ``grades`` maps judged
product ids to a non-negative grade (0 = not relevant). Unjudged products count as 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranking: Sequence[str], grades: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with exponential gain 2^grade - 1 (rewards putting the best items first)."""
    gains = [2 ** grades.get(pid, 0.0) - 1 for pid in ranking[:k]]
    ideal = sorted((2 ** g - 1 for g in grades.values()), reverse=True)[:k]
    best = dcg(ideal)
    return dcg(gains) / best if best > 0 else 0.0


def recall_at(ranking: Sequence[str], grades: Mapping[str, float], k: int = 100) -> float:
    relevant = {pid for pid, g in grades.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def mrr_at(ranking: Sequence[str], grades: Mapping[str, float], k: int = 10) -> float:
    for i, pid in enumerate(ranking[:k]):
        if grades.get(pid, 0.0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def err_at(ranking: Sequence[str], grades: Mapping[str, float], k: int = 10, max_grade: float | None = None) -> float:
    """Expected reciprocal rank (Chapelle et al. 2009): a cascade user stops at a satisfying result.

    ``max_grade`` is the top of the grading scale (default: the best grade in ``grades``).
    """
    max_grade = max(grades.values(), default=0.0) if max_grade is None else max_grade
    if max_grade <= 0:
        return 0.0
    p_continue, score = 1.0, 0.0
    for i, pid in enumerate(ranking[:k]):
        satisfied = (2 ** grades.get(pid, 0.0) - 1) / (2 ** max_grade)
        score += p_continue * satisfied / (i + 1)
        p_continue *= 1 - satisfied
    return score


METRICS = {
    "ndcg@10": lambda r, g: ndcg_at(r, g, 10),
    "recall@100": lambda r, g: recall_at(r, g, 100),
    "mrr@10": lambda r, g: mrr_at(r, g, 10),
    "err@10": lambda r, g: err_at(r, g, 10),
}


def evaluate_query(ranking: Sequence[str], grades: Mapping[str, float]) -> dict[str, float]:
    return {name: metric(ranking, grades) for name, metric in METRICS.items()}
