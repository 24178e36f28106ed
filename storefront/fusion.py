"""Fusing ranked candidate lists from several retrievers into one (pure functions).

Inputs are per-retriever ``{product_id: score}`` maps, best first. Reciprocal rank fusion
ignores score scales; the weighted sums first normalise each list (min-max or z-score)
so BM25's unbounded scores and cosine similarities become comparable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

Scores = Mapping[str, float]


def rrf(lists: Mapping[str, Scores], k: float = 60.0, weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Reciprocal rank fusion: sum over lists of weight / (k + rank), rank starting at 1."""
    fused: dict[str, float] = {}
    for name, scores in lists.items():
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        ranked = sorted(scores, key=lambda pid: -scores[pid])
        for rank, pid in enumerate(ranked, start=1):
            fused[pid] = fused.get(pid, 0.0) + weight / (k + rank)
    return fused


def minmax(scores: Scores) -> dict[str, float]:
    """Scale to [0, 1]; a list whose scores are all equal maps to 1 (all equally good)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {pid: 1.0 for pid in scores}
    return {pid: (s - low) / (high - low) for pid, s in scores.items()}


def zscore(scores: Scores) -> dict[str, float]:
    """Standardise to mean 0, unit variance; a constant list maps to 0."""
    if not scores:
        return {}
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if std == 0:
        return {pid: 0.0 for pid in scores}
    return {pid: (s - mean) / std for pid, s in scores.items()}


def weighted_sum(lists: Mapping[str, Scores], weights: Mapping[str, float], normalise: str = "minmax",
                 ) -> dict[str, float]:
    """Sum of normalised scores times weights. A product missing from a list gets that list's
    floor (0 after min-max, the list minimum after z-score), not a bonus."""
    norm = minmax if normalise == "minmax" else zscore
    fused: dict[str, float] = {}
    all_ids = {pid for scores in lists.values() for pid in scores}
    for name, scores in lists.items():
        normalised = norm(scores)
        floor = min(normalised.values(), default=0.0)  # 0 after min-max, the list minimum after z-score
        weight = weights.get(name, 0.0)
        for pid in all_ids:
            fused[pid] = fused.get(pid, 0.0) + weight * normalised.get(pid, floor)
    return fused


def fuse(lists: Mapping[str, Scores], method: str, weights: Mapping[str, float], rrf_k: float = 60.0,
         ) -> dict[str, float]:
    """Dispatch on the configured method: ``rrf``, ``minmax`` or ``zscore``.

    RRF weights are doubled so that equal weights (0.5 / 0.5) give plain, unweighted RRF.
    """
    if method == "rrf":
        return rrf(lists, k=rrf_k, weights={name: 2 * w for name, w in weights.items()})
    if method in ("minmax", "zscore"):
        return weighted_sum(lists, weights, normalise=method)
    raise ValueError(f"unknown fusion method {method!r}")


def ranked(scores: Scores) -> list[tuple[str, float]]:
    """Best first; ties broken by product id so results are deterministic."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
