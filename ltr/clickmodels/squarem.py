"""SQUAREM (Varadhan and Roland, 2008, scheme S3): extrapolating a slow EM fixed-point map.

With attractiveness integrated out, EM crawls along the direction where examination and the prior
trade off (their common scale is pinned only by the prior living on (0, 1)): on logs of real,
non-randomised pages it needed ~350 plain steps, and stopped at 50 it left examination 0.03-0.05
low. Two EM steps give a secant estimate of that direction; one long step along it, kept only if
the likelihood does not drop, and one EM step from there usually converge in a few dozen steps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# step(x) -> (log-likelihood at x, EM update of x); x a vector of unconstrained parameters
Step = Callable[[np.ndarray], tuple[float, np.ndarray]]


def squarem(step: Step, x: np.ndarray, *, max_steps: int, tol: float) -> tuple[np.ndarray, int]:
    """(the fixed point, EM steps run); stops once a cycle (two or three EM steps) gains less than
    ``tol`` or when another cycle could exceed ``max_steps``. The point returned is one plain EM step
    past the last accepted one, so it is never worse than that."""
    log_likelihood, x1 = step(x)
    n_steps = 1
    longest = 4.0  # the extrapolation may grow by this factor each time it is used in full
    while n_steps + 3 <= max_steps:
        ll1, x2 = step(x1)
        r = x1 - x
        v = x2 - x1 - r
        length = float(np.sqrt(v @ v))
        if length == 0.0:  # already a fixed point
            return x2, n_steps + 1
        alpha = float(np.clip(-np.sqrt(r @ r) / length, -longest, -1.0))
        if alpha == -longest:
            longest *= 4.0
        extrapolated = x - 2.0 * alpha * r + alpha * alpha * v
        ll_extrapolated, x3 = step(extrapolated)
        n_steps += 2
        if np.isfinite(ll_extrapolated) and ll_extrapolated >= ll1:
            new, new_ll, following = extrapolated, ll_extrapolated, x3
        else:  # the long step overshot: keep the plain double step, and be more careful next time
            longest = max(1.0, longest / 4.0)
            new_ll, following = step(x2)
            new = x2
            n_steps += 1
        gain = new_ll - log_likelihood
        x, x1, log_likelihood = new, following, new_ll
        if gain < tol:
            break
    return x1, n_steps
