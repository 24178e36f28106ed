"""The encoder interface the indexer and the query path depend on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from encoders.identity import ModelIdentity


class TextEncoder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    identity: ModelIdentity

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Shape (len(texts), dimension), rows in input order, each of unit length."""
        ...
