"""Named retrieval configurations and the OpenSearch query bodies they produce (pure functions).

BM25 and k-NN candidates come back in one ``_msearch`` round trip. Fusion then happens in
Python, where every stage's scores stay visible for debugging and explanations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from indexer import schema
from storefront.request import Filters

Fusion = Literal["none", "rrf", "minmax", "zscore"]

BM25_FIELDS = schema.BM25_FIELDS

FACETS = {
    "brand": {"terms": {"field": schema.BRAND_KEYWORD, "size": 20}},
    "category": {"terms": {"field": schema.CATEGORY_LEAF, "size": 20}},
    "availability": {"terms": {"field": schema.AVAILABILITY, "size": 5}},
    "price": {"range": {"field": schema.PRICE, "ranges": [
        {"key": "under 25", "to": 25}, {"key": "25-100", "from": 25, "to": 100},
        {"key": "100-500", "from": 100, "to": 500}, {"key": "500+", "from": 500}]}},
}


@dataclass(frozen=True)
class RetrievalConfig:
    name: str
    bm25: bool
    vector: bool
    fusion: Fusion = "none"
    bm25_weight: float = 0.5
    vector_weight: float = 0.5
    rrf_k: float = 60.0
    candidates: int = 100  # BM25 depth (the k of a vector-only config); also the deepest page served
    #: k of the k-NN sub-query in a hybrid; ``None`` means ``candidates``. The BM25 candidates already
    #: carry exact cosines, so the k-NN query only has to add the products BM25 missed, and its
    #: graph search costs grow with k (see docs/measurements.md). 0 sends no k-NN query at all.
    vector_candidates: int | None = None
    #: How deep the k-NN graph search looks (lucene's ``ef_search``); ``None``: the engine's default, k.
    #: Deeper finds the true nearest neighbours more often at a latency cost; below k it changes nothing.
    ef_search: int | None = None
    fields: tuple[str, ...] = BM25_FIELDS  # the BM25 multi_match fields with their boosts
    #: Groups of interchangeable terms; a query containing one is also searched with the others.
    synonyms: tuple[tuple[str, ...], ...] = ()

    @property
    def knn_k(self) -> int:
        """How many nearest neighbours the k-NN sub-query asks for (0: none)."""
        if not self.vector:
            return 0
        if not self.bm25 or self.vector_candidates is None:
            return self.candidates
        return self.vector_candidates


#: What every candidate hit brings back, read from doc values only (``stored_fields: _none_``):
#: loading stored fields costs a block decompression per hit, about 5 ms per 100 hits, while the
#: id and the display title come almost free from doc values.
HIT_FIELDS = (schema.ID, schema.TITLE_DISPLAY)


def hit_id(hit: dict) -> str:
    """The product id of a hit, from doc values (:data:`HIT_FIELDS`), not the stored ``_id``."""
    return hit["fields"][schema.ID][0]


def default_configs(vector_weight: float = 0.5, candidates: int = 100, hybrid_vector_candidates: int | None = None,
                    ) -> dict[str, RetrievalConfig]:
    bm25_weight = 1.0 - vector_weight
    hybrid = {"candidates": candidates, "vector_candidates": hybrid_vector_candidates}
    configs = [
        RetrievalConfig("bm25", bm25=True, vector=False, candidates=candidates),
        RetrievalConfig("vector", bm25=False, vector=True, candidates=candidates),
        RetrievalConfig("hybrid-rrf", True, True, "rrf", bm25_weight, vector_weight, **hybrid),
        RetrievalConfig("hybrid-minmax", True, True, "minmax", bm25_weight, vector_weight, **hybrid),
        RetrievalConfig("hybrid-zscore", True, True, "zscore", bm25_weight, vector_weight, **hybrid),
    ]
    return {c.name: c for c in configs}


def filter_clauses(filters: Filters) -> list[dict]:
    clauses: list[dict] = []
    if filters.categories:
        clauses.append({"terms": {schema.CATEGORY: list(filters.categories)}})
    if filters.brands:
        clauses.append({"terms": {schema.BRAND_KEYWORD: list(filters.brands)}})
    if filters.availability:
        clauses.append({"terms": {schema.AVAILABILITY: list(filters.availability)}})
    if filters.price_min is not None or filters.price_max is not None:
        price: dict[str, float] = {}
        if filters.price_min is not None:
            price["gte"] = filters.price_min
        if filters.price_max is not None:
            price["lte"] = filters.price_max
        clauses.append({"range": {schema.PRICE: price}})
    return clauses


#: Most query variants one synonym-expanded BM25 query carries (the original among them).
MAX_QUERY_VARIANTS = 8


def synonym_variants(query: str, groups: Sequence[Sequence[str]]) -> list[str]:
    """The query first, then each variant with one group member replaced by another (whole words
    only, lower-cased), at most :data:`MAX_QUERY_VARIANTS` in all."""
    variants = [query]
    padded = f" {query.lower()} "
    for group in groups:
        for term in group:
            if f" {term} " not in padded:
                continue
            for other in group:
                if other != term:
                    variant = padded.replace(f" {term} ", f" {other} ").strip()
                    if variant not in variants:
                        variants.append(variant)
                if len(variants) >= MAX_QUERY_VARIANTS:
                    return variants
    return variants


def text_query(query: str, fields: Sequence[str] = BM25_FIELDS, synonyms: Sequence[Sequence[str]] = ()) -> dict:
    """The BM25 text clause: one multi_match, or with synonyms the best of the variants' (``dis_max``),
    so a product matching both the query and a synonym is not counted twice."""
    def match(text: str) -> dict:
        return {"multi_match": {"query": text, "fields": list(fields), "type": "best_fields", "tie_breaker": 0.3}}

    variants = synonym_variants(query, synonyms) if synonyms else [query]
    if len(variants) == 1:
        return match(query)
    return {"dis_max": {"queries": [match(v) for v in variants]}}


def bm25_body(query: str, filters: Filters, size: int, facets: bool = True,
              vector: list[float] | None = None, fields: Sequence[str] = BM25_FIELDS,
              synonyms: Sequence[Sequence[str]] = ()) -> dict:
    """BM25 candidates; with ``facets``, also the facet counts and the exact number of matches shown
    next to them; with ``vector``, each hit also carries its exact cosine similarity to it.

    Without that cosine, a BM25 candidate outside the k-NN top-k would get no vector score at all
    and fusion would treat it as the least similar product in the catalogue.
    """
    body: dict = {
        "size": size,
        "stored_fields": "_none_",
        "docvalue_fields": list(HIT_FIELDS),
        "track_total_hits": facets,
        "query": {
            "bool": {
                "must": [text_query(query, fields, synonyms)],
                "filter": filter_clauses(filters),
            }
        },
    }
    if facets:
        body["aggs"] = FACETS
    if vector is not None:
        body["script_fields"] = {"vector_similarity": {"script": {
            "source": f"cosineSimilarity(params.query_value, doc['{schema.VECTOR}'])",
            "params": {"query_value": vector}}}}
    return body


#: Decimal places of the query vector in a request. A float32 written as a double takes 17-19 digits,
#: a hybrid sends the vector twice (k-NN query and cosine script), and the node parses every digit:
#: six places halve the request and keep each cosine within 1e-5 of the exact one.
QUERY_VECTOR_DECIMALS = 6


def query_vector_param(vector: np.ndarray) -> list[float]:
    """The query vector as it goes into a request body."""
    return np.round(np.asarray(vector, dtype=np.float64), QUERY_VECTOR_DECIMALS).tolist()


def knn_score_to_cosine(score: float) -> float:
    """Lucene's cosinesimil k-NN score is (1 + cos) / 2; fusion works on the cosine itself."""
    return 2.0 * score - 1.0


def knn_body(vector: list[float], filters: Filters, size: int, ef_search: int | None = None) -> dict:
    knn: dict = {"vector": vector, "k": size}
    if ef_search is not None:  # the node then matches ef_search products; ``size`` still returns the best k
        knn["method_parameters"] = {"ef_search": ef_search}
    clauses = filter_clauses(filters)
    if clauses:
        # Lucene k-NN applies the filter while searching the graph, so k results still come back.
        knn["filter"] = {"bool": {"filter": clauses}}
    return {"size": size, "stored_fields": "_none_", "docvalue_fields": list(HIT_FIELDS),
            "query": {"knn": {schema.VECTOR: knn}}}


def rescored_body(body: dict, rescore_query: dict, window: int) -> dict:
    """A retriever's top ``window`` hits scored by ``rescore_query`` alone (query weight 0), for a rerank
    inside the first stage's ``_msearch``. The same query as ``body`` finds the same top hits; only their
    ids and new scores come back, so the plain request still gives every retriever score (on 2.19 an
    ``_msearch`` cannot return a rescored hit's first-pass score, ``include_named_queries_score``)."""
    window = min(window, body["size"])
    copy = {key: value for key, value in body.items() if key not in ("aggs", "script_fields")}
    copy.update(size=window, track_total_hits=False, docvalue_fields=[schema.ID],
                rescore={"window_size": window, "query": {"rescore_query": rescore_query, "query_weight": 0.0,
                                                          "rescore_query_weight": 1.0}})
    return copy
