"""Training labels for learning to rank from a fitted click model.

Two routes: graded relevance labels per (query, doc), for a listwise ranker trained on judgments,
and inverse-propensity weights per click, for training directly on clicks with position bias
divided out (clipping the propensity bounds the variance that low positions would add).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.estimates import PairEstimates


def graded_labels(estimates: PairEstimates, min_support: int, levels: int = 5,
                  thresholds: Sequence[float] | None = None) -> dict[tuple[str, str], int]:
    """Relevance quantised to 0..levels-1 for pairs shown at least ``min_support`` times.

    Thresholds are fixed (default: equal-width bins of [0, 1]) rather than quantiles, so a label
    means the same relevance from one training run to the next.
    """
    if levels < 2:
        raise ValueError("levels must be at least 2")
    edges = np.linspace(0.0, 1.0, levels + 1)[1:-1] if thresholds is None else np.asarray(thresholds, float)
    if edges.shape != (levels - 1,) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"need {levels - 1} increasing thresholds for {levels} levels")
    grades = np.searchsorted(edges, estimates.relevance, side="right")
    keep = np.flatnonzero(estimates.impressions >= min_support)
    return {estimates.pairs.key(int(i)): int(grades[i]) for i in keep}


def ipw_click_weights(log: ClickLog, examination: np.ndarray, clip: float = 0.1) -> np.ndarray:
    """(n, depth) 1 / max(examination[r], clip) on clicked cells, 0 elsewhere."""
    if not 0.0 < clip <= 1.0:
        raise ValueError("clip must be in (0, 1]")
    examination = np.asarray(examination, dtype=float)
    if examination.shape[0] < log.depth:
        raise ValueError(f"examination covers {examination.shape[0]} positions, the log {log.depth}")
    return np.where(log.clicks, 1.0 / np.maximum(examination[:log.depth], clip), 0.0)
