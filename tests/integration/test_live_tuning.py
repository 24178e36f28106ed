"""A tuning put live is served by a running storefront at its next search: synonyms, boosts and the k-NN
depth reach the real node, and a rollback restores the earlier results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from core.db import migrate
from core.db.session import session_scope
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from indexer import schema
from storefront import tuning_store
from storefront.request import SearchRequest
from storefront.retrieval import default_configs
from storefront.service import SearchService
from storefront.tuning import SearchTuning, parse_tuning
from storefront.tuning_store import LiveTuning

pytestmark = pytest.mark.integration

NONSENSE = "zqxjv"  # in no product text: BM25 finds nothing until a synonym says what it means


def test_a_live_tuning_is_served_without_a_restart(tmp_path: Path, os_client: OpenSearch, sample_index: str,
                                                   bert_encoder: BertEncoder) -> None:
    url = f"sqlite:///{tmp_path / 'tuning.db'}"
    migrate.upgrade(url)
    service = SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                            "bm25", tuning=LiveTuning(url, SearchTuning(config="bm25", candidates=50), refresh_s=0))
    request = SearchRequest(query=f"{NONSENSE} drill", size=10, config="bm25")
    before = service.search(request, record=False)
    plain_drill = service.search(SearchRequest(query="drill", size=10, config="bm25"), record=False)
    with session_scope(url) as session:
        first = tuning_store.save_version(session, parse_tuning({"config": "bm25", "candidates": 50}), "test").id
        tuning_store.activate(session, first, "test")
        synonyms = parse_tuning({"config": "bm25", "candidates": 50, "synonyms": f"{NONSENSE}, cordless"})
        second = tuning_store.save_version(session, synonyms, "test").id
    assert service.search(request, record=False).results == before.results  # a draft changes nothing
    with session_scope(url) as session:
        tuning_store.activate(session, second, "test")
    after = service.search(request, record=False)
    titles = [r["title"].lower() for r in after.results]
    assert sum("cordless" in t for t in titles) >= 5, titles  # the synonym reached the node
    assert [r["id"] for r in after.results] != [r["id"] for r in before.results]
    with session_scope(url) as session:
        boosted = parse_tuning({"config": "bm25", "candidates": 50, "boosts": {
            "title": 0, "title_exact": 0, "title_shingles": 0, "brand": 0, "category": 0, "description": 1}})
        description_only = tuning_store.save_version(session, boosted, "test").id
        tuning_store.activate(session, description_only, "test")
    by_description = service.search(SearchRequest(query="drill", size=10, config="bm25"), record=False)
    assert [r["id"] for r in by_description.results] != [r["id"] for r in plain_drill.results]
    with session_scope(url) as session:
        tuning_store.activate(session, first, "test")  # the rollback
    assert service.search(request, record=False).results == before.results


class RecordingClient:
    """The real client, keeping each _msearch's request and the node's answer."""

    def __init__(self, client: OpenSearch) -> None:
        self.client, self.calls = client, []

    def msearch(self, body: list[dict], **kwargs: Any) -> dict:
        response = self.client.msearch(body=body, **kwargs)
        self.calls.append((body, response))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def last_knn(self) -> tuple[dict, dict]:
        """The last search's k-NN query and the node's answer to it."""
        body, response = self.calls[-1]
        [(query, answer)] = [(q, a) for q, a in zip(body[1::2], response["responses"]) if "knn" in q["query"]]
        return query["query"]["knn"][schema.VECTOR], answer


def test_a_live_knn_depth_reaches_the_knn_query(tmp_path: Path, os_client: OpenSearch, sample_index: str,
                                                bert_encoder: BertEncoder) -> None:
    """The node searches the graph ef_search deep (it matches that many products) and still returns k."""
    url = f"sqlite:///{tmp_path / 'tuning.db'}"
    migrate.upgrade(url)
    client = RecordingClient(os_client)
    hybrid = SearchTuning(config="hybrid-minmax", candidates=50, vector_candidates=20)
    service = SearchService(client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                            "hybrid-minmax", tuning=LiveTuning(url, hybrid, refresh_s=0))
    request = SearchRequest(query="cordless drill", size=10)
    service.search(request, record=False)
    knn, answer = client.last_knn()
    assert knn["k"] == 20 and "method_parameters" not in knn  # the engine's default depth: k
    assert answer["hits"]["total"]["value"] == 20 and len(answer["hits"]["hits"]) == 20
    with session_scope(url) as session:
        deep = tuning_store.save_version(session, parse_tuning({"vector_ef_search": "200"}, hybrid), "test").id
        tuning_store.activate(session, deep, "test")
    served = service.search(request, record=False)
    knn, answer = client.last_knn()
    assert knn["k"] == 20 and knn["method_parameters"] == {"ef_search": 200}
    assert "error" not in answer and answer["hits"]["total"]["value"] == 200  # searched 200 deep
    assert len(answer["hits"]["hits"]) == 20 and served.results  # k products back, fused as before
