"""The query history in the engine: `sync_history` writes it onto the live documents, the v4 featuresets'
painless history features compute from those fields exactly what the Python reference computes, and
training's leave-one-query-out values, passed as params, take over the documents' on real candidates."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from opensearchpy import OpenSearch

from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from ltr.history_sync import judged_history, sync_history
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor
from ltr.ranker.featureset import HISTORY_FEATURES, QUERY_FEATURES_V4
from ltr.ranker.query_history import history_match, leave_one_out
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(os_client: OpenSearch, sample_index: str, bert_encoder: BertEncoder) -> SearchService:
    return SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                         "hybrid-minmax")


@pytest.fixture
def history(os_client: OpenSearch, sample_index: str,
            judged_queries: dict[str, dict[str, float]]) -> Iterator[dict[str, tuple[str, ...]]]:
    history = judged_history(judged_queries)
    report = sync_history(os_client, sample_index, history)
    assert report.updated == len(history) > 100 and report.missing == 0
    yield history
    sync_history(os_client, sample_index, {})  # the shared sample index goes back to no history


def test_engine_history_features_equal_the_python_reference(service: SearchService, history: dict,
                                                            judged_queries: dict[str, dict[str, float]]) -> None:
    columns = [QUERY_FEATURES_V4.names.index(spec.name) for spec in HISTORY_FEATURES]
    serving = FeatureExtractor(QUERY_FEATURES_V4, EngineFeatureLogger(service.client, service.index))
    training = serving.with_history(history)
    queries = sorted(judged_queries)[:10] + ["toliet flaper", "cordles drils", "1/2 inch pvc elbow", ""]
    compared = with_history = own_query_differs = 0
    for query in queries:
        pool = service.candidates(query or "pvc")[:40]
        ids = [c.product_id for c in pool]
        served = serving.matrix(query, pool, None)[:, columns]
        expected = np.array([history_match(query, history.get(pid, ())) for pid in ids], dtype=np.float32)
        np.testing.assert_allclose(served, expected, rtol=1e-6, err_msg=f"served, query {query!r}")
        trained = training.matrix(query, pool, None)[:, columns]
        left_out = leave_one_out(history, query, ids)
        np.testing.assert_allclose(trained, np.array([left_out[pid] for pid in ids], dtype=np.float32), rtol=1e-6,
                                   err_msg=f"trained, query {query!r}")
        compared += len(ids)
        with_history += int((expected[:, 0] > 0).sum())
        own_query_differs += int((trained[:, 0] < served[:, 0]).sum())
    assert compared > 400 and with_history > 100
    assert own_query_differs >= 10  # the judged products of each train query: training does not see their label


def test_a_product_whose_history_is_gone_reads_zero(service: SearchService, history: dict,
                                                     os_client: OpenSearch, sample_index: str) -> None:
    query = next(q for qs in history.values() for q in qs)
    dropped = sorted(pid for pid, qs in history.items() if query in qs)
    report = sync_history(os_client, sample_index, {p: qs for p, qs in history.items() if p not in dropped})
    assert report.cleared == len(dropped)
    pool = [c for c in service.candidates(query)[:40] if c.product_id in dropped]
    assert pool, f"none of {query!r}'s judged products came back"
    extractor = FeatureExtractor(QUERY_FEATURES_V4, EngineFeatureLogger(service.client, service.index))
    columns = [QUERY_FEATURES_V4.names.index(spec.name) for spec in HISTORY_FEATURES]
    assert extractor.matrix(query, pool, None)[:, columns].tolist() == [[0.0, 0.0, 0.0]] * len(pool)


def test_training_a_history_featureset_before_the_history_is_written_is_refused(
        os_client: OpenSearch, sample_index: str, judged_queries: dict[str, dict[str, float]]) -> None:
    from indexer.versions import live_index
    from ltr.ranker.extract import IndexLacksFields, require_fields

    index = live_index(os_client, sample_index)
    sync_history(os_client, sample_index, {})
    with pytest.raises(IndexLacksFields, match="no product of .* has yet.*shelfrank index history"):
        require_fields(os_client, index, QUERY_FEATURES_V4)
    sync_history(os_client, sample_index, judged_history(judged_queries))
    try:
        require_fields(os_client, index, QUERY_FEATURES_V4)
    finally:
        sync_history(os_client, sample_index, {})
