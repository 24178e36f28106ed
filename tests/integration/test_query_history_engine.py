"""The query history in the engine: `sync_history` writes it onto the live documents, the v4 featuresets'
painless history features compute from those fields exactly what the Python reference computes, and
training's leave-one-query-out values, passed as params, take over the documents' on real candidates; a
model trained on the history carries it, and promotion serves it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from core.db import migrate
from core.db.models import RankingModel
from core.db.session import session_scope
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from indexer.versions import live_index
from ltr import promotion, registry
from ltr.history_sync import documents_with_history, judged_history, sync_history
from ltr.ranker.artifacts import HISTORY_FILE, load_artifact
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, require_fields
from ltr.ranker.featureset import HISTORY_FEATURES, QUERY_FEATURES_V4
from ltr.ranker.job import TrainingRequest, train_and_register
from ltr.ranker.query_history import history_match, leave_one_out
from ltr.ranker.train import TrainParams
from ltr.registry import PLUGIN_MODEL_FILE
from ltr.store import FeatureStore
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


def _flip_root(folder: Path) -> None:
    """Swap the first tree's root branches: a conversion that inverts one comparison."""
    trees = json.loads((folder / PLUGIN_MODEL_FILE).read_text())
    tree = trees[0]
    tree["children"].reverse()
    tree["yes"], tree["no"] = tree["children"][0]["nodeid"], tree["children"][1]["nodeid"]
    tree["missing"] = tree["yes"]
    (folder / PLUGIN_MODEL_FILE).write_text(json.dumps(trees))


def test_a_history_model_trains_before_any_history_is_written_and_promotion_serves_its_own(
        os_client: OpenSearch, service: SearchService, sample_index: str,
        judged_queries: dict[str, dict[str, float]], tmp_path: Path) -> None:
    """Training reads each row's history from params, so it needs none on the documents; the artifact keeps
    the history it was trained on, the gate writes it before checking parity, a refused candidate's
    history gives way to the active model's again, and a model keeping none is refused on an index with none."""
    url = f"sqlite:///{tmp_path / 'shelfrank.db'}"
    migrate.upgrade(url)
    sync_history(os_client, sample_index, {})
    index = live_index(os_client, sample_index)
    require_fields(os_client, index, QUERY_FEATURES_V4)  # no history written: training may still start
    extractor = FeatureExtractor(QUERY_FEATURES_V4, EngineFeatureLogger(service.client, service.index))
    request = TrainingRequest(labels="judgments", judgments=judged_queries, window=40, name="history-1",
                              params=TrainParams(max_rounds=40, min_data_in_leaf=5))

    def gate(model: RankingModel) -> registry.GateResult:
        with session_scope(url) as gate_session:
            return promotion.engine_gate(gate_session, service.client, service.index, model, service.candidates,
                                         window=40)

    try:
        with session_scope(url) as session:
            outcome = train_and_register(session, request, service.candidates, extractor, tmp_path / "models")
        expected = judged_history(judged_queries)
        assert outcome.artifact.history == expected and load_artifact(outcome.artifact.folder).history == expected
        assert documents_with_history(os_client, sample_index) == 0
        with session_scope(url) as session:
            registry.promote(session, "history-1", by="test", gate=gate)
        assert documents_with_history(os_client, sample_index) == len(expected) > 100

        # A broken candidate with a smaller history: refused, and the active model's history is back.
        broken = tmp_path / "history-broken"
        shutil.copytree(outcome.artifact.folder, broken)
        _flip_root(broken)
        (broken / HISTORY_FILE).write_text(json.dumps({p: list(q) for p, q in list(expected.items())[:20]}))
        _register(url, "history-broken", broken)
        with session_scope(url) as session, pytest.raises(registry.PromotionRefused):
            registry.promote(session, "history-broken", by="test", gate=gate)
        assert documents_with_history(os_client, sample_index) == len(expected)

        # An artifact that keeps no history, on an index that has none: it would be served zeros.
        bare = tmp_path / "history-bare"
        shutil.copytree(outcome.artifact.folder, bare)
        (bare / HISTORY_FILE).unlink()
        _register(url, "history-bare", bare)
        sync_history(os_client, sample_index, {})
        with session_scope(url) as session, pytest.raises(registry.PromotionRefused, match="served zeros"):
            registry.promote(session, "history-bare", by="test", gate=gate)
    finally:
        sync_history(os_client, sample_index, {})
        store = FeatureStore(os_client, sample_index)
        for name in ("history-1", "history-broken", "history-bare"):
            store.delete_model(name)


def _register(url: str, name: str, folder: Path) -> None:
    with session_scope(url) as session:
        registry.register_candidate(session, name=name, featureset=QUERY_FEATURES_V4.name,
                                    featureset_hash=QUERY_FEATURES_V4.hash, artifact_path=folder, params={},
                                    metrics={})
