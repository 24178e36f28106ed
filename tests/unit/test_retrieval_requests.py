"""What the search service sends to OpenSearch for each k-NN depth (a recording stand-in for the client;
the real engine's answers are covered by tests/integration/test_storefront_search.py)."""

from __future__ import annotations

import json

import numpy as np

from storefront.request import Filters, parse_search_request
from storefront.retrieval import bm25_body, default_configs, query_vector_param
from storefront.service import SearchService


class RecordingClient:
    """Answers every sub-search with one hit, whose cosine (on BM25 hits) or k-NN score it makes up."""

    def __init__(self) -> None:
        self.payloads: list[list[dict]] = []

    def msearch(self, body: list[dict]) -> dict:
        self.payloads.append(body)
        responses = []
        for search in body[1::2]:
            fields = {"id": ["p1"], "title.display": ["Drill"]}
            if "script_fields" in search:
                fields["vector_similarity"] = [0.5]
            responses.append({"hits": {"total": {"value": 1}, "hits": [{"_score": 0.9, "fields": fields}]}})
        return {"responses": responses}


class FixedVector:
    def vector(self, query: str) -> np.ndarray:
        return np.full(4, 0.5, dtype=np.float32)


def sent(k: int | None, request: dict) -> list[dict]:
    client = RecordingClient()
    service = SearchService(client, "products", FixedVector(),  # type: ignore[arg-type]
                            default_configs(candidates=100, hybrid_vector_candidates=k), "hybrid-minmax")
    result = service.search(parse_search_request(request), record=False)
    assert [r["id"] for r in result.results] == ["p1"]
    return client.payloads[0][1::2]


def test_k0_sends_only_the_bm25_search_with_exact_cosines() -> None:
    (bm25,) = sent(0, {"query": "drill"})
    assert bm25["size"] == 100 and "vector_similarity" in bm25["script_fields"]


def test_the_knn_search_asks_for_its_own_depth_and_keeps_the_filters() -> None:
    bm25, knn = sent(30, {"query": "drill", "filters": {"brand": "DEWALT", "price_max": 200}})
    assert bm25["size"] == 100
    embedding = knn["query"]["knn"]["embedding"]
    assert knn["size"] == embedding["k"] == 30
    assert embedding["filter"]["bool"]["filter"] == bm25["query"]["bool"]["filter"]


def test_unset_depth_follows_the_bm25_depth() -> None:
    _bm25, knn = sent(None, {"query": "drill"})
    assert knn["query"]["knn"]["embedding"]["k"] == 100


def test_the_query_vector_goes_out_short_and_keeps_its_cosines() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query, docs = vectors[0], vectors[1:]
    sent_vector = np.array(query_vector_param(query))
    exact = docs @ query / np.linalg.norm(query)
    approx = docs @ sent_vector / np.linalg.norm(sent_vector)
    assert np.max(np.abs(exact - approx)) < 1e-5
    assert len(json.dumps(query_vector_param(query))) < len(json.dumps(query.tolist())) / 2


def test_both_sub_searches_carry_the_same_rounded_vector() -> None:
    bm25, knn = sent(30, {"query": "drill"})
    expected = query_vector_param(FixedVector().vector("drill"))
    assert bm25["script_fields"]["vector_similarity"]["script"]["params"]["query_value"] == expected
    assert knn["query"]["knn"]["embedding"]["vector"] == expected


def test_matches_are_counted_only_where_facets_are_shown() -> None:
    assert bm25_body("drill", Filters(), 10)["track_total_hits"] is True
    assert bm25_body("drill", Filters(), 10, facets=False)["track_total_hits"] is False
