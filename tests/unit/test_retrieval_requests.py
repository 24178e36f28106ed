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


def test_a_rescored_copy_asks_for_the_same_top_hits_scored_by_the_model_alone():
    from storefront.retrieval import rescored_body

    vector = [0.1, 0.2]
    body = bm25_body("drill", Filters(brands=("DEWALT",)), 100, vector=vector)
    sltr = {"sltr": {"model": "m", "store": "s", "params": {"keywords": "drill"}}}
    copy = rescored_body(body, sltr, 30)
    assert copy["query"] == body["query"] and copy["size"] == 30 and copy["track_total_hits"] is False
    assert "aggs" not in copy and "script_fields" not in copy and copy["docvalue_fields"] == ["id"]
    assert copy["rescore"] == {"window_size": 30, "query": {"rescore_query": sltr, "query_weight": 0.0,
                                                              "rescore_query_weight": 1.0}}
    assert "rescore" not in body and body["size"] == 100  # the plain request is left as it was
    assert rescored_body(bm25_body("drill", Filters(), 10), sltr, 30)["size"] == 10  # never deeper than asked


def test_retriever_heads_are_the_candidates_some_retriever_ranked_in_its_top_window():
    from storefront.rerank_stage import Candidate, retriever_heads

    pool = [Candidate("a", 3.0, retriever_ranks={"bm25": 5}), Candidate("b", 2.0, retriever_ranks={"vector": 1}),
            Candidate("c", 1.0, retriever_ranks={"bm25": 2, "vector": 9}), Candidate("d", 0.5),
            Candidate("e", 0.1, retriever_ranks={"bm25": 3})]
    assert [c.product_id for c in retriever_heads(pool, 3)] == ["b", "c", "e"]  # in the order given
    assert [c.product_id for c in retriever_heads(pool, 10)] == ["a", "b", "c", "e"]


class RescoringClient(RecordingClient):
    """Three products for each retriever; a rescored sub-search scores its top hits p3 > p2 > p1, or fails."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail

    def msearch(self, body: list[dict]) -> dict:
        self.payloads.append(body)
        responses: list[dict] = []
        for search in body[1::2]:
            if "rescore" in search and self.fail:
                responses.append({"error": {"type": "illegal_argument_exception", "reason": "Unknown model [m]"}})
                continue
            order = [("p3", 3.0), ("p2", 2.0), ("p1", 1.0)] if "rescore" in search else [("p1", .9), ("p2", .5), ("p3", .1)]
            hits = [{"_score": score, "fields": {"id": [pid], "title.display": [pid]}} for pid, score in order]
            responses.append({"hits": {"total": {"value": 3}, "hits": hits[: search["size"]]}})
        return {"responses": responses}


class InFirstStage:
    """A reranker that scores inside the first stage (window 2) and, asked afterwards, reverses the list."""

    name = "m"

    def __init__(self) -> None:
        self.asked_afterwards = 0

    def first_stage_rescore(self, query, context):  # type: ignore[no-untyped-def]
        from storefront.rerank_stage import FirstStageRescore
        return FirstStageRescore({"sltr": {"model": "m", "params": {"keywords": query}}}, 2)

    def rank_rescored(self, query, candidates, scores, context):  # type: ignore[no-untyped-def]
        return sorted(candidates, key=lambda c: -scores.get(c.product_id, -1.0))

    def rerank(self, query, candidates, context):  # type: ignore[no-untyped-def]
        self.asked_afterwards += 1
        return list(reversed(candidates))

    def explain(self, query, candidates, context):  # type: ignore[no-untyped-def]
        return [{} for _ in candidates]


def _search_with(client: RescoringClient, reranker: InFirstStage) -> list[str]:
    service = SearchService(client, "products", FixedVector(), default_configs(candidates=3), "hybrid-minmax",  # type: ignore[arg-type]
                            reranker=reranker)
    return [r["id"] for r in service.search(parse_search_request({"query": "drill"}), record=False).results]


def test_a_first_stage_rescore_rides_in_the_same_msearch_and_ranks_the_page():
    client, reranker = RescoringClient(), InFirstStage()
    assert _search_with(client, reranker) == ["p3", "p2", "p1"]
    (payload,) = client.payloads  # one round trip
    searches = payload[1::2]
    assert len(searches) == 4 and [("rescore" in s) for s in searches] == [False, False, True, True]
    assert all(s["size"] == 2 and s["rescore"]["window_size"] == 2 for s in searches[2:])
    assert searches[2]["query"] == searches[0]["query"] and searches[3]["query"] == searches[1]["query"]
    assert reranker.asked_afterwards == 0


def test_a_failed_first_stage_rescore_falls_back_to_reranking_afterwards(caplog):
    import logging
    client, reranker = RescoringClient(fail=True), InFirstStage()
    with caplog.at_level(logging.WARNING):
        assert _search_with(client, reranker) == ["p3", "p2", "p1"]  # the fused p1 > p2 > p3, reversed
    assert reranker.asked_afterwards == 1 and "Unknown model [m]" in caplog.text
