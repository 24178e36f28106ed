"""Dynamic Bayesian network (Chapelle and Zhang, 2009): cascade browsing where a click satisfies
the shopper with probability satisfaction(q, d), a satisfied shopper stops, and an unsatisfied
one goes on to the next result with probability gamma.

    E_1 = 1;  C_r = E_r A_r;  S_r ~ Bern(s) if C_r else 0;  P(E_r+1 = 1 | E_r = 1, S_r = 0) = gamma

Examination is a chain whose transitions depend on the observed clicks, so EM runs a forward pass
(P(E_r = 1 | clicks above r), which also gives the conditional click probabilities) and a backward
pass (P(clicks from r on | E_r)) over positions, vectorised over sessions. gamma is fitted unless
fixed (gamma=1.0 is the simplified DBN). Satisfaction is learnt from clicked cells only; relevance
is attractiveness x satisfaction.

Only the fixed prior: a pair's clicks here say how attractive it is only through the examination
chains of whole sessions, so integrating attractiveness out per pair (as PBM and UBM do with the
empirical prior) would not be exact, and plugging the expected counts into a beta-binomial
overshrinks (see :mod:`ltr.clickmodels.prior`).
"""

from __future__ import annotations

import numpy as np

from ltr.clickmodels.base import ClickModel, mean_over_shown, per_cell
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.prior import Prior

_TINY = 1e-300


def _forward(attractiveness: np.ndarray, satisfaction: np.ndarray, gamma: float,
             clicks: np.ndarray) -> np.ndarray:
    """(n, depth) P(E_r = 1 | clicks above r)."""
    n, depth = clicks.shape
    examined = np.empty((n, depth))
    current = np.ones(n)
    for r in range(depth):
        examined[:, r] = current
        a, c = attractiveness[:, r], clicks[:, r]
        after = np.where(c, 1.0, current * (1.0 - a) / (1.0 - current * a))  # given the click at r too
        current = after * gamma * (1.0 - satisfaction[:, r] * c)
    return examined


def _backward(attractiveness: np.ndarray, satisfaction: np.ndarray, gamma: float, clicks: np.ndarray,
              shown: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, depth + 1) P(clicks at r and below | E_r = 1) and the same given E_r = 0 (1 past the page)."""
    n, depth = clicks.shape
    if_examined = np.ones((n, depth + 1))
    if_not = np.ones((n, depth + 1))
    for r in range(depth - 1, -1, -1):
        a, c = attractiveness[:, r], clicks[:, r]
        go_on = gamma * (1.0 - satisfaction[:, r] * c)
        here = np.where(c, a, 1.0 - a) * (go_on * if_examined[:, r + 1] + (1.0 - go_on) * if_not[:, r + 1])
        if_examined[:, r] = np.where(shown[:, r], here, 1.0)
        if_not[:, r] = np.where(shown[:, r] & c, 0.0, if_not[:, r + 1])
    return if_examined, if_not


class DynamicBayesianNetwork(ClickModel):
    name = "dbn"

    def __init__(self, *, gamma: float | None = None, prior_alpha: float = 1.0, prior_beta: float = 1.0,
                 init_gamma: float = 0.9, prior: Prior = "fixed") -> None:
        super().__init__(prior_alpha=prior_alpha, prior_beta=prior_beta, prior=prior)
        for value in (gamma, init_gamma):
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError("gamma must be in (0, 1]")
        self.fit_gamma = gamma is None
        self.gamma = init_gamma if gamma is None else float(gamma)
        self._init_gamma = init_gamma
        self._attractiveness = np.empty(0)
        self._satisfaction = np.empty(0)
        self._default_attractiveness = 0.5
        self._default_satisfaction = 0.5

    def _fit(self, log: ClickLog, cells: np.ndarray, *, max_iter: int, tol: float) -> int:
        shown, clicks = log.shown, log.clicks
        n_pairs = len(self._fitted_pairs)
        shown_pairs, clicked_pairs = cells[shown], cells[clicks]
        continues = shown[:, 1:]  # transitions r -> r+1 that the page shows
        attractiveness, satisfaction = np.full(n_pairs, 0.5), np.full(n_pairs, 0.5)
        gamma = self._init_gamma if self.fit_gamma else self.gamma
        previous = -np.inf
        n_iter = 0
        for n_iter in range(1, max_iter + 1):
            a = per_cell(attractiveness, cells, 0.0)
            s = per_cell(satisfaction, cells, 0.0)
            examined = _forward(a, s, gamma, clicks)
            p = examined * a
            log_likelihood = (np.log(p[clicks]).sum() + np.log1p(-p[shown & ~clicks]).sum()) / log.n_sessions
            if_examined, if_not = _backward(a, s, gamma, clicks, shown)
            # posterior P(E_r = 1 | all clicks of the session)
            joint = examined * if_examined[:, :-1]
            posterior = joint / np.maximum(joint + (1.0 - examined) * if_not[:, :-1], _TINY)
            # posterior P(S_r = 1 | all clicks) on clicked cells: satisfied means no click below
            stop = s * if_not[:, 1:]
            unsatisfied = (1.0 - s) * (gamma * if_examined[:, 1:] + (1.0 - gamma) * if_not[:, 1:])
            satisfied = np.where(clicks, stop / np.maximum(stop + unsatisfied, _TINY), 0.0)

            attractive = np.where(clicks, 1.0, (1.0 - posterior) * a)  # unexamined cells keep the prior
            attractiveness = self._beta_map(np.bincount(shown_pairs, attractive[shown], minlength=n_pairs),
                                            self._impressions)
            satisfaction = self._beta_map(np.bincount(clicked_pairs, satisfied[clicks], minlength=n_pairs),
                                          self._clicks)
            if self.fit_gamma:
                moved_on = posterior[:, 1:][continues].sum()
                could = (posterior[:, :-1] - satisfied[:, :-1])[continues].sum()
                gamma = float(np.clip(self._beta_map(moved_on, could), 1e-6, 1.0))
            if log_likelihood - previous < tol:
                break
            previous = log_likelihood
        self._attractiveness, self._satisfaction, self.gamma = attractiveness, satisfaction, gamma
        self._default_attractiveness = self._support_mean(attractiveness)
        self._default_satisfaction = self._support_mean(satisfaction, self._clicks)
        return n_iter

    def _cell_parameters(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (per_cell(self._attractiveness, cells, self._default_attractiveness),
                per_cell(self._satisfaction, cells, self._default_satisfaction))

    def _click_probabilities(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        a, s = self._cell_parameters(cells)
        return _forward(a, s, self.gamma, log.clicks) * a

    def _examination(self, log: ClickLog, cells: np.ndarray) -> np.ndarray:
        """P(E_r = 1) = prod_{j<r} gamma (1 - a_j s_j), clicks marginalised out."""
        a, s = self._cell_parameters(cells)
        examined = np.ones(cells.shape)
        examined[:, 1:] = np.cumprod(self.gamma * (1.0 - a[:, :-1] * s[:, :-1]), axis=1)
        return mean_over_shown(examined, log.shown)

    def _pair_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        return self._attractiveness, self._satisfaction
