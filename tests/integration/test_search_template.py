"""The stored search template ``shelfrank-search``, called the way a storefront that talks to OpenSearch
directly calls it: one plain HTTP request, no Shelfrank code on the request path.

A model trained by the project's own job on the engine featureset (everything computed in the engine)
is promoted through the engine parity gate; the template then reranks the first stage's window with it
inside OpenSearch, with or without the caller's query vector, and the scores it returns are LightGBM's
for those products. A model that needs the storefront's first-stage values is not put in the template.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from core.db import migrate
from core.db.session import session_scope
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from ltr import promotion, registry, search_template
from ltr.ranker.artifacts import load_artifact
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor
from ltr.ranker.featureset import DEFAULT_FEATURESET, ENGINE_FEATURES, SHOP_FEATURES
from ltr.ranker.job import TrainingRequest, train_and_register
from ltr.ranker.train import TrainParams
from storefront.rerank_stage import Candidate
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration

WINDOW = 50


@pytest.fixture(scope="module")
def service(os_client: OpenSearch, sample_index: str, bert_encoder: BertEncoder) -> SearchService:
    return SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                         "hybrid-minmax")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'shelfrank.db'}"
    migrate.upgrade(url)
    return url


def _train(database: str, service: SearchService, judged: dict, featureset, name: str, folder) -> None:  # type: ignore[no-untyped-def]
    extractor = FeatureExtractor(featureset, EngineFeatureLogger(service.client, service.index), service.encoder.vector)
    request = TrainingRequest(labels="judgments", judgments=judged, window=WINDOW, name=name,
                              params=TrainParams(max_rounds=40, min_data_in_leaf=5))
    with session_scope(database) as session:
        train_and_register(session, request, service.candidates, extractor, folder)


def _promote(database: str, service: SearchService, name: str, template: str) -> str:
    with session_scope(database) as session:
        registry.promote(session, name, by="test", gate=lambda model: promotion.engine_gate(
            session, service.client, service.index, model, service.candidates, WINDOW, service.encoder.vector))
    with session_scope(database) as session:
        plan = promotion.sync_search_template(session, service.client, service.index, "another-shop", WINDOW)
    assert search_template.template_id(service.index, "another-shop") == template
    return plan.reason


def _search(settings: Settings, index: str, template: str, params: dict) -> list[dict]:
    """What a storefront sends: plain HTTP, the template's id and the query's params."""
    request = urllib.request.Request(f"{settings.opensearch_url}/{index}/_search/template", method="POST",
                                     data=json.dumps({"id": template, "params": params}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["hits"]["hits"]


def test_the_template_reranks_inside_opensearch_with_the_promoted_model(
        database: str, service: SearchService, judged_queries: dict[str, dict[str, float]], settings: Settings,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    template = f"shelfrank-search-{service.index}"
    _train(database, service, judged_queries, ENGINE_FEATURES, "engine-template-1", tmp_path_factory.mktemp("m1"))
    reason = _promote(database, service, "engine-template-1", template)
    assert reason == "reranks with engine-template-1"
    assert search_template.served_model(service.client, template) == "engine-template-1"

    # The behaviour refresh rewrites the template (its priors), still reranking with the active model.
    from ltr.maintenance import refresh_served_behaviour

    shop = settings.model_copy(update={"database_url": database, "default_index": "another-shop",
                                       "rerank_window": WINDOW})
    _report, refreshed = refresh_served_behaviour(shop, service.index)
    assert refreshed == "reranks with engine-template-1"
    assert search_template.served_model(service.client, template) == "engine-template-1"

    with session_scope(database) as session:
        artifact = load_artifact(Path(registry.active_model(session).artifact_path))  # type: ignore[union-attr]
    with_vector = FeatureExtractor(ENGINE_FEATURES, EngineFeatureLogger(service.client, service.index),
                                   service.encoder.vector)
    bm25_only = FeatureExtractor(ENGINE_FEATURES, EngineFeatureLogger(service.client, service.index), lambda q: [])
    checked = 0
    for query in sorted(judged_queries)[:8]:
        vector = [float(x) for x in service.encoder.vector(query)]
        for params, extractor in (({"keywords": query, "query_vector": vector, "size": 10}, with_vector),
                                  ({"keywords": query, "size": 10}, bm25_only)):
            hits = _search(settings, service.index, template, params)
            assert hits, (query, params.keys())
            scores = np.array([hit["_score"] for hit in hits])
            assert np.all(np.diff(scores) <= 1e-6), "hits come back in the model's order"
            assert "embedding" not in hits[0]["_source"] and hits[0]["_source"]["title"]
            ids = [hit["_source"]["id"] for hit in hits]
            features = extractor.matrix(query, [Candidate(pid, 0.0) for pid in ids], None)
            expected = artifact.booster.predict(features)
            np.testing.assert_allclose(scores, expected, atol=1e-4, err_msg=query)
            cosine = features[:, ENGINE_FEATURES.names.index("query_cosine")]
            assert (cosine > 0).all() if "query_vector" in params else (cosine == 0).all()
            checked += len(hits)
    assert checked >= 80

    # Without the vector the first stage is BM25 alone: every hit matches the query's words.
    rendered = search_template.render(service.client, template, {"keywords": "cordless drill"})["template_output"]
    assert [list(c) for c in rendered["query"]["bool"]["should"]] == [["multi_match"]]
    assert rendered["rescore"]["query"]["rescore_query"]["sltr"]["params"]["query_vector"] == []


def test_a_model_that_needs_the_storefront_leaves_the_template_to_the_first_stage(
        database: str, service: SearchService, judged_queries: dict[str, dict[str, float]], settings: Settings,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    template = f"shelfrank-search-{service.index}"
    _train(database, service, judged_queries, SHOP_FEATURES, "shop-template-1", tmp_path_factory.mktemp("m2"))
    reason = _promote(database, service, "shop-template-1", template)
    assert "shop-template-1" in reason and DEFAULT_FEATURESET in reason
    assert search_template.served_model(service.client, template) is None
    query = sorted(judged_queries)[0]
    hits = _search(settings, service.index, template, {"keywords": query, "size": 5,
                                                       "query_vector": [float(x) for x in service.encoder.vector(query)]})
    assert len(hits) == 5 and hits[0]["_score"] >= hits[-1]["_score"] > 0  # first-stage scores, no rescore
    rendered = search_template.render(service.client, template, {"keywords": query})["template_output"]
    assert "rescore" not in rendered
