"""Is a ranking's gain real? Paired bootstrap intervals and the queries it helped and hurt (pure).

A mean nDCG difference of 0.01 over 2,000 queries can be noise or a real gain; the paired bootstrap
(resampling queries, keeping each query's two scores together) says which, without assuming a
distribution. Helped / hurt counts say whether a gain is broad or a few queries' luck.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedComparison:
    mean_difference: float  # mean of (candidate - baseline) per query
    low: float  # bootstrap 95% interval of that mean
    high: float
    helped: int  # queries where the candidate scores higher
    hurt: int  # ... lower
    queries: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0

    def describe(self) -> str:
        return (f"{self.mean_difference:+.4f} [{self.low:+.4f}, {self.high:+.4f}], "
                f"helped {self.helped} / hurt {self.hurt} of {self.queries}")


def paired_bootstrap(candidate: Sequence[float], baseline: Sequence[float], resamples: int = 2000,
                     seed: int = 0, confidence: float = 0.95) -> PairedComparison:
    """Per-query scores of two rankings over the same queries, in the same order."""
    a, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise ValueError(f"need two equally long, non-empty score lists (got {a.shape} and {b.shape})")
    difference = a - b
    rng = np.random.default_rng(seed)
    means = difference[rng.integers(0, len(difference), size=(resamples, len(difference)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return PairedComparison(float(difference.mean()), float(low), float(high), int((difference > 1e-12).sum()),
                            int((difference < -1e-12).sum()), len(difference))
