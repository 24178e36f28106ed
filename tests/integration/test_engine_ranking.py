"""Learning to rank inside OpenSearch, against the real node and its LTR plugin.

A LambdaMART model is trained by the project's own job (judgment labels, a fresh database) on the
Home Depot sample, then: the feature store holds its featureset, logged values are what the engine
serves, the engine's ``sltr`` scores equal LightGBM's on real candidates (those BM25 did not find
included), a broken conversion is refused, and promotion, rollback, retention and repair keep the
store in step with the registry while the storefront keeps answering.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from core.db import migrate
from core.db.session import session_scope
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from indexer import schema
from ltr import promotion, registry
from ltr.behaviour_sync import served_behaviour, sync_behaviour
from ltr.events.store import EventStore
from ltr.features.user import ActivityCounts, UserProfile, user_product_features
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor
from ltr.ranker.featureset import PERSONAL_FEATURES, QUERY_FEATURES, SHOP_FEATURES
from ltr.ranker.job import TrainingOutcome, TrainingRequest, train_and_register
from ltr.ranker.profiles import CatalogTraits
from ltr.ranker.serving import ActiveModelReranker
from ltr.ranker.train import TrainParams
from ltr.serving.xgboost_json import features_used
from ltr.store import FeatureStore
from storefront.rerank_stage import SearchContext
from storefront.request import SearchRequest
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(os_client: OpenSearch, sample_index: str, bert_encoder: BertEncoder) -> SearchService:
    return SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                         "hybrid-minmax")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('engine') / 'shelfrank.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def trained(database: str, service: SearchService, judged_queries: dict[str, dict[str, float]],
            tmp_path_factory: pytest.TempPathFactory) -> TrainingOutcome:
    """The project's own training job on human judgments, in a database with no stored searches."""
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    request = TrainingRequest(labels="judgments", judgments=judged_queries, window=50, name="engine-1",
                              params=TrainParams(max_rounds=60, min_data_in_leaf=5))
    with session_scope(database) as session:
        return train_and_register(session, request, service.candidates, extractor, tmp_path_factory.mktemp("models"))


def _register_copy(database: str, trained: TrainingOutcome, name: str, tmp_path: Path,
                   edit: Callable[[list], None] | None = None, edit_meta: Callable[[dict], None] | None = None) -> None:
    """The trained artifact again under another name, in ``tmp_path / name`` (``edit`` may break its converted
    trees, ``edit_meta`` its metadata)."""
    folder = tmp_path / name
    shutil.copytree(trained.artifact.folder, folder)
    for file, change in (("plugin_model.json", edit), ("meta.json", edit_meta)):
        if change is not None:
            content = json.loads((folder / file).read_text())
            change(content)
            (folder / file).write_text(json.dumps(content))
    with session_scope(database) as session:
        registry.register_candidate(session, name=name, featureset=SHOP_FEATURES.name,
                                    featureset_hash=SHOP_FEATURES.hash, artifact_path=folder, params={}, metrics={})


def _gate(database: str, service: SearchService, name: str) -> registry.GateResult:
    with session_scope(database) as session:
        return promotion.engine_gate(session, service.client, service.index, registry.get_model(session, name),
                                     service.candidates, window=50)


def test_the_feature_store_holds_every_feature_of_the_featureset(os_client: OpenSearch, sample_index: str,
                                                                 trained: TrainingOutcome) -> None:
    store = FeatureStore(os_client, sample_index)
    assert store.exists() and store.name == f"shelfrank-{sample_index}"
    stored = os_client.transport.perform_request(
        "GET", f"/_ltr/{store.name}/_featureset/{SHOP_FEATURES.store_name}")["_source"]["featureset"]
    assert [f["name"] for f in stored["features"]] == SHOP_FEATURES.names
    store.ensure_featureset(SHOP_FEATURES)  # idempotent: the same definition again is fine
    FeatureStore(os_client, sample_index).ensure_featureset(SHOP_FEATURES)


def test_logged_text_features_are_the_engines_own_query_scores(service: SearchService,
                                                               judged_queries: dict[str, dict[str, float]]) -> None:
    extractor = FeatureExtractor(QUERY_FEATURES, EngineFeatureLogger(service.client, service.index))
    column = QUERY_FEATURES.names.index("title_bm25")
    compared = 0
    for query in sorted(judged_queries)[:5]:
        pool = service.candidates(query)[:50]
        logged = extractor.matrix(query, pool, None)[:, column]
        ids = [c.product_id for c in pool]
        body = {"size": len(ids), "docvalue_fields": [schema.ID], "_source": False,
                "query": {"bool": {"must": [{"match": {schema.TITLE: query}}], "filter": [{"ids": {"values": ids}}]}}}
        direct = {hit["fields"][schema.ID][0]: hit["_score"] for hit in service.client.search(
            index=service.index, body=body)["hits"]["hits"]}
        expected = np.array([direct.get(pid, 0.0) for pid in ids], dtype=np.float32)  # no match: 0.0
        np.testing.assert_allclose(logged, expected, rtol=1e-6)
        compared += int((expected > 0).sum())
    assert compared > 50


def test_the_engine_scores_like_lightgbm_on_real_candidates(database: str, service: SearchService,
                                                            trained: TrainingOutcome) -> None:
    """No stored searches: the gate samples the training queries, and passes only if sltr == LightGBM."""
    result = _gate(database, service, "engine-1")
    assert result.passed, result.summary()
    assert result.checked >= 20 and result.max_abs_diff <= 1e-4
    assert "OpenSearch LTR plugin" in result.detail
    stored = FeatureStore(service.client, service.index).model_definition("engine-1")
    assert stored is not None
    # The store computes only what the trees read: a feature no split uses cannot change a score.
    used = features_used(trained.artifact.plugin_trees)
    assert [f["name"] for f in stored["model"]["feature_set"]["features"]] == \
        [name for name in SHOP_FEATURES.names if name in used]
    assert 0 < len(used) < len(SHOP_FEATURES.names)
    # Among the checked candidates are products BM25 did not find (absent BM25 score, 0.0 everywhere).
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    in_bm25 = SHOP_FEATURES.names.index("in_bm25")
    queries = trained.artifact.meta["sample_queries"][:10]
    assert any((extractor.matrix(q, service.candidates(q)[:50], None)[:, in_bm25] == 0).any() for q in queries)


def test_a_flipped_split_is_refused_and_leaves_no_model_behind(database: str, service: SearchService,
                                                               trained: TrainingOutcome, tmp_path: Path) -> None:
    def flip(trees: list) -> None:
        for tree in trees:
            if "children" in tree:  # swap the root's branches: a conversion that inverts one comparison
                tree["children"].reverse()
                tree["yes"], tree["no"] = tree["children"][0]["nodeid"], tree["children"][1]["nodeid"]
                tree["missing"] = tree["yes"]
                return

    _register_copy(database, trained, "engine-broken", tmp_path, flip)
    result = _gate(database, service, "engine-broken")
    assert not result.passed
    assert any(" engine " in d for d in result.differences), result.differences[:3]
    assert not FeatureStore(service.client, service.index).has_model("engine-broken")
    with session_scope(database) as session, pytest.raises(registry.PromotionRefused):
        registry.promote(session, "engine-broken", by="test", gate=lambda m: result)


def test_signed_values_are_sent_non_negative_and_raw_negatives_fail(service: SearchService,
                                                                    judged_queries: dict[str, dict[str, float]],
                                                                    os_client: OpenSearch) -> None:
    query = sorted(judged_queries)[1]
    pool = service.candidates(query, "hybrid-zscore")[:50]
    assert min(c.stages["fused"] for c in pool) < 0  # z-scored fusion has negative scores
    matrix = FeatureExtractor(QUERY_FEATURES, EngineFeatureLogger(service.client, service.index)).matrix(
        query, pool, None)
    fused = matrix[:, QUERY_FEATURES.names.index("fused_score")]
    assert (fused > 0).all() and (np.diff(fused) <= 0).all()  # positive, still in fused order
    # What the representation avoids: a script feature below 0 fails the whole search.
    store = FeatureStore(os_client, service.index)
    name = "negative-check"
    os_client.transport.perform_request("PUT", f"/_ltr/{store.name}/_featureset/{name}", body={"featureset": {
        "features": [{"name": "minus_one", "params": [], "template_language": "script_feature",
                      "template": {"lang": "painless", "source": "return -1.0;", "params": {}}}]}},
        params={"ignore": 409})
    body = {"query": {"bool": {"filter": [{"ids": {"values": [pool[0].product_id]}},
                                          {"sltr": {"_name": "x", "featureset": name, "store": store.name,
                                                    "params": {}}}]}},
            "ext": {"ltr_log": {"log_specs": [{"name": "x", "named_query": "x"}]}}}
    with pytest.raises(TransportError) as error:
        os_client.search(index=service.index, body=body)
    assert "negative" in json.dumps(error.value.info)


def test_user_features_computed_in_the_engine_equal_pythons(service: SearchService, os_client: OpenSearch,
                                                            judged_queries: dict[str, dict[str, float]]) -> None:
    query = sorted(judged_queries)[2]
    pool = service.candidates(query)[:30]
    traits = CatalogTraits(os_client, service.index)([c.product_id for c in pool])
    departments = sorted({t.department for t in traits.values()})
    brands = sorted({t.brand for t in traits.values()})
    profile = UserProfile(user_id="u", at=datetime.now(timezone.utc), session_id="s",
                          department_affinity={departments[0]: 0.75}, brand_affinity={brands[0]: 0.5},
                          preferred_price_band="mid", activity=ActivityCounts(0, 0, 0, 0),
                          recent_departments=(departments[-1],))
    matrix = FeatureExtractor(PERSONAL_FEATURES, EngineFeatureLogger(service.client, service.index)).matrix(
        query, pool, None, profile)
    user = [s.name for s in PERSONAL_FEATURES.of_source("user")]
    for i, candidate in enumerate(pool):
        expected = user_product_features(profile, traits[candidate.product_id])
        logged = {name: float(matrix[i, PERSONAL_FEATURES.names.index(name)]) for name in user}
        assert logged == pytest.approx(expected), candidate.product_id
    assert matrix[:, PERSONAL_FEATURES.names.index("user_department_affinity")].max() == pytest.approx(0.75)


def test_behaviour_sync_writes_what_the_engine_reads(service: SearchService, os_client: OpenSearch,
                                                     tmp_path: Path, judged_queries: dict[str, dict[str, float]]
                                                     ) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrate.upgrade(url)
    query = sorted(judged_queries)[3]
    pool = service.candidates(query)[:20]
    top = pool[0].product_id
    now = datetime.now(timezone.utc)
    events = []
    for n in range(30):
        at = now - timedelta(hours=n + 1)
        events.append({"type": "search", "event_id": f"s{n}", "search_id": f"s{n}", "ts": at.isoformat(),
                       "query": query, "results": [c.product_id for c in pool[:10]]})
        events.append({"type": "click", "event_id": f"c{n}", "search_id": f"s{n}", "ts": at.isoformat(),
                       "product_id": top, "position": 1})
    with session_scope(url) as session:
        assert EventStore("k").ingest(session, events).accepted == len(events)
    with session_scope(url) as session:
        report = sync_behaviour(os_client, service.index, session, now)
    assert report.updated == 10 and report.missing == 0
    behaviour = served_behaviour(os_client, service.index)
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    matrix = extractor.matrix(query, pool, behaviour)
    ctr = matrix[:, SHOP_FEATURES.names.index("product_ctr")]
    never_shown = [i for i, c in enumerate(pool) if i >= 10]
    assert ctr[0] > ctr[1] > 0 and ctr[never_shown] == pytest.approx(behaviour.defaults["product_ctr"])
    # An hour on without new events: only the clicked product's popularity moved (decay, 0.2%). Within the
    # tolerance nothing is rewritten; without it, only that product is.
    written = os_client.get(index=service.index, id=top)["_seq_no"]
    with session_scope(url) as session:
        kept = sync_behaviour(os_client, service.index, session, now + timedelta(hours=1), tolerance=0.01)
    assert (kept.updated, kept.unchanged) == (0, 10)
    assert os_client.get(index=service.index, id=top)["_seq_no"] == written
    with session_scope(url) as session:
        exact = sync_behaviour(os_client, service.index, session, now + timedelta(hours=1))
    assert (exact.updated, exact.unchanged) == (1, 9)
    assert os_client.get(index=service.index, id=top)["_seq_no"] > written
    # Once the events are gone (the retention purge), the values are cleared and the priors apply.
    purged = f"sqlite:///{tmp_path / 'purged.db'}"
    migrate.upgrade(purged)
    with session_scope(purged) as session:
        later = sync_behaviour(os_client, service.index, session, now)
    assert later.cleared == 10 and later.updated == 0
    assert (extractor.matrix(query, pool, served_behaviour(os_client, service.index))[
            :, SHOP_FEATURES.names.index("product_ctr")] == 0.0).all()


def test_promotion_rollback_retention_and_repair_keep_the_store_in_step(
        database: str, service: SearchService, trained: TrainingOutcome, settings: Settings, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FeatureStore(service.client, service.index)
    names = ["engine-a", "engine-b", "engine-c"]
    for name in names:
        _register_copy(database, trained, name, tmp_path)
    for name in names:
        with session_scope(database) as session:
            registry.promote(session, name, by="test", gate=lambda model: promotion.engine_gate(
                session, service.client, service.index, model, service.candidates, window=50))
            promotion.prune_store(session, service.client, service.index, keep_retired=1)
    assert [store.has_model(n) for n in names] == [False, True, True]  # a beyond the one retired kept

    with session_scope(database) as session:
        restored = promotion.rollback(session, by="test", upload=promotion.uploader(service.client, service.index))
        assert restored is not None and restored.name == "engine-b"

    monkeypatch.setenv("SHELFRANK_DATABASE_URL", database)
    monkeypatch.setenv("SHELFRANK_RERANK_MODEL_REFRESH_SECONDS", "0")
    from core.settings import get_settings

    get_settings.cache_clear()
    try:
        live = ActiveModelReranker(get_settings(), service.client, service.index)
        assert live.name == "engine-b"
        request = SearchRequest(query=sorted(trained.artifact.meta["sample_queries"])[0], debug=True)
        served = SearchService(service.client, service.index, service.encoder, service.configs, "hybrid-minmax",
                               reranker=live).search(request, record=False)
        assert served.debug["reranker"] == "engine-b" and served.results
        assert all("ltr" in r["stages"] and r["explanation"]["model"] == "engine-b" for r in served.results)
        for result in served.results:  # the engine's score is what the explanation adds up to
            explanation = result["explanation"]
            total = explanation["bias"] + explanation["other_features"] + sum(
                t["contribution"] for t in explanation["contributions"])
            assert abs(total - result["score"]) < 1e-4

        def search(reranker):  # type: ignore[no-untyped-def]
            return SearchService(service.client, service.index, service.encoder, service.configs, "hybrid-minmax",
                                 reranker=reranker).search(SearchRequest(query=request.query), record=False)

        store.delete_model("engine-b")  # a wiped node: searches keep being answered, and the log says why
        with caplog.at_level(logging.WARNING):
            unreranked = search(live)
        assert unreranked.results and "shelfrank models sync" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            started_now = ActiveModelReranker(get_settings(), service.client, service.index)
        assert started_now.name == "none" and "missing from feature store" in caplog.text

        with session_scope(database) as session:
            changes = promotion.sync_models(session, service.client, service.index, keep_retired=1)
        assert "engine-b" in changes.uploaded and not changes.failed
        assert [r["id"] for r in search(live).results] == [r["id"] for r in served.results]  # reranked again
        started_now.refresh(force=True)
        assert started_now.name == "engine-b"
    finally:
        get_settings.cache_clear()


def test_a_store_model_that_vanishes_mid_flight_gives_the_unreranked_list(
        database: str, service: SearchService, trained: TrainingOutcome, caplog: pytest.LogCaptureFixture) -> None:
    from ltr.ranker.reranker import EngineReranker

    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    reranker = EngineReranker(trained.artifact.booster, extractor, name="not-in-the-store", client=service.client,
                              index=service.index, store=FeatureStore(service.client, service.index))
    query = trained.artifact.meta["sample_queries"][0]
    pool = service.candidates(query)
    with caplog.at_level(logging.WARNING):
        ranked = reranker.rerank(query, pool, SearchContext(None, None))
    assert [c.product_id for c in ranked] == [c.product_id for c in pool]
    assert "not-in-the-store could not score in OpenSearch" in caplog.text
    with pytest.raises(TransportError, match="Unknown model \\[not-in-the-store\\]"):  # the engine names it
        reranker.engine_scores(query, pool[:5])


def test_sixteen_shoppers_search_through_promotions_and_a_rollback(
        database: str, service: SearchService, trained: TrainingOutcome, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Live search while models are promoted (each through the real parity gate) and rolled back: not one
    failed or empty search, and every response ranked and explained by one model from start to end."""
    import threading

    from core.settings import get_settings

    names = ["live-1", "live-2"]
    for name in names:
        _register_copy(database, trained, name, tmp_path)
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", database)
    monkeypatch.setenv("SHELFRANK_RERANK_MODEL_REFRESH_SECONDS", "0")
    get_settings.cache_clear()
    try:
        live = ActiveModelReranker(get_settings(), service.client, service.index)
        shop = SearchService(service.client, service.index, service.encoder, service.configs, "hybrid-minmax",
                             reranker=live)
        queries = sorted(trained.artifact.meta["sample_queries"])[:8]
        done, lock = threading.Event(), threading.Lock()
        failures: list[str] = []
        served_by: dict[str, int] = {}

        def shopper(i: int) -> None:
            while not done.is_set():
                try:
                    result = shop.search(SearchRequest(query=queries[i % len(queries)], debug=True), record=False)
                    model = result.debug["reranker"]
                    explained = {r.get("explanation", {}).get("model", model) for r in result.results}
                    problem = None if result.results and explained <= {model, None} else f"{model}: {explained}"
                except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                    model, problem = "error", repr(exc)
                with lock:
                    served_by[model] = served_by.get(model, 0) + 1
                    if problem:
                        failures.append(problem)

        shoppers = [threading.Thread(target=shopper, args=(i,)) for i in range(16)]
        for thread in shoppers:
            thread.start()
        try:
            for name in names:
                with session_scope(database) as session:
                    registry.promote(session, name, by="test", gate=lambda model: promotion.engine_gate(
                        session, service.client, service.index, model, service.candidates, window=50))
                time.sleep(1.0)
            with session_scope(database) as session:
                restored = promotion.rollback(session, by="test",
                                              upload=promotion.uploader(service.client, service.index))
            time.sleep(1.0)
        finally:
            done.set()
            for thread in shoppers:
                thread.join()
        assert restored is not None and restored.name == "live-1"
        assert failures == [], failures[:3]
        assert {"live-1", "live-2"} <= set(served_by) and sum(served_by.values()) > 100, served_by
        print(f"{sum(served_by.values())} searches through 2 promotions and a rollback, none failed or empty: "
              f"{served_by}")
    finally:
        get_settings.cache_clear()


def _serve(url: str, trained: TrainingOutcome, name: str, tmp_path: Path,
           edit_meta: Callable[[dict], None] | None = None) -> None:
    """:func:`_register_copy` into the database ``url``, made its active model directly: what is served is the
    subject here, not the promotion gate."""
    migrate.upgrade(url)
    _register_copy(url, trained, name, tmp_path, edit_meta=edit_meta)
    with session_scope(url) as session:
        registry.get_model(session, name).status = registry.ACTIVE


def test_models_that_cannot_be_served_name_their_fix_and_searches_are_answered(
        service: SearchService, trained: TrainingOutcome, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from core.settings import get_settings
    from ltr.ranker.reranker import EngineReranker, LtrReranker
    from ltr.ranker.serving import active_reranker, reranker_for
    from ltr.search_template import template_id

    client = service.client
    alias = f"{service.index}-fix-{uuid.uuid4().hex[:8]}"  # a second alias of the catalogue: a store of its own
    physical = sorted(client.indices.get(index=service.index))
    store = FeatureStore(client, alias)
    template = template_id(alias, Settings().default_index)  # what `models sync --index` writes
    query = sorted(trained.artifact.meta["sample_queries"])[0]
    monkeypatch.setenv("SHELFRANK_RERANK_MODEL_REFRESH_SECONDS", "0")
    try:
        client.indices.put_alias(index=physical, name=alias)
        broken = {"unknown featureset 'shelfrank-v0'": lambda meta: meta.update(featureset="shelfrank-v0"),
                  f"featureset {SHOP_FEATURES.name} has changed": lambda meta: meta.update(featureset_hash="0" * 64)}
        for case, (expected, edit) in enumerate(broken.items()):
            url = f"sqlite:///{tmp_path / f'broken-{case}.db'}"
            _serve(url, trained, f"broken-{case}", tmp_path, edit)
            caplog.clear()
            with caplog.at_level(logging.ERROR), session_scope(url) as session:
                assert active_reranker(session, client, service.index, 50) is None
            assert expected in caplog.text and "shelfrank models rollback" in caplog.text, caplog.text
            monkeypatch.setenv("SHELFRANK_DATABASE_URL", url)
            get_settings.cache_clear()
            live = ActiveModelReranker(get_settings(), client, service.index)
            answered = SearchService(client, service.index, service.encoder, service.configs, "hybrid-minmax",
                                     reranker=live).search(SearchRequest(query=query, debug=True), record=False)
            assert live.name == "none" and answered.results
            assert not any("ltr" in r["stages"] for r in answered.results)

        url = f"sqlite:///{tmp_path / 'no-store.db'}"  # a sound model, but the catalogue has no store at all
        _serve(url, trained, "sound", tmp_path)
        assert not store.exists()
        caplog.clear()
        with caplog.at_level(logging.ERROR), session_scope(url) as session:
            assert active_reranker(session, client, alias, 50) is None
        assert f"missing from feature store {store.name}" in caplog.text
        assert f"shelfrank models sync --index {alias}" in caplog.text

        monkeypatch.setenv("SHELFRANK_DATABASE_URL", url)  # the command the message names repairs it
        get_settings.cache_clear()
        synced = CliRunner().invoke(app, ["models", "sync", "--index", alias])
        assert synced.exit_code == 0, synced.output
        assert "uploaded: sound" in synced.output and store.exists() and store.has_model("sound")

        # SHELFRANK_RERANK_ENGINE=python serves the reference reranker, which ranks as the engine does.
        monkeypatch.setenv("SHELFRANK_RERANK_ENGINE", "python")
        monkeypatch.setenv("SHELFRANK_RERANK_WINDOW", "50")
        get_settings.cache_clear()
        python = ActiveModelReranker(get_settings(), client, alias).current()
        assert type(python) is LtrReranker and python.name == "sound"
        engine = reranker_for(tmp_path / "sound", "sound", client, alias, 50)
        assert type(engine) is EngineReranker
        pool = service.candidates(query)
        context = SearchContext(None, None)
        assert len(pool) > 5
        assert [c.product_id for c in python.rerank(query, pool, context)] == \
            [c.product_id for c in engine.rerank(query, pool, context)]
    finally:  # each step on its own: one failing leaves the others done
        for cleanup in (lambda: client.indices.delete_alias(index=physical, name=alias, ignore=[404]),
                        lambda: client.transport.perform_request("DELETE", f"/_ltr/{store.name}",
                                                                 params={"ignore": 404}),
                        lambda: client.delete_script(id=template, ignore=[404])):
            try:
                cleanup()
            except TransportError as exc:
                logging.getLogger(__name__).warning("cleanup of %s failed: %s", alias, exc)
        get_settings.cache_clear()  # last: nothing reads the test's environment into the cache after this

