"""What every click model offers: EM fitting on a ClickLog, conditional click probabilities,
log-likelihood and perplexity, an examination vector and per-pair estimates.

The base class owns everything that does not depend on the model's structure (the pair table,
support counts, likelihood, perplexity) so that scores of different models are computed the
same way and can be compared.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.estimates import PairEstimates
from ltr.clickmodels.pairs import UNSEEN, PairIndex
from ltr.clickmodels.prior import PRIORS, Prior

if TYPE_CHECKING:
    from typing import Self

EPS = 1e-6  # click probabilities are clipped to [EPS, 1 - EPS] so a model that rules a click out
#             (cascade: a second click) is heavily penalised instead of scoring -inf


class ClickModel(ABC):
    """Attractiveness per (query, doc) pair under a Beta prior, so that a pair shown twice and
    clicked twice is not estimated at 1.0.

    ``prior="fixed"``: Beta(prior_alpha, prior_beta) pseudo-counts. ``prior="empirical"`` (the
    models whose ``priors`` name it): Beta(alpha, beta) fitted to the log by marginal likelihood, starting
    from (prior_alpha, prior_beta); sparse pairs are then pulled towards the log's own spread of
    attractiveness instead of towards 0.5. Either way examination keeps the fixed pseudo-counts,
    and ``attractiveness_prior`` is the (alpha, beta) the last fit used.
    """

    name: ClassVar[str]
    priors: ClassVar[tuple[Prior, ...]] = ("fixed",)  # the priors the model can fit with

    def __init__(self, *, prior_alpha: float = 1.0, prior_beta: float = 1.0, prior: Prior = "fixed") -> None:
        if prior_alpha <= 0 or prior_beta <= 0:
            raise ValueError("prior pseudo-counts must be positive")
        if prior not in PRIORS:
            raise ValueError(f"unknown prior {prior!r}; valid: {', '.join(PRIORS)}")
        if prior not in self.priors:
            raise ValueError(f"{self.name} supports the prior(s) {', '.join(self.priors)}, not {prior!r}")
        self.prior_alpha = float(prior_alpha)
        self.prior_beta = float(prior_beta)
        self.prior: Prior = prior
        self.attractiveness_prior = (self.prior_alpha, self.prior_beta)
        self.examination: np.ndarray = np.empty(0)  # (depth,) per-position examination propensity
        self.n_iter = 0  # EM iterations run by the last fit
        self._pairs: PairIndex | None = None
        self._impressions = np.empty(0, dtype=np.int64)
        self._clicks = np.empty(0, dtype=np.int64)

    # -- public interface -------------------------------------------------------------------------

    def fit(self, log: ClickLog, *, max_iter: int = 50, tol: float = 1e-6) -> Self:
        """Estimate the parameters; EM stops when the training log-likelihood per session gains < tol."""
        if log.n_impressions == 0:
            raise ValueError("the click log shows no results")
        if max_iter < 1:
            raise ValueError("max_iter must be at least 1")
        pairs, cells = PairIndex.from_log(log)
        self._pairs = pairs
        self._impressions = np.bincount(cells[log.shown], minlength=len(pairs))
        self._clicks = np.bincount(cells[log.clicks], minlength=len(pairs))
        self.n_iter = self._fit(log, cells, max_iter=max_iter, tol=tol)
        self.examination = self._examination(log, cells)
        return self

    def click_probabilities(self, log: ClickLog) -> np.ndarray:
        """(n, depth) P(C_r = 1 | clicks above r in the same session); 0 where padded.

        Pairs the model was not fitted on take the impression-weighted mean of the fitted pairs.
        """
        probabilities = self._click_probabilities(log, self._fitted_pairs.lookup(log))
        return np.where(log.shown, probabilities, 0.0)

    def log_likelihood(self, log: ClickLog) -> float:
        """Mean over sessions of sum over shown positions of ln P(c_r | c_<r)."""
        if log.n_sessions == 0:
            raise ValueError("the click log is empty")
        return float(self._cell_log_likelihood(log).sum(axis=1).mean())

    def perplexity(self, log: ClickLog) -> tuple[float, np.ndarray]:
        """(mean over positions, per position) of 2^(-mean log2 P(c_r | c_<r)); 1 is perfect,
        2 is a coin flip. Each position averages over the sessions that showed it (NaN: none did)."""
        log2 = self._cell_log_likelihood(log) / np.log(2.0)
        shown = log.shown.sum(axis=0)
        per_position = np.full(log.depth, np.nan)
        seen = shown > 0
        per_position[seen] = np.exp2(-log2.sum(axis=0)[seen] / shown[seen])
        if not seen.any():
            raise ValueError("the click log shows no results")
        return float(per_position[seen].mean()), per_position

    def estimates(self) -> PairEstimates:
        pairs = self._fitted_pairs
        attractiveness, satisfaction = self._pair_parameters()
        relevance = attractiveness if satisfaction is None else attractiveness * satisfaction
        return PairEstimates(pairs, attractiveness, satisfaction, relevance,
                             self._impressions, self._clicks)

    # -- for subclasses ---------------------------------------------------------------------------

    @abstractmethod
    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        """Fit on ``log`` whose (n, depth) pair indices are ``cells``; return the iterations run."""

    @abstractmethod
    def _click_probabilities(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """(n, depth) conditional click probabilities; ``cells`` is UNSEEN for padded or unknown pairs."""

    @abstractmethod
    def _examination(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """(depth,) examination propensity, computed once after fitting on the training log."""

    @abstractmethod
    def _pair_parameters(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(attractiveness, satisfaction or None) per pair, on the scale of ``examination``."""

    def _beta_map(self, successes: np.ndarray | float, trials: np.ndarray | float) -> np.ndarray:
        """Posterior mean under the Beta prior: never exactly 0 or 1."""
        return (np.asarray(successes, dtype=float) + self.prior_alpha) / (
            np.asarray(trials, dtype=float) + self.prior_alpha + self.prior_beta)

    def _support_mean(self, values: np.ndarray, weights: np.ndarray | None = None) -> float:
        """Mean of a per-pair parameter weighted by impressions: the estimate for unseen pairs."""
        weights = self._impressions if weights is None else weights
        return float(np.average(values, weights=weights)) if weights.sum() > 0 else float(values.mean())

    @property
    def _fitted_pairs(self) -> PairIndex:
        if self._pairs is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit() first")
        return self._pairs

    def _cell_log_likelihood(self, log: ClickLog) -> np.ndarray:
        p = np.clip(self.click_probabilities(log), EPS, 1.0 - EPS)
        return np.where(log.shown, np.where(log.clicks, np.log(p), np.log1p(-p)), 0.0)


def per_cell(values: np.ndarray, cells: np.ndarray, default: float) -> np.ndarray:
    """values[cells] with ``default`` where the cell is UNSEEN (padded, or a pair not fitted)."""
    out = values[np.maximum(cells, 0)] if values.size else np.zeros(cells.shape)
    out[cells == UNSEEN] = default
    return out


def previous_click(clicks: np.ndarray) -> np.ndarray:
    """(n, depth) int: 0 if no click above position r, else 1 + the position (0-based) of the last one."""
    depth = clicks.shape[1]
    last = np.maximum.accumulate(np.where(clicks, np.arange(1, depth + 1), 0), axis=1)
    previous = np.zeros_like(last)
    previous[:, 1:] = last[:, :-1]
    return previous


def mean_over_shown(values: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """(depth,) column means over shown cells; NaN for a position no session filled."""
    counts = shown.sum(axis=0)
    total = np.where(shown, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)
