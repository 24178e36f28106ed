"""Feature vectors for (query, candidate) pairs, in featureset order, as float32 with NaN for
"no value" (LightGBM and the plugin's trees both send missing values down their default branch).

Text features are scored by OpenSearch itself: one search with one named clause per feature,
restricted to the candidates' ids, so a feature value is exactly what the same template scores
inside the engine. The other sources are computed here from the first stage, a product
behaviour snapshot and the shopper's profile.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from opensearchpy import OpenSearch

from ltr.features.product import default_product_features, product_features
from ltr.features.records import BehaviourLog
from ltr.features.user import UserProfile, user_product_features
from ltr.ranker.featureset import FeatureSet, FeatureSpec
from ltr.traits import ProductTraits, traits_of
from storefront.rerank_stage import Candidate


def render(template: dict, keywords: str) -> dict:
    """Substitute ``{{keywords}}`` (mustache, as the LTR plugin does) without string-splicing JSON."""
    return json.loads(json.dumps(template).replace('"{{keywords}}"', json.dumps(keywords)))


class TextFeatureLogger:
    """Scores text-feature templates on given products in one OpenSearch search.

    Each template becomes a named clause of one ``bool`` restricted to the products' ids, and
    ``include_named_queries_score`` returns every clause's own score per hit: exactly what the
    template scores alone (and what the LTR plugin's feature would log), in one request instead of
    one per feature. A product a clause does not match gets 0 for that feature.
    """

    def __init__(self, client: OpenSearch, index: str) -> None:
        self.client = client
        self.index = index

    def log(self, query: str, product_ids: Sequence[str], specs: Sequence[FeatureSpec]) -> np.ndarray:
        values = np.zeros((len(product_ids), len(specs)), dtype=np.float32)
        if not product_ids or not specs:
            return values
        clauses = [{"bool": {"must": [render(spec.template or {}, query)], "_name": spec.name}} for spec in specs]
        # Ids come back from the `id` doc values, not the stored `_id`: loading stored fields for
        # 200 hits scattered over the index costs several milliseconds; doc values almost nothing.
        body = {"size": len(product_ids), "stored_fields": "_none_", "docvalue_fields": ["id"],
                "track_total_hits": False,
                "query": {"bool": {"should": clauses, "filter": [{"ids": {"values": list(product_ids)}}]}}}
        response = self.client.search(index=self.index, body=body, params={"include_named_queries_score": "true"})
        row = {pid: i for i, pid in enumerate(product_ids)}
        column = {spec.name: j for j, spec in enumerate(specs)}
        for hit in response["hits"]["hits"]:
            (product_id,) = hit["fields"]["id"]
            for name, score in (hit.get("matched_queries") or {}).items():
                values[row[product_id], column[name]] = score
        return values


@dataclass(frozen=True)
class ProductBehaviour:
    """Product behaviour features as of one moment (a snapshot: computed once, looked up per search)."""

    values: Mapping[str, Mapping[str, float]]  # product id -> feature name -> value
    defaults: Mapping[str, float]  # for products without history (the priors)

    def get(self, product_id: str, name: str) -> float:
        return self.values.get(product_id, {}).get(name, self.defaults.get(name, math.nan))


NO_BEHAVIOUR = ProductBehaviour({}, {})


def stage_features(query: str, candidates: Sequence[Candidate]) -> dict[str, np.ndarray]:
    """First-stage signals; ranks are 1-based, and a product BM25 did not find ranks after all that it did."""
    n = len(candidates)
    bm25 = np.array([c.stages.get("bm25", math.nan) for c in candidates], dtype=np.float64)
    cosine = np.array([c.stages.get("vector", math.nan) for c in candidates], dtype=np.float64)
    fused = np.array([c.stages.get("fused", c.score) for c in candidates], dtype=np.float64)

    def ranks(scores: np.ndarray) -> np.ndarray:
        present = ~np.isnan(scores)
        order = np.argsort(-np.where(present, scores, -np.inf), kind="stable")
        rank = np.empty(n)
        rank[order] = np.arange(1, n + 1)
        return np.where(present, rank, present.sum() + 1)

    return {"bm25_score": bm25, "bm25_rank": ranks(bm25), "vector_cosine": cosine, "vector_rank": ranks(cosine),
            "in_bm25": (~np.isnan(bm25)).astype(float), "fused_score": fused,
            "fused_rank": np.arange(1, n + 1, dtype=float), "query_terms": np.full(n, float(len(query.split())))}


class FeatureExtractor:
    def __init__(self, featureset: FeatureSet, text_logger: TextFeatureLogger) -> None:
        self.featureset = featureset
        self.text_logger = text_logger

    def matrix(self, query: str, candidates: Sequence[Candidate], behaviour: ProductBehaviour = NO_BEHAVIOUR,
               profile: UserProfile | None = None, traits: Mapping[str, ProductTraits] | None = None) -> np.ndarray:
        """(len(candidates), len(featureset)) float32, columns in featureset order."""
        ids = [c.product_id for c in candidates]
        columns: dict[str, np.ndarray] = {}
        text_specs = self.featureset.of_source("text")
        text = self.text_logger.log(query, ids, text_specs)
        for j, spec in enumerate(text_specs):
            columns[spec.name] = text[:, j]
        stage = stage_features(query, candidates)
        for spec in self.featureset.of_source("stage"):
            columns[spec.name] = stage[spec.name]
        for spec in self.featureset.of_source("product"):
            columns[spec.name] = np.array([behaviour.get(pid, spec.name) for pid in ids])
        user_specs = self.featureset.of_source("user")
        if user_specs:
            rows = [user_product_features(profile, (traits or {}).get(pid) or traits_of(pid, None))
                    if profile is not None else {} for pid in ids]
            for spec in user_specs:
                columns[spec.name] = np.array([row.get(spec.name, math.nan) for row in rows])
        return np.column_stack([columns[name] for name in self.featureset.names]).astype(np.float32)


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
