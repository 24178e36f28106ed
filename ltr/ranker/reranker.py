"""The rerank stage: the top of the fused list scored by the active LightGBM model.

Two engines score it with the same params (:func:`ltr.ranker.extract.sltr_params`):
:class:`EngineReranker` lets the LTR plugin's ``sltr`` score the candidates with the model
uploaded to the feature store (one request, the default), and :class:`LtrReranker` logs the
feature vectors (``ltr_log``) and scores them with LightGBM's own ``predict`` in Python: the
reference the engine is checked against. Candidates below the window keep their fused order
underneath. A personalised featureset reads the shopper's profile through ``profiles`` (anonymous
shoppers and unknown users get no profile, so their user features are 0, as in training).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from indexer import schema
from ltr.features.user import UserProfile
from ltr.ranker.extract import FeatureExtractor, ProductBehaviour, document_behaviour
from ltr.ranker.featureset import engine_only
from ltr.serving.contributions import BIAS_TERM, explain
from ltr.store import FeatureStore
from indexer.traits import ProductTraits, traits_of
from storefront.rerank_stage import Candidate, FirstStageRescore, SearchContext, retriever_heads

if TYPE_CHECKING:  # a booster comes in loaded; importing LightGBM is the artifact's business
    import lightgbm as lgb

ProfileSource = Callable[[SearchContext], UserProfile | None]
TraitsLookup = Callable[[Iterable[str]], Mapping[str, ProductTraits]]  # product ids -> catalogue traits
log = logging.getLogger(__name__)
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


class LoggedWindow:
    """The feature matrix of one engine-scored window, logged from the same params on first use.

    The engine returns scores only; debug responses and explanations need the values behind them.
    Stage features depend on the whole window (ranks), so the window is logged as one, lazily:
    a search that nobody explains costs no second request.
    """

    def __init__(self, extractor: FeatureExtractor, ids: Sequence[str], params: Mapping) -> None:  # type: ignore[type-arg]
        self.extractor, self.ids, self.params = extractor, list(ids), params
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def matrix(self) -> np.ndarray:
        with self._lock:
            if self._matrix is None:
                self._matrix = self.extractor.logger.log(self.extractor.featureset, self.ids, self.params)
            return self._matrix


class LoggedRow(FeatureRow):
    """A candidate's row of a :class:`LoggedWindow`, read (and logged) only when asked for."""

    __slots__ = ("_window", "_index")

    def __init__(self, columns: Mapping[str, int], window: LoggedWindow, index: int) -> None:
        self._columns, self._window, self._index = columns, window, index

    def __getitem__(self, name: str) -> float:
        return float(self._window.matrix[self._index, self._columns[name]])


class LtrReranker:
    def __init__(self, booster: lgb.Booster, extractor: FeatureExtractor, *, name: str, window: int = 200,
                 behaviour: ProductBehaviour | None = None, profiles: ProfileSource | None = None,
                 retriever_window: int = 0) -> None:
        if booster.feature_name() != extractor.featureset.names:
            raise ValueError(f"model features {booster.feature_name()} differ from featureset "
                             f"{extractor.featureset.name} {extractor.featureset.names}")
        self.booster = booster
        self.extractor = extractor
        self.name = name
        self.window = window
        self.behaviour = behaviour or document_behaviour({})
        self.profiles = profiles
        self.personal = bool(extractor.featureset.of_source("user"))
        self._columns = {name: j for j, name in enumerate(extractor.featureset.names)}
        #: A model the engine can score alone reranks each retriever's top ``retriever_window`` (scored inside
        #: the first stage's request by :class:`EngineReranker`); the others, whose stage features describe
        #: the fused list, rerank its top ``window``. Both engines choose the same candidates.
        self.retriever_window = retriever_window if engine_only(extractor.featureset) else 0

    def profile(self, context: SearchContext | None) -> UserProfile | None:
        return self.profiles(context) if self.personal and self.profiles and context else None

    def features(self, query: str, candidates: Sequence[Candidate], context: SearchContext | None = None) -> np.ndarray:
        return self.extractor.matrix(query, candidates, self.behaviour, self.profile(context))

    def scores(self, query: str, candidates: Sequence[Candidate], context: SearchContext | None = None) -> np.ndarray:
        return self.booster.predict(self.features(query, candidates, context))

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        """The window by the model's score; on an OpenSearch error (a model the store lost, a failing
        script) the unreranked list, logged: live search keeps answering."""
        head, tail = self.split(candidates)
        if len(head) < 2:
            return candidates
        params = self.extractor.params(query, head, self.behaviour, self.profile(context))
        try:
            scores, rows = self._score([c.product_id for c in head], params)
        except TransportError as exc:
            log.warning("model %s could not score in OpenSearch (%s: %s); serving the unreranked list (if the "
                        "store lost it: shelfrank models sync)", self.name, exc.status_code, exc.error)
            return candidates
        return self._ranked(head, scores, rows) + tail

    def split(self, candidates: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """(what the model scores, what keeps its fused order underneath), both in fused order. Candidates
        that do not say where their retrievers ranked them (built offline) get the fused window."""
        if self.retriever_window and any(c.retriever_ranks for c in candidates):
            head = retriever_heads(candidates, self.retriever_window)
            chosen = {id(c) for c in head}
            return head, [c for c in candidates if id(c) not in chosen]
        return candidates[: self.window], candidates[self.window:]

    @staticmethod
    def _ranked(head: Sequence[Candidate], scores: np.ndarray, rows: Sequence[FeatureRow]) -> list[Candidate]:
        ranked = []
        for i in np.argsort(-scores, kind="stable"):  # ties keep the fused order, alike in both engines
            candidate, score = head[int(i)], float(scores[i])
            ranked.append(Candidate(candidate.product_id, score, {**candidate.stages, "ltr": score}, candidate.fields,
                                    rows[int(i)], candidate.retriever_ranks))
        return ranked

    def _score(self, ids: Sequence[str], params: Mapping) -> tuple[np.ndarray, list[FeatureRow]]:  # type: ignore[type-arg]
        """Scores and feature rows of the window: logged features, then LightGBM in this process."""
        matrix = self.extractor.logger.log(self.extractor.featureset, ids, params)
        return self.booster.predict(matrix), [FeatureRow(self._columns, row) for row in matrix]

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


class EngineReranker(LtrReranker):
    """Scores the window inside OpenSearch: ``sltr`` with the model uploaded to the feature store.

    One search per query: the candidates' ids as a filter, the model as a rescore with
    ``query_weight`` 0, so each hit's score is the model's. The booster stays loaded for debug
    explanations (feature values logged on demand, TreeSHAP in Python).
    """

    def __init__(self, booster: lgb.Booster, extractor: FeatureExtractor, *, name: str, client: OpenSearch,
                 index: str, store: FeatureStore, store_model: str | None = None, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(booster, extractor, name=name, **kwargs)
        self.client, self.index, self.store = client, index, store
        self.store_model = store_model or name

    def engine_scores(self, query: str, candidates: Sequence[Candidate],
                      context: SearchContext | None = None) -> np.ndarray:
        """The model's score for each candidate, computed by the plugin (float32, in the given order)."""
        params = self.extractor.params(query, candidates, self.behaviour, self.profile(context))
        return self._engine([c.product_id for c in candidates], params)

    def first_stage_rescore(self, query: str, context: SearchContext) -> FirstStageRescore | None:
        """The model as a rescore of each retriever's top window, when it needs no per-candidate params
        (an engine-only featureset, behaviour read from the documents): one request per search."""
        if not self.retriever_window or not self.behaviour.in_documents:
            return None
        params = self.extractor.params(query, [], self.behaviour, None)
        return FirstStageRescore(self._sltr(params), self.retriever_window)

    def rank_rescored(self, query: str, candidates: list[Candidate], scores: Mapping[str, float],
                      context: SearchContext) -> list[Candidate]:
        """Like :meth:`rerank`, with the scores the first stage's rescore already returned."""
        head, tail = self.split(candidates)
        if len(head) < 2:
            return candidates
        ids = [c.product_id for c in head]
        window = LoggedWindow(self.extractor, ids, self.extractor.params(query, head, self.behaviour, None))
        lowest = float(np.finfo(np.float32).min)  # not rescored (cannot happen unless a product was deleted)
        values = np.array([scores.get(pid, lowest) for pid in ids], dtype=np.float64)
        return self._ranked(head, values, [LoggedRow(self._columns, window, i) for i in range(len(ids))]) + tail

    def _sltr(self, params: Mapping) -> dict:  # type: ignore[type-arg]
        return {"sltr": {"model": self.store_model, "store": self.store.name, "params": params}}

    def _engine(self, ids: Sequence[str], params: Mapping) -> np.ndarray:  # type: ignore[type-arg]
        body = {"size": len(ids), "stored_fields": "_none_", "docvalue_fields": [schema.ID],
                "track_total_hits": False, "query": {"ids": {"values": list(ids)}},
                "rescore": {"window_size": len(ids), "query": {
                    "rescore_query": self._sltr(params),
                    "query_weight": 0.0, "rescore_query_weight": 1.0}}}
        response = self.client.search(index=self.index, body=body)
        found = {hit["fields"][schema.ID][0]: hit["_score"] for hit in response["hits"]["hits"]}
        lowest = float(np.finfo(np.float32).min)  # deleted since retrieval: last
        return np.array([found.get(pid, lowest) for pid in ids], dtype=np.float64)

    def _score(self, ids: Sequence[str], params: Mapping) -> tuple[np.ndarray, list[FeatureRow]]:  # type: ignore[type-arg]
        """Scores from the engine; the rows are logged from the same params only if someone reads them."""
        window = LoggedWindow(self.extractor, ids, params)
        return self._engine(ids, params), [LoggedRow(self._columns, window, i) for i in range(len(ids))]
