"""Feature vectors for (query, candidate) pairs, in featureset order, as float32, computed by the engine.

Every value is what the LTR plugin computes for the stored featureset (``ltr_log`` of an ``sltr``
rescore over the candidates' ids), from the params this module builds: the query
text, the first stage's values per candidate, the product behaviour (a point-in-time snapshot for
training, the documents' own fields when serving) and the shopper's maps. Training, the Python
reranker and the engine's ``sltr`` rescoring therefore read one definition through one code path,
and absent values are 0.0 everywhere (see :mod:`ltr.ranker.featureset`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np
from opensearchpy import OpenSearch

from indexer import schema
from ltr.features.product import default_product_features, product_features
from ltr.features.records import BehaviourLog
from ltr.features.user import UserProfile
from ltr.ranker.featureset import FeatureSet, document_fields
from ltr.ranker.query_history import QueryHistory, leave_one_out
from ltr.store import FeatureStore
from storefront.rerank_stage import Candidate

LOGGED = "shelfrank_features"  # the ltr_log logger's name


def positive(value: float) -> float:
    """``v + sqrt(v^2 + 1)``: strictly increasing from the reals onto (0, inf), for signed values that the
    engine would refuse as scores; written so that large negative values keep their precision."""
    if math.isnan(value):
        return 0.0
    root = math.sqrt(value * value + 1.0)
    return value + root if value >= 0 else 1.0 / (root - value)


@dataclass(frozen=True)
class ProductBehaviour:
    """Product behaviour features: a snapshot (``values`` per product, ``defaults`` for products without
    history), or, with ``in_documents``, whatever the documents hold now (``defaults`` still the priors)."""

    values: Mapping[str, Mapping[str, float]]  # product id -> feature name -> value
    defaults: Mapping[str, float]  # for products without history (the priors)
    in_documents: bool = False

    def get(self, product_id: str, name: str) -> float:
        return self.values.get(product_id, {}).get(name, self.defaults.get(name, 0.0))


NO_BEHAVIOUR = ProductBehaviour({}, {})


def stage_features(query: str, candidates: Sequence[Candidate]) -> dict[str, np.ndarray]:
    """First-stage signals in the engine's representation (absent = 0.0, nothing negative); ranks are
    1-based, and a product BM25 did not find ranks after all that it did."""
    n = len(candidates)
    bm25 = np.array([c.stages.get("bm25", math.nan) for c in candidates], dtype=np.float64)
    cosine = np.array([c.stages.get("vector", math.nan) for c in candidates], dtype=np.float64)
    fused = [c.stages.get("fused", c.score) for c in candidates]

    def ranks(scores: np.ndarray) -> np.ndarray:
        present = ~np.isnan(scores)
        order = np.argsort(-np.where(present, scores, -np.inf), kind="stable")
        rank = np.empty(n)
        rank[order] = np.arange(1, n + 1)
        return np.where(present, rank, present.sum() + 1)

    return {"bm25_score": np.nan_to_num(bm25, nan=0.0), "bm25_rank": ranks(bm25),
            "vector_cosine": np.nan_to_num(1.0 + cosine, nan=0.0), "vector_rank": ranks(cosine),
            "in_bm25": (~np.isnan(bm25)).astype(float), "fused_score": np.array([positive(v) for v in fused]),
            "fused_rank": np.arange(1, n + 1, dtype=float), "query_terms": np.full(n, float(len(query.split())))}


def _f32(values: Sequence[float]) -> list[float]:
    """Values as the float32 the engine will score (a double would be rounded there anyway)."""
    return np.asarray(values, dtype=np.float32).astype(np.float64).tolist()


def sltr_params(featureset: FeatureSet, query: str, candidates: Sequence[Candidate],
                behaviour: ProductBehaviour | None = None, profile: UserProfile | None = None,
                query_vector: Sequence[float] | None = None, history: QueryHistory | None = None) -> dict[str, Any]:
    """Every param the stored featureset's features read, for one query's candidates (pure).

    Only the params its features read are sent (the stage values of 200 candidates, or 384 floats of a query
    vector, are not free to send and parse); ``query_vector`` is read by ``vector`` features. ``history``
    (training) gives the ``history`` features each candidate's history without this query; None (serving)
    lets the engine read the documents' fields."""
    ids = [c.product_id for c in candidates]
    stage_names = [spec.name for spec in featureset.of_source("stage")]
    if stage_names:
        stage = stage_features(query, candidates)
        columns = np.column_stack([stage[name] for name in stage_names])
    behaviour = behaviour or document_behaviour({})
    product_names = [spec.name for spec in featureset.of_source("product")]
    params: dict[str, Any] = {"keywords": query}
    if stage_names:
        params["stage"] = {pid: _f32(row) for pid, row in zip(ids, columns)}
    if product_names:
        params["product_values"] = {} if behaviour.in_documents else {
            pid: _f32([behaviour.get(pid, name) for name in product_names]) for pid in ids}
        params["product_priors"] = _f32([behaviour.defaults.get(name, 0.0) for name in product_names])
    if featureset.of_source("user"):
        params.update({
            "user_brands": dict(profile.brand_affinity) if profile else {},
            "user_departments": dict(profile.department_affinity) if profile else {},
            "user_price_band": (profile.preferred_price_band or "") if profile else "",
            "session_departments": list(profile.recent_departments) if profile else [],
        })
    if featureset.of_source("vector"):
        params["query_vector"] = _f32(query_vector if query_vector is not None else [])
    if featureset.of_source("history"):
        params["history_values"] = {} if history is None else {
            pid: _f32(values) for pid, values in leave_one_out(history, query, ids).items()}
    return params


class FeatureLogger(Protocol):
    def log(self, featureset: FeatureSet, product_ids: Sequence[str], params: Mapping[str, Any]) -> np.ndarray:
        """(len(product_ids), len(featureset)) float32 in featureset order."""
        ...


class IndexLacksFields(ValueError):
    """The index was built before a field the featureset reads was stored."""


def require_fields(client: OpenSearch, index: str, featureset: FeatureSet) -> None:
    """Refuse to train ``featureset`` on an index whose mapping lacks a field its scripts read: every value
    of those features would be 0.0 and the model would learn nothing from them, silently."""
    mappings = client.indices.get_mapping(index=index)
    properties = next(iter(mappings.values()))["mappings"].get("properties", {})
    missing = sorted(f for f in document_fields(featureset) if f.split(".")[0] not in properties)
    if missing:
        raise IndexLacksFields(
            f"featureset {featureset.name} reads {', '.join(missing)}, which index {index} does not have (it was "
            "built before they were stored): rebuild it with `shelfrank index rebuild`, or train an older "
            "featureset (--featureset)")


class EngineFeatureLogger:
    """Logs a stored featureset's values on given products with ``ltr_log``, in one search.

    The featureset is an ``sltr`` *rescore* over the candidates' ids, logged by rescore index. Not
    a named ``sltr`` filter: on this OpenSearch version the fetch phase's matched-queries step
    hashes such a query for the query cache, and hashing a script feature's params fails
    ("Index 1 out of bounds", reproduced on a segment with deleted documents). The plugin only logs
    a rescore when the main query has a named clause (fixed upstream in 2.19.6), hence the named
    ids filter. The featureset is written to the catalogue's feature store on first use. Ids come
    back from the ``id`` doc values, not the stored ``_id``: loading stored fields for 200 hits
    scattered over the index costs several milliseconds; doc values almost nothing.
    """

    def __init__(self, client: OpenSearch, index: str, store: FeatureStore | None = None) -> None:
        self.client = client
        self.index = index
        self.store = store or FeatureStore(client, index)

    def log(self, featureset: FeatureSet, product_ids: Sequence[str], params: Mapping[str, Any]) -> np.ndarray:
        values = np.zeros((len(product_ids), len(featureset.features)), dtype=np.float32)
        if not product_ids:
            return values
        self.store.ensure_featureset(featureset)
        sltr = {"featureset": featureset.store_name, "store": self.store.name, "params": dict(params)}
        body = {"size": len(product_ids), "stored_fields": "_none_", "docvalue_fields": [schema.ID],
                "track_total_hits": False,
                "query": {"bool": {"filter": [{"ids": {"values": list(product_ids), "_name": "candidates"}}]}},
                "rescore": {"window_size": len(product_ids), "query": {
                    "rescore_query": {"sltr": sltr}, "query_weight": 0.0, "rescore_query_weight": 1.0}},
                "ext": {"ltr_log": {"log_specs": [{"name": LOGGED, "rescore_index": 0, "missing_as_zero": True}]}}}
        response = self.client.search(index=self.index, body=body)
        row = {pid: i for i, pid in enumerate(product_ids)}
        column = {name: j for j, name in enumerate(featureset.names)}
        for hit in response["hits"]["hits"]:
            (product_id,) = hit["fields"][schema.ID]
            for entry in hit["fields"]["_ltrlog"]:
                for feature in entry.get(LOGGED, ()):
                    values[row[product_id], column[feature["name"]]] = feature.get("value", 0.0)
        return values


QueryVectors = Callable[[str], Sequence[float]]


class FeatureExtractor:
    """``query_vectors`` (query text -> its vector, the storefront's query-vector cache) is needed by
    featuresets with a ``vector`` feature; the others never encode. ``history`` is training's: the labels'
    query history, from which each row's ``history`` features leave its own query out."""

    def __init__(self, featureset: FeatureSet, logger: FeatureLogger, query_vectors: QueryVectors | None = None,
                 history: QueryHistory | None = None) -> None:
        if featureset.of_source("vector") and query_vectors is None:
            raise ValueError(f"featureset {featureset.name} reads the query vector: give the extractor the "
                             "query encoder (query_vectors)")
        self.featureset = featureset
        self.logger = logger
        self.query_vectors = query_vectors
        self.history = history

    def with_history(self, history: QueryHistory) -> FeatureExtractor:
        """The same extractor for training rows whose query history is ``history``."""
        return FeatureExtractor(self.featureset, self.logger, self.query_vectors, history)

    def params(self, query: str, candidates: Sequence[Candidate], behaviour: ProductBehaviour | None = None,
               profile: UserProfile | None = None) -> dict[str, Any]:
        vector = self.query_vectors(query) if self.featureset.of_source("vector") and self.query_vectors else None
        return sltr_params(self.featureset, query, candidates, behaviour, profile, vector, self.history)

    def matrix(self, query: str, candidates: Sequence[Candidate], behaviour: ProductBehaviour | None = NO_BEHAVIOUR,
               profile: UserProfile | None = None) -> np.ndarray:
        """(len(candidates), len(featureset)) float32, columns in featureset order, never NaN.

        ``behaviour`` None reads product behaviour from the documents (serving); a snapshot
        overrides them (training: what was known before the label window)."""
        ids = [c.product_id for c in candidates]
        return self.logger.log(self.featureset, ids, self.params(query, candidates, behaviour, profile))


_PRODUCT_FEATURE_NAMES = {"product_ctr": "ctr", "product_purchase_rate": "purchase_rate",
                          "product_popularity": "popularity"}


def behaviour_snapshot(log: BehaviourLog, at: datetime, window_days: float = 30.0) -> ProductBehaviour:
    """Product behaviour as of ``at`` (only events strictly before it), for every product in the log.

    Products without history get the priors (what a product never shown would score).
    """
    ids = {r.product_id for r in log.shown} | {r.product_id for r in log.actions}
    sentinel = "\x00no-history"
    table = product_features(log, [*ids, sentinel], at, default_product_features(window_days))
    defaults = {ours: table[sentinel][theirs] for ours, theirs in _PRODUCT_FEATURE_NAMES.items()}
    values = {pid: {ours: row[theirs] for ours, theirs in _PRODUCT_FEATURE_NAMES.items()}
              for pid, row in table.items() if pid != sentinel}
    return ProductBehaviour(values, defaults)


def document_behaviour(priors: Mapping[str, float]) -> ProductBehaviour:
    """Serving: the documents' behaviour fields, with ``priors`` for products that have none."""
    return ProductBehaviour({}, dict(priors), in_documents=True)
