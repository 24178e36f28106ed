"""Cascade model: the shopper reads top down, clicks a result with probability attractiveness(q, d)
and stops at the first click; results below the first click were never examined.

Fitting is counting: attractiveness = first clicks / examinations, with Beta pseudo-counts.
The model gives a second click in a session probability zero; the log-likelihood clips it to
EPS, so multi-click logs score finite but (rightly) very poorly.
"""

from __future__ import annotations

import numpy as np

from ltr.clickmodels.base import ClickModel, mean_over_shown, per_cell
from ltr.clickmodels.data import ClickLog


def _examined(clicks: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Cells at or above the first click of their session (all shown cells if none)."""
    return shown & (np.cumsum(clicks, axis=1) - clicks == 0)


class CascadeModel(ClickModel):
    name = "cascade"

    def __init__(self, *, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> None:
        super().__init__(prior_alpha=prior_alpha, prior_beta=prior_beta)
        self._attractiveness = np.empty(0)
        self._default_attractiveness = 0.5

    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        examined = _examined(log.clicks, log.shown)
        n_pairs = len(self._fitted_pairs)
        trials = np.bincount(cells[examined], minlength=n_pairs)
        self._attractiveness = self._beta_map(np.bincount(cells[examined & log.clicks], minlength=n_pairs),
                                              trials)
        self._default_attractiveness = self._support_mean(self._attractiveness, trials)
        return 1

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
