import pytest

from storefront.request import InvalidRequest, parse_search_request
from storefront.retrieval import bm25_body, default_configs, knn_body


def test_valid_request_is_normalised() -> None:
    request = parse_search_request({"query": "  cordless   drill ", "filters": {"brand": "DEWALT", "price_max": 200},
                                    "page": 2, "size": 5, "user_id": "u1", "debug": True})
    assert request.query == "cordless drill" and request.offset == 5
    assert request.filters.brands == ("DEWALT",) and request.filters.price_max == 200.0


@pytest.mark.parametrize(("payload", "field"), [
    ([], "body"),
    ({}, "query"),
    ({"query": "   "}, "query"),
    ({"query": "x" * 501}, "query"),
    ({"query": "drill", "size": 0}, "size"),
    ({"query": "drill", "size": "10"}, "size"),
    ({"query": "drill", "page": 0}, "page"),
    ({"query": "drill", "page": 50, "size": 100}, "page"),
    ({"query": "drill", "filters": {"price_min": -1}}, "filters.price_min"),
    ({"query": "drill", "filters": {"price_min": 10, "price_max": 5}}, "filters.price_min"),
    ({"query": "drill", "filters": {"colour": "red"}}, "filters.colour"),
    ({"query": "drill", "filters": {"brand": [1]}}, "filters.brand"),
    ({"query": "drill", "debug": "yes"}, "debug"),
    ({"query": "drill", "sort": "price"}, "sort"),
    ({"query": "drill", "config": "magic"}, "config"),
    ({"query": "drill", "user_id": ""}, "user_id"),
])
def test_invalid_requests_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        parse_search_request(payload, ("bm25", "hybrid-rrf"))
    assert excinfo.value.field == field


def test_query_bodies_apply_filters_to_both_retrievers() -> None:
    request = parse_search_request({"query": "drill", "filters": {"category": "Drills", "price_min": 10}})
    bm25 = bm25_body(request.query, request.filters, 100)
    assert {"terms": {"category": ["Drills"]}} in bm25["query"]["bool"]["filter"]
    assert {"range": {"price": {"gte": 10.0}}} in bm25["query"]["bool"]["filter"]
    assert "aggs" in bm25
    knn = knn_body([0.1, 0.2], request.filters, 100)
    assert knn["query"]["knn"]["embedding"]["filter"]["bool"]["filter"] == bm25["query"]["bool"]["filter"]
    assert "filter" not in knn_body([0.1], parse_search_request({"query": "x"}).filters, 10)["query"]["knn"]["embedding"]


def test_default_configs() -> None:
    configs = default_configs(0.6)
    assert set(configs) == {"bm25", "vector", "hybrid-rrf", "hybrid-minmax", "hybrid-zscore"}
    assert configs["hybrid-minmax"].vector_weight == 0.6 and configs["hybrid-minmax"].bm25_weight == pytest.approx(0.4)


def test_knn_depth_of_hybrids_is_separate_from_candidates() -> None:
    configs = default_configs(0.4, candidates=100, hybrid_vector_candidates=30)
    assert configs["hybrid-minmax"].knn_k == 30 and configs["hybrid-rrf"].knn_k == 30
    assert configs["vector"].knn_k == 100  # vector-only retrieval needs its full depth
    assert configs["bm25"].knn_k == 0
    assert default_configs(candidates=50)["hybrid-zscore"].knn_k == 50  # unset: as deep as BM25
    assert default_configs(hybrid_vector_candidates=0)["hybrid-minmax"].knn_k == 0
