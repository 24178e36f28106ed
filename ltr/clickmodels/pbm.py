"""Position-based model: P(C_r = 1) = attractiveness(q, d) x theta_r, independent of other clicks.

theta and attractiveness are only identified up to a common factor, so the reported examination
is theta / theta_1 (position 1 = 1.0) and reported attractiveness is multiplied by theta_1; click
probabilities use the fitted, unscaled pair of parameters.
"""

from __future__ import annotations

import numpy as np

from ltr.clickmodels.base import ClickModel, per_cell
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.factored import fit_slots
from ltr.clickmodels.prior import Prior


class PositionBasedModel(ClickModel):
    name = "pbm"
    priors = ("fixed", "empirical")

    def __init__(self, *, prior_alpha: float = 1.0, prior_beta: float = 1.0, prior: Prior = "fixed") -> None:
        super().__init__(prior_alpha=prior_alpha, prior_beta=prior_beta, prior=prior)
        self.theta = np.empty(0)  # (depth,) fitted examination, before normalisation
        self._attractiveness = np.empty(0)
        self._default_attractiveness = 0.5

    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        shown = log.shown
        positions = np.broadcast_to(np.arange(log.depth), shown.shape)[shown]
        fit = fit_slots(cells[shown], positions, log.clicks[shown], prior=self.prior, alpha=self.prior_alpha,
                        beta=self.prior_beta, n_pairs=len(self._fitted_pairs), n_slots=log.depth,
                        n_sessions=log.n_sessions, beta_map=self._beta_map, max_iter=max_iter, tol=tol)
        self.attractiveness_prior = fit.prior or self.attractiveness_prior
        self.theta = fit.examination
        self._attractiveness = fit.attractiveness
        self._default_attractiveness = self._support_mean(fit.attractiveness)
        return fit.n_iter

    def _click_probabilities(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        if log.depth > self.theta.size:
            raise ValueError(f"log depth {log.depth} exceeds the fitted depth {self.theta.size}")
        return per_cell(self._attractiveness, cells, self._default_attractiveness) * self.theta[:log.depth]

    def _examination(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """theta / theta_1; NaN where the training log never filled the position (theta is the prior)."""
        return np.where(log.shown.any(axis=0), self.theta / self.theta[0], np.nan)

    def _pair_parameters(self) -> tuple[np.ndarray, None]:
        return np.clip(self._attractiveness * self.theta[0], 0.0, 1.0), None
