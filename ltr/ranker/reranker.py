"""The Python reranker: scores the top of the fused list with a LightGBM model.

It is the reference the in-engine (``sltr``) scores are checked against, and the serving path
where the LTR plugin is absent. Candidates below the window keep their fused order underneath.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightgbm as lgb
import numpy as np

from ltr.ranker.extract import NO_BEHAVIOUR, FeatureExtractor, ProductBehaviour
from storefront.service import Candidate, SearchContext


class LtrReranker:
    def __init__(self, booster: lgb.Booster, extractor: FeatureExtractor, *, name: str, window: int = 200,
                 behaviour: ProductBehaviour = NO_BEHAVIOUR) -> None:
        if booster.feature_name() != extractor.featureset.names:
            raise ValueError(f"model features {booster.feature_name()} differ from featureset "
                             f"{extractor.featureset.name} {extractor.featureset.names}")
        self.booster = booster
        self.extractor = extractor
        self.name = name
        self.window = window
        self.behaviour = behaviour

    def scores(self, query: str, candidates: Sequence[Candidate]) -> np.ndarray:
        return self.booster.predict(self.extractor.matrix(query, candidates, self.behaviour))

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        head, tail = candidates[: self.window], candidates[self.window:]
        if len(head) < 2:
            return candidates
        scores = self.scores(query, head)
        order = np.argsort(-scores, kind="stable")
        ranked = []
        for i in order:
            candidate = head[int(i)]
            candidate.stages["ltr"] = float(scores[i])
            ranked.append(Candidate(candidate.product_id, float(scores[i]), candidate.stages))
        return ranked + tail
