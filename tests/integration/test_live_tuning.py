"""A tuning put live is served by a running storefront at its next search: synonyms and boosts reach the
real node, and a rollback restores the earlier results."""

from __future__ import annotations

from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from core.db import migrate
from core.db.session import session_scope
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
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
