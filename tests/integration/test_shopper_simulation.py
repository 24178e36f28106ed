"""Simulated shoppers against the real search API (real node, real encoder) and the events API.

The catalogue is a Home Depot sample: every product judged for a fixed set of train queries plus
unjudged distractors, so result pages are real BM25/k-NN pages with a mix of relevant and
irrelevant products.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from sqlalchemy import func, select
from werkzeug.serving import make_server

from api.app import create_app
from api.simulated_shoppers import http_simulator
from core.access import api_keys
from core.db import migrate
from core.db.models import Impression, Interaction, ProcessedEvent, Search
from core.db.session import session_scope
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from ltr.simulation.runner import ShopperSimulator
from storefront.recording import DatabaseImpressionRecorder
from storefront.retrieval import default_configs
from storefront.service import SearchService
from tests.conftest import HOMEDEPOT

pytestmark = pytest.mark.integration

RANKERS = ["hybrid-minmax", "bm25", "hybrid-rrf", "vector"]
KEY = "simulation-test-key"


@pytest.fixture(scope="module")
def shop_index(build_catalogue: Callable[..., str], sample_products: list) -> str:  # type: ignore[type-arg]
    """The sample catalogue indexed for this module alone: the pages the shoppers see, and so what the click
    models recover, do not depend on what other tests wrote onto the shared sample index before."""
    return build_catalogue("test-shopper-catalogue", sample_products)


@pytest.fixture
def api(tmp_path: Path, settings: Settings, os_client: OpenSearch, shop_index: str,
        bert_encoder: BertEncoder) -> Iterator[tuple[str, str, str]]:
    """A real HTTP server: search through the node, events into a fresh SQLite database, sent with a
    shop API key made for the test."""
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate.upgrade(url)
    with session_scope(url) as session:
        key = api_keys.create_key(session, "simulated shop", by="test").key
    app_settings = settings.model_copy(update={"database_url": url, "pseudonym_key": KEY})
    service = SearchService(os_client, shop_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                            "hybrid-minmax", recorder=DatabaseImpressionRecorder(url, KEY))
    server = make_server("127.0.0.1", 0, create_app(app_settings, service), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", url, key
    server.shutdown()


def simulator(base_url: str, key: str, queries: dict[str, dict[str, float]], **options) -> ShopperSimulator:  # type: ignore[no-untyped-def]
    return http_simulator(base_url, queries, HOMEDEPOT, api_key=key, rankers=RANKERS, **options)


def count(url: str, statement) -> int:  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        return session.scalar(statement)


def test_live_sessions_are_recorded_by_the_search_api_and_attributed(
        api: tuple[str, str], judged_queries: dict[str, dict[str, float]]) -> None:
    base_url, db, key = api
    result = simulator(base_url, key, judged_queries, seed=3, shoppers=20).run(40)
    assert result.rejected == 0 and result.searches >= 40
    assert result.counts["search"] == 0  # every page was served (and recorded) by the search API itself
    assert result.counts["click"] > 0
    assert count(db, select(func.count()).select_from(Search)) == result.searches
    clicks = count(db, select(func.count()).select_from(Interaction).where(Interaction.type == "click"))
    attributed = count(db, select(func.count()).select_from(Interaction)
                       .where(Interaction.type == "click", Interaction.position.is_not(None)))
    assert clicks == attributed == result.counts["click"]
    with session_scope(db) as session:
        users = set(session.scalars(select(Search.user_id)))
        assert all(u and not u.startswith("shopper-") for u in users)  # pseudonymised before storage


def test_replayed_sessions_are_idempotent(api: tuple[str, str], judged_queries: dict[str, dict[str, float]]) -> None:
    base_url, db, key = api
    first = simulator(base_url, key, judged_queries, seed=5, shoppers=50, reuse_pages=True).run(300)
    stored = count(db, select(func.count()).select_from(ProcessedEvent))
    assert first.rejected == 0 and first.counts["search"] > 0
    assert stored == sum(first.counts.values())
    again = simulator(base_url, key, judged_queries, seed=5, shoppers=50, reuse_pages=True).run(300)
    assert again.duplicates == sum(first.counts.values())
    assert count(db, select(func.count()).select_from(ProcessedEvent)) == stored


def test_click_models_recover_the_simulated_shoppers_position_bias(
        api: tuple[str, str], judged_queries: dict[str, dict[str, float]], tmp_path: Path) -> None:
    """20k PBM sessions over real pages from four rankers: the fitted propensities are the shoppers' own."""
    import json as json_module
    import os
    import time

    from scipy.stats import spearmanr
    from typer.testing import CliRunner

    from cli.main import app
    from core.settings import get_settings

    base_url, db, key = api
    started = time.perf_counter()
    truth = simulator(base_url, key, judged_queries, seed=1, shoppers=2000, reuse_pages=True).run(20_000)
    print(f"simulated {truth.sessions} sessions in {time.perf_counter() - started:.1f}s: {dict(truth.counts)}")
    assert truth.rejected == 0

    env = {"SHELFRANK_DATABASE_URL": db, "SHELFRANK_STATE_DIR": str(tmp_path)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        fitted = runner.invoke(app, ["clickmodel", "fit", "--model", "pbm", "--json", "--out", str(tmp_path / "pbm")])
        assert fitted.exit_code == 0, fitted.output
        chosen = runner.invoke(app, ["clickmodel", "fit", "--json", "--out", str(tmp_path / "auto")])
        assert chosen.exit_code == 0, chosen.output
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
    summary = json_module.loads(fitted.output.strip().splitlines()[-1])
    print("fitted", summary["examination"], "true", [round(x, 3) for x in truth.examination])
    with session_scope(db) as session:
        shown = session.scalar(select(func.count(func.distinct(Impression.search_id))))
    assert summary["model"] == "pbm" and summary["sessions"] == shown > 0.95 * truth.searches
    for fitted_p, true_p in zip(summary["examination"], truth.examination):
        assert abs(fitted_p - true_p) <= 0.05
    auto = json_module.loads(chosen.output.strip().splitlines()[-1])
    print("auto", auto)
    assert auto["model"] in ("pbm", "ubm")  # the shoppers browse by position, not by cascade

    import csv

    rows = list(csv.DictReader((tmp_path / "pbm" / "estimates.csv").open()))
    supported = [r for r in rows if int(r["impressions"]) >= 30]
    fitted_rel = [float(r["attractiveness"]) for r in supported]
    grades = [judged_queries[r["query"]].get(r["product_id"], 0.0) for r in supported]
    true_attr = [truth.true_attractiveness[(r["query"], r["product_id"])] for r in supported]
    print(f"{len(supported)} pairs with 30+ impressions: spearman vs grade {spearmanr(fitted_rel, grades)[0]:.3f}, "
          f"vs true attractiveness {spearmanr(fitted_rel, true_attr)[0]:.3f}")
    assert len(supported) >= 200
    assert spearmanr(fitted_rel, grades)[0] >= 0.5
    assert (tmp_path / "pbm" / "examination.png").stat().st_size > 0


def test_cascade_shoppers_are_recognised(api: tuple[str, str], judged_queries: dict[str, dict[str, float]]) -> None:
    """DBN shoppers stop after a satisfying click: the DBN explains held-out clicks better than PBM.

    (UBM, which can mimic a cascade, scores within a hair of the DBN here, so either may be chosen.)"""
    from ltr.click_labels import fit_click_model

    base_url, db, key = api
    truth = simulator(base_url, key, judged_queries, seed=2, shoppers=500, reuse_pages=True,
                      click_model="dbn").run(8000)
    with session_scope(db) as session:
        fit = fit_click_model(session)
    scores = {s.name: s.log_likelihood for s in fit.selection.scores}
    print("held-out LL", scores, "fitted", fit.summary()["examination"], "true",
          [round(x, 3) for x in truth.examination])
    assert fit.selection.name != "pbm"
    assert scores["dbn"] > scores["pbm"]
    for fitted_p, true_p in zip(fit.selection.best.examination, truth.examination):
        assert abs(fitted_p - true_p) <= 0.1


def test_train_promote_serve_and_roll_back_a_model_from_simulated_clicks(
        api: tuple[str, str], judged_queries: dict[str, dict[str, float]], settings: Settings, os_client: OpenSearch,
        sample_index: str, bert_encoder: BertEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clicks -> click-model labels -> LambdaMART candidate -> parity gate -> served through the API -> rollback."""
    from core.settings import get_settings
    from ltr import registry
    from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger
    from ltr.ranker.featureset import SHOP_FEATURES
    from ltr.ranker.job import TrainingRequest, train_and_register
    from ltr.ranker.train import TrainParams

    base_url, db, key = api
    simulator(base_url, key, judged_queries, seed=4, shoppers=500, reuse_pages=True).run(6000)
    service = SearchService(os_client, sample_index, QueryVectorCache(bert_encoder),
                            default_configs(candidates=50), "hybrid-minmax")
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(os_client, sample_index))
    with session_scope(db) as session:
        outcome = train_and_register(session, TrainingRequest(labels="clickmodel", min_support=5, window=100,
                                                              params=TrainParams(max_rounds=100), name="ltr-test"),
                                     service.candidates, extractor, tmp_path / "models")
    assert outcome.model.status == "candidate" and outcome.queries >= 50
    assert (outcome.artifact.folder / "plugin_model.json").is_file()

    monkeypatch.setenv("SHELFRANK_DATABASE_URL", db)
    monkeypatch.setenv("SHELFRANK_DEFAULT_INDEX", sample_index)
    monkeypatch.setenv("SHELFRANK_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("SHELFRANK_RERANK_MODEL_REFRESH_SECONDS", "0")
    get_settings.cache_clear()
    try:
        from ltr.promotion import settings_gate

        storefront = create_app(get_settings()).test_client()  # started before the promotion, kept running
        query = sorted(judged_queries)[0]
        assert storefront.post("/api/v1/search", json={"query": query, "debug": True}).get_json()[
            "debug"]["reranker"] == "none"
        with session_scope(db) as session:
            registry.promote(session, "ltr-test", by="test", gate=settings_gate(get_settings()))
        with session_scope(db) as session:
            assert registry.active_model(session).name == "ltr-test"
        body = storefront.post("/api/v1/search", json={"query": query, "debug": True}).get_json()
        assert body["debug"]["reranker"] == "ltr-test"
        scores = [r["score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)
        for result in body["results"]:  # why each result is where it is: contributions add up to its score
            assert "ltr" in result["stages"] and result["explanation"]["model"] == "ltr-test"
            explanation = result["explanation"]
            total = explanation["bias"] + explanation["other_features"] + sum(
                t["contribution"] for t in explanation["contributions"])
            assert abs(total - result["score"]) < 1e-4
        with session_scope(db) as session:
            assert registry.rollback(session, by="test") is None
        body = storefront.post("/api/v1/search", json={"query": query, "debug": True}).get_json()
        assert body["debug"]["reranker"] == "none" and "explanation" not in body["results"][0]
    finally:
        get_settings.cache_clear()


def test_a_personalised_model_reads_the_searching_shoppers_history(
        api: tuple[str, str], judged_queries: dict[str, dict[str, float]], settings: Settings, os_client: OpenSearch,
        sample_index: str, bert_encoder: BertEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-search labels + user features -> served: a shopper with history gets their affinities as features."""
    from core.settings import get_settings
    from ltr import registry
    from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger
    from ltr import promotion
    from ltr.ranker.featureset import PERSONAL_FEATURES
    from ltr.ranker.job import TrainingRequest, train_and_register
    from ltr.ranker.profiles import CatalogTraits
    from ltr.ranker.train import TrainParams

    base_url, db, key = api
    sim = simulator(base_url, key, judged_queries, seed=5, shoppers=40, reuse_pages=True)
    sim.run(3000)
    service = SearchService(os_client, sample_index, QueryVectorCache(bert_encoder),
                            default_configs(candidates=50), "hybrid-minmax")
    extractor = FeatureExtractor(PERSONAL_FEATURES, EngineFeatureLogger(os_client, sample_index))
    request = TrainingRequest(labels="actions", debias="position", days=14, window=50,
                              params=TrainParams(max_rounds=60, min_data_in_leaf=5), name="ltr-personal")
    with session_scope(db) as session:
        outcome = train_and_register(session, request, service.candidates, extractor, tmp_path / "models",
                                     traits=CatalogTraits(os_client, sample_index))
        registry.promote(session, "ltr-personal", by="test", gate=lambda model: promotion.engine_gate(
            session, os_client, sample_index, model, service.candidates, window=50))
    assert outcome.model.params["debias"] == "position" and outcome.queries >= 100  # one group per search

    monkeypatch.setenv("SHELFRANK_DATABASE_URL", db)
    monkeypatch.setenv("SHELFRANK_DEFAULT_INDEX", sample_index)
    monkeypatch.setenv("SHELFRANK_PSEUDONYM_KEY", KEY)
    get_settings.cache_clear()
    try:
        storefront = create_app(get_settings()).test_client()
        query = sorted(judged_queries)[0]
        shopper = sim.shoppers[0].user_id
        known = storefront.post("/api/v1/search", json={"query": query, "debug": True, "user_id": shopper}
                                ).get_json()
        anonymous = storefront.post("/api/v1/search", json={"query": query, "debug": True}).get_json()
    finally:
        get_settings.cache_clear()
    assert known["debug"]["reranker"] == "ltr-personal"
    affinities = [r["features"]["user_department_affinity"] for r in known["results"]]
    assert all(a is not None and 0.0 <= a <= 1.0 for a in affinities) and any(a > 0 for a in affinities)
    assert all(r["features"]["user_department_affinity"] == 0.0 for r in anonymous["results"])  # absent is 0.0
