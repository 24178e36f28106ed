"""EM for models whose click probability factorises as attractiveness(pair) x examination(slot).

PBM's slot is the position; UBM's is (position, position of the previous click). Given the slot,
examination and attractiveness are independent, so a click means both happened and a skip
leaves the posteriors

    P(A = 1 | C = 0) = a (1 - e) / (1 - a e)        P(E = 1 | C = 0) = e (1 - a) / (1 - a e)

whose sums per pair and per slot are the expected counts of the M-step (Chuklin, Markov and
de Rijke, "Click Models for Web Search", ch. 4). Cells come flattened, one entry per impression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class FactoredFit:
    attractiveness: np.ndarray  # (n_pairs,)
    examination: np.ndarray  # (n_slots,)
    n_iter: int


def fit_factored(pairs: np.ndarray, slots: np.ndarray, clicks: np.ndarray, *, n_pairs: int, n_slots: int,
                 n_sessions: int, beta_map: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 max_iter: int, tol: float, init: float = 0.5) -> FactoredFit:
    """MAP-EM from ``init``; stops once the log-likelihood per session gains less than ``tol``."""
    pair_trials = np.bincount(pairs, minlength=n_pairs)
    slot_trials = np.bincount(slots, minlength=n_slots)
    attractiveness = np.full(n_pairs, init)
    examination = np.full(n_slots, init)
    skipped = ~clicks
    previous = -np.inf
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        a = attractiveness[pairs]
        e = examination[slots]
        p_skip = 1.0 - a * e
        log_likelihood = (np.log(a[clicks] * e[clicks]).sum() + np.log(p_skip[skipped]).sum()) / n_sessions
        weight_a = np.where(clicks, 1.0, a * (1.0 - e) / p_skip)
        weight_e = np.where(clicks, 1.0, e * (1.0 - a) / p_skip)
        attractiveness = beta_map(np.bincount(pairs, weight_a, minlength=n_pairs), pair_trials)
        examination = beta_map(np.bincount(slots, weight_e, minlength=n_slots), slot_trials)
        if log_likelihood - previous < tol:
            break
        previous = log_likelihood
    return FactoredFit(attractiveness, examination, n_iter)
