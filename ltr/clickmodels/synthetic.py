"""Click logs simulated from known parameters, to test that a model recovers what generated them.

Each query has a pool of candidate docs larger than the page; every session shows a fresh random
permutation of the pool. Seeing the same doc at many positions is what separates examination
from attractiveness, as randomised or interleaved rankings do in a real shop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ltr.clickmodels.data import PAD, ClickLog


@dataclass(frozen=True, eq=False)
class SyntheticClicks:
    """The log and its ground truth; truth arrays are indexed by the log's doc ids."""

    log: ClickLog
    attractiveness: np.ndarray  # (n_docs,)
    satisfaction: np.ndarray | None  # (n_docs,), cascade and DBN
    examination: np.ndarray  # (depth,) PBM theta, or the marginal P(E_r = 1) averaged over the log
    gamma: float | None = None  # DBN continuation


def default_theta(depth: int) -> np.ndarray:
    """A typical position-bias curve: 1 at the top, about 0.2 at position 10."""
    return 1.0 / np.arange(1, depth + 1) ** 0.7


def _pages(rng: np.random.Generator, n_sessions: int, depth: int, n_queries: int, pool: int,
           min_depth: int | None, query_skew: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    if pool < depth:
        raise ValueError("the pool per query must be at least the page depth")
    if query_skew:  # Zipf: query q is searched in proportion to 1 / (q + 1)^skew
        weights = 1.0 / np.arange(1, n_queries + 1) ** query_skew
        query_ids = rng.choice(n_queries, size=n_sessions, p=weights / weights.sum()).astype(np.int32)
    else:
        query_ids = rng.integers(n_queries, size=n_sessions).astype(np.int32)
    local = np.argsort(rng.random((n_sessions, pool)), axis=1)[:, :depth]
    doc_ids = (query_ids[:, None] * pool + local).astype(np.int32)
    if min_depth is not None and min_depth < depth:
        lengths = rng.integers(min_depth, depth + 1, size=n_sessions)
        doc_ids[np.arange(depth) >= lengths[:, None]] = PAD
    return query_ids, doc_ids


def _log(query_ids: np.ndarray, doc_ids: np.ndarray, clicks: np.ndarray, n_queries: int, pool: int) -> ClickLog:
    return ClickLog(query_ids, doc_ids, clicks & (doc_ids != PAD), [f"q{q}" for q in range(n_queries)],
                    [f"q{q}/d{d}" for q in range(n_queries) for d in range(pool)])


def simulate_pbm(n_sessions: int, depth: int = 10, *, n_queries: int = 100, pool: int = 20,
                 theta: np.ndarray | None = None, min_depth: int | None = None, seed: int = 0,
                 attractiveness_beta: tuple[float, float] = (1.2, 2.0), query_skew: float = 0.0) -> SyntheticClicks:
    """Clicks with P(C_r = 1) = attractiveness(doc) x theta_r, attractiveness ~ Beta(attractiveness_beta);
    query_skew > 0 draws queries from a Zipf long tail instead of uniformly."""
    rng = np.random.default_rng(seed)
    theta = default_theta(depth) if theta is None else np.asarray(theta, dtype=float)
    attractiveness = rng.beta(*attractiveness_beta, size=n_queries * pool)
    query_ids, doc_ids = _pages(rng, n_sessions, depth, n_queries, pool, min_depth, query_skew)
    clicks = rng.random(doc_ids.shape) < attractiveness[np.maximum(doc_ids, 0)] * theta
    return SyntheticClicks(_log(query_ids, doc_ids, clicks, n_queries, pool), attractiveness, None, theta)


def simulate_dbn(n_sessions: int, depth: int = 10, *, n_queries: int = 100, pool: int = 20, gamma: float = 0.9,
                 satisfaction: float | None = None, min_depth: int | None = None, seed: int = 0) -> SyntheticClicks:
    """DBN browsing: read top down, click if attracted, stop if satisfied, else continue w.p. gamma.

    satisfaction=None draws it per doc from Beta(2, 2); a number fixes it for every doc. The cascade
    model is gamma=1, satisfaction=1.
    """
    rng = np.random.default_rng(seed)
    attractiveness = rng.beta(1.2, 2.0, size=n_queries * pool)
    sat = (rng.beta(2.0, 2.0, size=n_queries * pool) if satisfaction is None
           else np.full(n_queries * pool, float(satisfaction)))
    query_ids, doc_ids = _pages(rng, n_sessions, depth, n_queries, pool, min_depth)
    shown = doc_ids != PAD
    a, s = attractiveness[np.maximum(doc_ids, 0)], sat[np.maximum(doc_ids, 0)]
    clicks = np.zeros(doc_ids.shape, dtype=bool)
    examined = np.ones(n_sessions, dtype=bool)
    marginal = np.ones(doc_ids.shape)
    for r in range(depth):
        clicks[:, r] = examined & shown[:, r] & (rng.random(n_sessions) < a[:, r])
        satisfied = clicks[:, r] & (rng.random(n_sessions) < s[:, r])
        examined &= ~satisfied & (rng.random(n_sessions) < gamma)
        if r + 1 < depth:
            marginal[:, r + 1] = marginal[:, r] * gamma * (1.0 - a[:, r] * s[:, r])
    examination = np.where(shown, marginal, 0.0).sum(axis=0) / np.maximum(shown.sum(axis=0), 1)
    return SyntheticClicks(_log(query_ids, doc_ids, clicks, n_queries, pool), attractiveness, sat, examination,
                           gamma)


def simulate_cascade(n_sessions: int, depth: int = 10, *, n_queries: int = 100, pool: int = 20,
                     min_depth: int | None = None, seed: int = 0) -> SyntheticClicks:
    """The cascade model: at most one click per session, nothing examined below it."""
    return simulate_dbn(n_sessions, depth, n_queries=n_queries, pool=pool, gamma=1.0, satisfaction=1.0,
                        min_depth=min_depth, seed=seed)


def simulate_sparse_pbm(seed: int = 0) -> SyntheticClicks:
    """The sparse randomised log of issue 14: 20,000 sessions over 400 Zipf-distributed queries, ~30
    impressions per (query, doc) pair (median 9), attractive docs (Beta(2, 1)) as on a shop's
    relevant first page. Fixed Beta(1, 1) pseudo-counts put every position's examination 10-14% high."""
    return simulate_pbm(20_000, 10, n_queries=400, pool=17, attractiveness_beta=(2.0, 1.0), query_skew=1.0, seed=seed)
