"""EM for models whose click probability factorises as attractiveness(pair) x examination(slot).

PBM's slot is the position; UBM's is (position, position of the previous click). Given the slot,
examination and attractiveness are independent, so a click means both happened and a skip
leaves the posteriors

    P(A = 1 | C = 0) = a (1 - e) / (1 - a e)        P(E = 1 | C = 0) = e (1 - a) / (1 - a e)

whose sums per pair and per slot are the expected counts of the M-step (Chuklin, Markov and
de Rijke, "Click Models for Web Search", ch. 4). Cells come flattened, one entry per impression.

``fit_factored`` plugs each pair's current attractiveness into those posteriors (MAP-EM with fixed
pseudo-counts); ``fit_marginal`` integrates it out under a Beta prior fitted to the log (see
:mod:`ltr.clickmodels.prior`), which is what keeps examination right when most pairs are sparse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ltr.clickmodels.prior import BOUNDS, CHUNK, Prior, fit_beta, grid, log_prior, posterior
from ltr.clickmodels.squarem import squarem


@dataclass(frozen=True, eq=False)
class FactoredFit:
    attractiveness: np.ndarray  # (n_pairs,)
    examination: np.ndarray  # (n_slots,)
    n_iter: int
    prior: tuple[float, float] | None = None  # the fitted Beta(alpha, beta) of fit_marginal


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


def fit_marginal(pairs: np.ndarray, slots: np.ndarray, clicks: np.ndarray, *, n_pairs: int, n_slots: int,
                 n_sessions: int, slot_map: Callable[[np.ndarray, np.ndarray], np.ndarray], alpha: float,
                 beta: float, max_iter: int, tol: float) -> FactoredFit:
    """EM for examination and a Beta(alpha, beta) attractiveness prior, attractiveness integrated out.

    The E-step takes each pair's posterior over the grid from its skips per slot (clicks only add
    log a), in blocks of pairs so memory does not grow with the pair count; the M-step updates
    examination with ``slot_map`` (its pseudo-counts) and the prior with a few Newton steps.
    Examination starts from the smoothed CTR per slot over the best slot's (1 at the top): that is
    already the answer on a randomised log. EM is accelerated by SQUAREM, and ``max_iter`` counts
    its EM steps. Attractiveness is the posterior mean under the final parameters.
    """
    g = grid()
    slot_trials = np.bincount(slots, minlength=n_slots)
    slot_clicks = np.bincount(slots[clicks], minlength=n_slots)
    pair_clicks = np.bincount(pairs[clicks], minlength=n_pairs).astype(float)
    used = np.flatnonzero(slot_trials)  # UBM fills about half its depth^2 slots
    skipped = ~clicks
    keys, skips = np.unique(pairs[skipped].astype(np.int64) * used.size + np.searchsorted(used, slots[skipped]),
                            return_counts=True)  # sorted by pair
    skip_pair, skip_slot = keys // used.size, keys % used.size
    starts = np.arange(0, n_pairs, CHUNK)
    bounds = np.searchsorted(skip_pair, np.append(starts, n_pairs))

    def e_step(e: np.ndarray, alpha: float, beta: float) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(log-likelihood per session, expected examinations per used slot, mean (log a, log(1 - a))
        over pairs, posterior mean attractiveness)."""
        prior = log_prior(g, alpha, beta)
        miss = 1.0 - np.outer(e, g.nodes)  # (slots, G) P(no click | a) per slot
        log_skip = np.log(miss)
        examined_if_skipped = (e[:, None] * (1.0 - g.nodes) / miss).T  # (G, slots) P(E = 1 | C = 0, a)
        examined = np.zeros(used.size)
        stats = np.zeros(2)
        log_marginal = 0.0
        attractiveness = np.empty(n_pairs)
        for i, start in enumerate(starts):
            stop = min(start + CHUNK, n_pairs)
            lo, hi = bounds[i], bounds[i + 1]
            block = np.zeros((stop - start, used.size))
            block[skip_pair[lo:hi] - start, skip_slot[lo:hi]] = skips[lo:hi]
            weights, marginal = posterior(block @ log_skip + np.outer(pair_clicks[start:stop], g.stats[:, 0]),
                                          prior)
            log_marginal += float(marginal.sum())
            examined += np.einsum("ps,ps->s", block, weights @ examined_if_skipped)
            stats += weights.sum(axis=0) @ g.stats
            attractiveness[start:stop] = weights @ g.nodes
        log_likelihood = (log_marginal + float(slot_clicks[used] @ np.log(e))) / n_sessions
        return log_likelihood, examined, stats / n_pairs, attractiveness

    def unpack(x: np.ndarray) -> tuple[np.ndarray, float, float]:
        e = np.clip(1.0 / (1.0 + np.exp(-x[:-2])), 1e-9, 1.0 - 1e-9)  # an extrapolation may overshoot
        alpha, beta = np.clip(np.exp(x[-2:]), *BOUNDS)
        return e, float(alpha), float(beta)

    def pack(e: np.ndarray, alpha: float, beta: float) -> np.ndarray:
        return np.concatenate([np.log(e) - np.log1p(-e), [np.log(alpha), np.log(beta)]])

    def em_step(x: np.ndarray) -> tuple[float, np.ndarray]:
        e, alpha, beta = unpack(x)
        log_likelihood, examined, stats, _ = e_step(e, alpha, beta)
        expected = slot_clicks.astype(float)
        expected[used] += examined
        return log_likelihood, pack(slot_map(expected, slot_trials)[used], *fit_beta(g, stats, alpha, beta))

    ctr = (slot_clicks[used] + 1.0) / (slot_trials[used] + 2.0)
    x, n_iter = squarem(em_step, pack(np.clip(ctr / ctr.max(), 0.01, 0.99), alpha, beta),
                        max_steps=max_iter, tol=tol)
    e, alpha, beta = unpack(x)
    attractiveness = e_step(e, alpha, beta)[3]
    examination = slot_map(np.zeros(n_slots), np.zeros(n_slots))  # slots never shown keep the prior mean
    examination[used] = e
    return FactoredFit(attractiveness, examination, n_iter, (alpha, beta))


def fit_slots(pairs: np.ndarray, slots: np.ndarray, clicks: np.ndarray, *, prior: Prior, alpha: float, beta: float,
              n_pairs: int, n_slots: int, n_sessions: int, beta_map: Callable[[np.ndarray, np.ndarray], np.ndarray],
              max_iter: int, tol: float) -> FactoredFit:
    """The fit a model's ``prior`` asks for: ``beta_map`` carries the fixed pseudo-counts (alpha, beta),
    which the empirical fit keeps for examination only and starts its prior from."""
    if prior == "empirical":
        return fit_marginal(pairs, slots, clicks, n_pairs=n_pairs, n_slots=n_slots, n_sessions=n_sessions,
                            slot_map=beta_map, alpha=alpha, beta=beta, max_iter=max_iter, tol=tol)
    return fit_factored(pairs, slots, clicks, n_pairs=n_pairs, n_slots=n_slots, n_sessions=n_sessions,
                        beta_map=beta_map, max_iter=max_iter, tol=tol)
