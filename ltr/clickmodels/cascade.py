"""Cascade model: the shopper reads top down, clicks a result with probability attractiveness(q, d)
and stops at the first click; results below the first click were never examined.

Fitting is counting: attractiveness = first clicks / examinations, with Beta pseudo-counts (or,
with the empirical prior, the beta-binomial posterior mean under a Beta fitted to those counts).
The model gives a second click in a session probability zero; the log-likelihood clips it to
EPS, so multi-click logs score finite but (rightly) very poorly.
"""

from __future__ import annotations

import numpy as np

from ltr.clickmodels.base import ClickModel, mean_over_shown, per_cell
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.prior import Prior, fit_binomial


def _examined(clicks: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Cells at or above the first click of their session (all shown cells if none)."""
    return shown & (np.cumsum(clicks, axis=1) - clicks == 0)


class CascadeModel(ClickModel):
    name = "cascade"
    priors = ("fixed", "empirical")

    def __init__(self, *, prior_alpha: float = 1.0, prior_beta: float = 1.0, prior: Prior = "fixed") -> None:
        super().__init__(prior_alpha=prior_alpha, prior_beta=prior_beta, prior=prior)
        self._attractiveness = np.empty(0)
        self._default_attractiveness = 0.5

    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        examined = _examined(log.clicks, log.shown)
        n_pairs = len(self._fitted_pairs)
        trials = np.bincount(cells[examined], minlength=n_pairs)
        successes = np.bincount(cells[examined & log.clicks], minlength=n_pairs)
        n_iter = 1
        if self.prior == "empirical":
            self._attractiveness, alpha, beta, n_iter = fit_binomial(
                successes, trials, alpha=self.prior_alpha, beta=self.prior_beta, max_iter=max_iter, tol=tol)
            self.attractiveness_prior = (alpha, beta)
        else:
            self._attractiveness = self._beta_map(successes, trials)
        self._default_attractiveness = self._support_mean(self._attractiveness, trials)
        return n_iter

    def _click_probabilities(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        attractiveness = per_cell(self._attractiveness, cells, self._default_attractiveness)
        return attractiveness * _examined(log.clicks, log.shown)

    def _examination(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """P(E_r = 1) = prod_{j<r} (1 - a_j): no click above r."""
        skip = 1.0 - per_cell(self._attractiveness, cells, self._default_attractiveness)
        examined = np.ones(cells.shape)
        examined[:, 1:] = np.cumprod(skip[:, :-1], axis=1)
        return mean_over_shown(examined, log.shown)

    def _pair_parameters(self) -> tuple[np.ndarray, None]:
        return self._attractiveness, None
