"""A model of an engine-only featureset reranks inside the first stage's own ``_msearch``, on the real
node: one round trip per search, the same ranking as the Python reference scoring the same candidates
(each retriever's top window), and the unreranked list when the store has lost the model."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opensearchpy import OpenSearch

from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from ltr.ranker.dataset import build_dataset
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, document_behaviour
from ltr.ranker.featureset import ENGINE_FEATURES_V3
from ltr.ranker.job import is_validation_query
from ltr.ranker.labels import judgment_labels
from ltr.ranker.reranker import EngineReranker, LtrReranker
from ltr.ranker.train import TrainParams, train_lambdamart
from ltr.serving.xgboost_json import lightgbm_to_xgboost_json
from ltr.store import FeatureStore
from storefront.rerank_stage import NoopReranker, Reranker
from storefront.request import SearchRequest
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration
WINDOW = 10  # per retriever


class CountingClient:
    """The real client, counting the searches the storefront sends."""

    def __init__(self, client: OpenSearch) -> None:
        self._client, self.calls = client, {"msearch": 0, "search": 0}

    def msearch(self, **kwargs: Any) -> dict:
        self.calls["msearch"] += 1
        return self._client.msearch(**kwargs)

    def search(self, **kwargs: Any) -> dict:
        self.calls["search"] += 1
        return self._client.search(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture(scope="module")
def encoder(bert_encoder: BertEncoder) -> QueryVectorCache:
    return QueryVectorCache(bert_encoder)


@pytest.fixture(scope="module")
def model(os_client: OpenSearch, sample_index: str, encoder: QueryVectorCache,
          judged_queries: dict[str, dict[str, float]]):  # type: ignore[no-untyped-def]
    """An engine-only LambdaMART model trained on the sample's judgments, uploaded to the store."""
    plain = SearchService(os_client, sample_index, encoder, default_configs(candidates=50), "hybrid-minmax")
    extractor = FeatureExtractor(ENGINE_FEATURES_V3, EngineFeatureLogger(os_client, sample_index), encoder.vector)
    data = build_dataset(sorted(judged_queries), plain.candidates, extractor, judgment_labels(judged_queries, 2.0),
                         unlabelled_as_zero=True, window=50)
    valid = [is_validation_query(q) for q in data.queries]
    booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid), ENGINE_FEATURES_V3.names,
                               TrainParams(max_rounds=60, min_data_in_leaf=5))
    store = FeatureStore(os_client, sample_index)
    store.upload_model("first-stage-1", ENGINE_FEATURES_V3, lightgbm_to_xgboost_json(booster, ENGINE_FEATURES_V3.names))
    yield booster, extractor
    store.delete_model("first-stage-1")


def _service(client: Any, index: str, encoder: QueryVectorCache, reranker: Reranker) -> SearchService:
    return SearchService(client, index, encoder, default_configs(candidates=50), "hybrid-minmax", reranker=reranker)


def _engine(client: Any, index: str, model, name: str = "first-stage-1") -> EngineReranker:  # type: ignore[no-untyped-def]
    booster, extractor = model
    return EngineReranker(booster, extractor, name=name, window=50, client=client, index=index,
                          store=FeatureStore(client, index), behaviour=document_behaviour({}), retriever_window=WINDOW)


def test_an_engine_only_model_reranks_inside_the_first_stage_like_the_python_reference(
        os_client: OpenSearch, sample_index: str, encoder: QueryVectorCache, model,  # type: ignore[no-untyped-def]
        judged_queries: dict[str, dict[str, float]]) -> None:
    booster, extractor = model
    counting = CountingClient(os_client)
    engine = _service(counting, sample_index, encoder, _engine(counting, sample_index, model))
    python = _service(os_client, sample_index, encoder,
                      LtrReranker(booster, extractor, name="first-stage-1", window=50, retriever_window=WINDOW))
    plain = _service(os_client, sample_index, encoder, NoopReranker())
    changed = 0
    queries = sorted(judged_queries)[:25]
    for query in queries:
        request = SearchRequest(query=query, size=50)
        served = [r["id"] for r in engine.search(request, record=False).results]
        assert served == [r["id"] for r in python.search(request, record=False).results], query
        unreranked = plain.search(request, record=False).results
        pool = plain.candidates(query)
        heads = {c.product_id for c in pool if any(r <= WINDOW for r in c.retriever_ranks.values())}
        assert len(heads) >= WINDOW and set(served[: len(heads)]) == heads  # the model ranked exactly those
        assert served[len(heads):] == [c.product_id for c in pool if c.product_id not in heads][: 50 - len(heads)]
        changed += served != [r["id"] for r in unreranked]
    assert counting.calls == {"msearch": len(queries), "search": 0}  # one round trip per search
    assert changed >= len(queries) // 2


def test_a_model_the_store_lost_serves_the_unreranked_list_with_a_warning(
        os_client: OpenSearch, sample_index: str, encoder: QueryVectorCache, model,  # type: ignore[no-untyped-def]
        judged_queries: dict[str, dict[str, float]], caplog: pytest.LogCaptureFixture) -> None:
    lost = _service(os_client, sample_index, encoder, _engine(os_client, sample_index, model, "not-in-the-store"))
    plain = _service(os_client, sample_index, encoder, NoopReranker())
    query = sorted(judged_queries)[0]
    with caplog.at_level(logging.WARNING):
        served = lost.search(SearchRequest(query=query, size=20), record=False).results
    assert [r["id"] for r in served] == [r["id"] for r in plain.search(SearchRequest(query=query, size=20),
                                                                          record=False).results]
    assert "first-stage rescore" in caplog.text and "not-in-the-store could not score in OpenSearch" in caplog.text
