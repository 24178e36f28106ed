"""The Python reranker: scores the top of the fused list with a LightGBM model.

It is the reference the in-engine (``sltr``) scores are checked against, and the serving path
where the LTR plugin is absent. Candidates below the window keep their fused order underneath.
A personalised featureset reads the shopper's profile through ``profiles`` (anonymous shoppers
and unknown users get no profile, so their user features are missing, as in training).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import lightgbm as lgb
import numpy as np

from ltr.features.user import UserProfile
from ltr.ranker.extract import NO_BEHAVIOUR, FeatureExtractor, ProductBehaviour
from ltr.serving.contributions import BIAS_TERM, explain
from ltr.traits import ProductTraits, traits_of
from storefront.rerank_stage import Candidate, SearchContext

ProfileSource = Callable[[SearchContext], UserProfile | None]
TraitsLookup = Callable[[Iterable[str]], Mapping[str, ProductTraits]]  # product ids -> catalogue traits
EXPLAINED_TERMS = 8  # contributions shown per result, largest first; the rest are summed


def pool_traits(candidates: Sequence[Candidate], lookup: TraitsLookup | None) -> dict[str, ProductTraits]:
    """The catalogue's traits where ``lookup`` knows the product, the title-derived ones otherwise."""
    known = lookup(c.product_id for c in candidates) if lookup is not None else {}
    return {c.product_id: known.get(c.product_id) or candidate_traits(c) for c in candidates}


def candidate_traits(candidate: Candidate) -> ProductTraits:
    """Brand, department and price band from what the hit brought back (derived from the title)."""
    fields = candidate.fields
    return traits_of(candidate.product_id, fields.get("title"), fields.get("brand"), fields.get("category") or ())


class FeatureRow(Mapping[str, float]):
    """One candidate's feature values as a read-only view of a row of the model's input matrix.

    Every reranked candidate carries one, but only debug responses and explanations read it, so no
    per-candidate dict is built on the serving path.
    """

    __slots__ = ("_columns", "_row")

    def __init__(self, columns: Mapping[str, int], row: np.ndarray) -> None:
        self._columns, self._row = columns, row

    def __getitem__(self, name: str) -> float:
        return float(self._row[self._columns[name]])

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


class LtrReranker:
    def __init__(self, booster: lgb.Booster, extractor: FeatureExtractor, *, name: str, window: int = 200,
                 behaviour: ProductBehaviour = NO_BEHAVIOUR, profiles: ProfileSource | None = None,
                 traits: TraitsLookup | None = None) -> None:
        if booster.feature_name() != extractor.featureset.names:
            raise ValueError(f"model features {booster.feature_name()} differ from featureset "
                             f"{extractor.featureset.name} {extractor.featureset.names}")
        self.booster = booster
        self.extractor = extractor
        self.name = name
        self.window = window
        self.behaviour = behaviour
        self.profiles = profiles
        self.traits = traits
        self.personal = bool(extractor.featureset.of_source("user"))
        self._columns = {name: j for j, name in enumerate(extractor.featureset.names)}

    def features(self, query: str, candidates: Sequence[Candidate], context: SearchContext | None = None) -> np.ndarray:
        profile = self.profiles(context) if self.personal and self.profiles and context else None
        traits = pool_traits(candidates, self.traits) if profile is not None else None
        return self.extractor.matrix(query, candidates, self.behaviour, profile, traits)

    def scores(self, query: str, candidates: Sequence[Candidate], context: SearchContext | None = None) -> np.ndarray:
        return self.booster.predict(self.features(query, candidates, context))

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        head, tail = candidates[: self.window], candidates[self.window:]
        if len(head) < 2:
            return candidates
        matrix = self.features(query, head, context)
        scores = self.booster.predict(matrix)
        ranked = []
        for i in np.argsort(-scores, kind="stable"):
            candidate = head[int(i)]
            stages = {**candidate.stages, "ltr": float(scores[i])}
            ranked.append(Candidate(candidate.product_id, float(scores[i]), stages, candidate.fields,
                                    FeatureRow(self._columns, matrix[int(i)])))
        return ranked + tail

    def explain(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[dict]:
        """Each reranked candidate's score as feature contributions (TreeSHAP), largest first.

        Uses the feature values the ranking itself read, so the terms add up to the served score.
        """
        names = self.extractor.featureset.names
        explained = []
        for candidate in candidates:
            if candidate.features is None or list(candidate.features) != names:  # not scored by this model
                explained.append({})
                continue
            row = [candidate.features.get(name, math.nan) for name in names]
            terms = explain(self.booster, row, names)
            bias = dict(terms)[BIAS_TERM]
            features = [t for t in terms if t[0] != BIAS_TERM]
            shown, rest = features[:EXPLAINED_TERMS], features[EXPLAINED_TERMS:]
            explained.append({
                "model": self.name, "score": float(sum(c for _, c in terms)),
                "bias": bias, "other_features": float(sum(c for _, c in rest)),
                "contributions": [{"feature": name, "value": None if math.isnan(candidate.features[name])
                                   else candidate.features[name], "contribution": c} for name, c in shown]})
        return explained
