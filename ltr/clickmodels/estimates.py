"""Per-(query, doc) estimates of a fitted click model, as columns with a row view.

Columns keep labels and reports vectorised over millions of pairs; iterating yields one
``PairEstimate`` per pair for code that wants rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ltr.clickmodels.pairs import PairIndex


class PairEstimate(NamedTuple):
    query: str
    doc: str
    attractiveness: float
    satisfaction: float | None  # DBN only
    relevance: float  # attractiveness, times satisfaction where the model has it
    impressions: int  # times shown in the training log: the support of the estimate
    clicks: int


@dataclass(frozen=True, eq=False)
class PairEstimates:
    """Row i describes pair i of ``pairs``."""

    pairs: PairIndex
    attractiveness: np.ndarray
    satisfaction: np.ndarray | None
    relevance: np.ndarray
    impressions: np.ndarray
    clicks: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[PairEstimate]:
        for i in range(len(self)):
            yield self.row(i)

    def row(self, i: int) -> PairEstimate:
        query, doc = self.pairs.key(i)
        return PairEstimate(query, doc, float(self.attractiveness[i]),
                            None if self.satisfaction is None else float(self.satisfaction[i]),
                            float(self.relevance[i]), int(self.impressions[i]), int(self.clicks[i]))
