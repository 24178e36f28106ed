"""User browsing model: P(C_r = 1 | clicks above) = attractiveness(q, d) x gamma[r, r'], where r' is
the position of the last click above r (or "none"). It lets examination depend on where the
shopper last clicked, which PBM cannot express, at the price of depth^2 / 2 examination parameters.

Like PBM, attractiveness and gamma share a scale factor; the reported examination is the model's
marginal P(E_r = 1) averaged over the training log divided by that of position 1 (= gamma[1, none]),
and reported attractiveness is multiplied by it, so that UBM's vector is comparable to PBM's.
"""

from __future__ import annotations

import numpy as np

from ltr.clickmodels.base import ClickModel, mean_over_shown, per_cell, previous_click
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.factored import fit_slots
from ltr.clickmodels.prior import Prior


class UserBrowsingModel(ClickModel):
    name = "ubm"
    priors = ("fixed", "empirical")

    def __init__(self, *, prior_alpha: float = 1.0, prior_beta: float = 1.0, prior: Prior = "fixed") -> None:
        super().__init__(prior_alpha=prior_alpha, prior_beta=prior_beta, prior=prior)
        # gamma[r, 0]: no click above r; gamma[r, j]: last click above r at position j (1-based)
        self.gamma = np.empty((0, 0))
        self._attractiveness = np.empty(0)
        self._default_attractiveness = 0.5

    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        depth, shown = log.depth, log.shown
        slots = (np.arange(depth) * depth + previous_click(log.clicks))[shown]
        fit = fit_slots(cells[shown], slots, log.clicks[shown], prior=self.prior, alpha=self.prior_alpha,
                        beta=self.prior_beta, n_pairs=len(self._fitted_pairs), n_slots=depth * depth,
                        n_sessions=log.n_sessions, beta_map=self._beta_map, max_iter=max_iter, tol=tol)
        self.attractiveness_prior = fit.prior or self.attractiveness_prior
        self.gamma = fit.examination.reshape(depth, depth)
        self._attractiveness = fit.attractiveness
        self._default_attractiveness = self._support_mean(fit.attractiveness)
        return fit.n_iter

    def _click_probabilities(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        depth = log.depth
        if depth > self.gamma.shape[0]:
            raise ValueError(f"log depth {depth} exceeds the fitted depth {self.gamma.shape[0]}")
        examination = self.gamma[np.arange(depth), previous_click(log.clicks)]
        return per_cell(self._attractiveness, cells, self._default_attractiveness) * examination

    def _examination(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """Marginal P(E_r = 1) over click histories: a forward pass over where the last click was."""
        n, depth = cells.shape
        attractiveness = per_cell(self._attractiveness, cells, self._default_attractiveness)
        last = np.zeros((n, depth))  # last[:, j]: P(last click above r is j), j as in gamma
        last[:, 0] = 1.0
        examined = np.empty((n, depth))
        for r in range(depth):
            gamma = self.gamma[r, :r + 1]
            examined[:, r] = last[:, :r + 1] @ gamma
            click_here = last[:, :r + 1] * gamma * attractiveness[:, r:r + 1]
            last[:, :r + 1] -= click_here
            if r + 1 < depth:
                last[:, r + 1] = click_here.sum(axis=1)
        return mean_over_shown(examined, log.shown) / self.gamma[0, 0]

    def _pair_parameters(self) -> tuple[np.ndarray, None]:
        return np.clip(self._attractiveness * self.gamma[0, 0], 0.0, 1.0), None
