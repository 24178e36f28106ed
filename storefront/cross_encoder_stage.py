"""The optional last stage: a cross-encoder rescores the top few candidates of the ranking so far.

It costs one transformer pass per (query, candidate), far more than the engine's rerank, so it is
off unless ``SHELFRANK_CROSS_ENCODER_PATH`` names a trained folder, and reads only the top
``SHELFRANK_CROSS_ENCODER_TOP``. The cross-encoder's scores and the previous stage's are each
standardised within the query and added, the previous stage weighted by the blend the training run
chose on validation queries: the stage refines the order, it does not throw away what the first
stages knew. If it fails, the search is served in the order it had (logged), never an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoders.cross_encoder import CrossEncoder
from storefront.rerank_stage import Candidate

log = logging.getLogger(__name__)


def standardised(values: Sequence[float]) -> np.ndarray:
    """(v - mean) / std within one list; all zeros when the list is flat."""
    array = np.asarray(values, dtype=np.float64)
    spread = array.std()
    return np.zeros_like(array) if spread == 0 or not np.isfinite(spread) else (array - array.mean()) / spread


def blended_order(cross_scores: Sequence[float], prior_scores: Sequence[float], prior_weight: float) -> list[int]:
    """Indices best first by standardised cross-encoder score + ``prior_weight`` x standardised prior score
    (ties keep the prior order)."""
    combined = standardised(cross_scores) + prior_weight * standardised(prior_scores)
    return [int(i) for i in np.argsort(-combined, kind="stable")]


class CrossEncoderStage:
    """Reorders the top ``top`` candidates; the rest keep their place below them."""

    def __init__(self, encoder: CrossEncoder, top: int, prior_weight: float) -> None:
        self.encoder = encoder
        self.top = top
        self.prior_weight = prior_weight

    @property
    def name(self) -> str:
        return f"cross-encoder:{self.encoder.name}"

    def rerank(self, query: str, candidates: list[Candidate]) -> list[Candidate]:
        head = candidates[: self.top]
        if len(head) < 2:
            return candidates
        started = time.perf_counter()
        try:
            scores = self.encoder.score(query, [str(c.fields.get("title") or "") for c in head])
        except Exception:  # noqa: BLE001 - the optional stage must never fail a search
            log.exception("cross-encoder stage failed; serving the ranking before it")
            return candidates
        order = blended_order(scores, [c.score for c in head], self.prior_weight)
        for candidate, score in zip(head, scores):
            candidate.stages["cross_encoder"] = float(score)
        log.debug("cross-encoder rescored %d candidates in %.1f ms", len(head), (time.perf_counter() - started) * 1000)
        return [head[i] for i in order] + candidates[self.top:]



def load_stage(folder: Path, top: int, prior_weight: float | None = None, device: str | None = None,
               cpu_threads: int | None = None) -> CrossEncoderStage:
    """The stage for a trained folder; ``prior_weight`` None is the one its training chose on validation
    queries (1.0 for a folder that records none)."""
    encoder = CrossEncoder(Path(folder), device=device, cpu_threads=cpu_threads)
    chosen = encoder.metadata.get("prior_weight")
    weight = prior_weight if prior_weight is not None else 1.0 if chosen is None else float(chosen)
    return CrossEncoderStage(encoder, top, weight)
