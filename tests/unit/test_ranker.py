"""Pure parts of learning to rank: featureset, first-stage features, labels, datasets, training, reranking."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ltr.clickmodels import ClickLog
from ltr.ranker.dataset import build_dataset
from tests.unit.fake_engine import FakeEngineLogger
from ltr.ranker.extract import (EngineFeatureLogger, FeatureExtractor, ProductBehaviour, document_behaviour,
                                positive, sltr_params, stage_features)
from ltr.ranker.featureset import (ENGINE_FEATURES, FEATURESETS, PARAMS, PERSONAL_FEATURES, QUERY_FEATURES,
                                   SHOP_FEATURES, engine_only)
from ltr.ranker.labels import judgment_labels, naive_ctr_labels
from ltr.ranker.reranker import LtrReranker
from ltr.ranker.train import TrainingError, TrainParams, train_lambdamart
from storefront.rerank_stage import Candidate, SearchContext


def test_featureset_hash_is_stable_and_covers_order() -> None:
    assert SHOP_FEATURES.hash == FEATURESETS["shelfrank-v1"].hash and len(SHOP_FEATURES.hash) == 64
    assert QUERY_FEATURES.hash != SHOP_FEATURES.hash
    body = SHOP_FEATURES.plugin_body()["featureset"]
    assert body["name"] == f"shelfrank-v1-{SHOP_FEATURES.hash[:12]}" == SHOP_FEATURES.store_name
    assert [f["name"] for f in body["features"]] == SHOP_FEATURES.names  # every feature, in order
    languages = {f["name"]: f["template_language"] for f in body["features"]}
    assert {languages[s.name] for s in SHOP_FEATURES.of_source("text")} == {"mustache"}
    assert {languages[s.name] for s in SHOP_FEATURES.of_source("stage") + SHOP_FEATURES.of_source("product")} == {
        "script_feature"}
    assert all(set(f["params"]) <= set(PARAMS) for f in PERSONAL_FEATURES.plugin_body()["featureset"]["features"])


def test_sltr_params_carry_every_param_as_strict_json_in_featureset_order() -> None:
    candidates = [Candidate("a", 0.9, {"bm25": 5.0, "vector": -0.2, "fused": -1.5}),
                  Candidate("b", 0.7, {"vector": 0.8, "fused": 0.7})]
    behaviour = ProductBehaviour({"a": {"product_ctr": 0.3}}, {"product_ctr": 0.1, "product_popularity": 2.0})
    params = sltr_params(SHOP_FEATURES, 'say "hi" now', candidates, behaviour)
    assert set(params) == {"keywords", "stage", "product_values", "product_priors"}  # what its features read
    assert params["keywords"] == 'say "hi" now'
    assert set(sltr_params(PERSONAL_FEATURES, "q", candidates)) == set(PARAMS) - {"query_vector", "history_values"}
    assert set(sltr_params(FEATURESETS["shelfrank-v4-personal"], "q", candidates)) == set(PARAMS) - {"query_vector"}
    json.dumps(params, allow_nan=False)  # the engine takes strict JSON only
    stage = [f.name for f in SHOP_FEATURES.of_source("stage")]
    assert params["stage"]["a"][stage.index("bm25_score")] == 5.0
    assert params["stage"]["b"][stage.index("bm25_score")] == 0.0 and params["stage"]["b"][stage.index("in_bm25")] == 0
    assert params["stage"]["a"][stage.index("vector_cosine")] == pytest.approx(0.8)
    assert min(v for row in params["stage"].values() for v in row) >= 0  # Lucene refuses negative scores
    assert params["product_values"]["a"] == pytest.approx([0.3, 0.0, 2.0])  # ctr, purchase rate (none), prior
    assert params["product_values"]["b"] == pytest.approx([0.1, 0.0, 2.0])
    served = sltr_params(SHOP_FEATURES, "q", candidates, document_behaviour({"product_ctr": 0.1}))
    assert served["product_values"] == {} and served["product_priors"] == pytest.approx([0.1, 0.0, 0.0])


def test_the_engine_featureset_needs_only_the_query_its_vector_and_the_documents() -> None:
    assert engine_only(ENGINE_FEATURES) and not engine_only(SHOP_FEATURES) and not engine_only(PERSONAL_FEATURES)
    body = ENGINE_FEATURES.plugin_body()["featureset"]["features"]
    assert {p for f in body for p in f["params"]} == {"keywords", "query_vector", "product_values", "product_priors"}
    candidates = [Candidate("a", 0.9, {"bm25": 5.0}), Candidate("b", 0.7)]
    params = sltr_params(ENGINE_FEATURES, "drill", candidates, None, None, np.array([0.25, -0.5]))
    assert params["query_vector"] == [0.25, -0.5] and "stage" not in params
    assert sltr_params(ENGINE_FEATURES, "drill", candidates)["query_vector"] == []  # BM25 only: cosine 0
    json.dumps(params, allow_nan=False)
    with pytest.raises(ValueError, match="query vector"):
        FeatureExtractor(ENGINE_FEATURES, EngineFeatureLogger(None, "x"))  # type: ignore[arg-type]


def test_positive_is_increasing_and_positive_for_signed_values() -> None:
    values = [-1e30, -1e6, -3.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 1.0, 3.0, 1e6]
    mapped = [positive(v) for v in values]
    assert all(m > 0 for m in mapped) and mapped == sorted(mapped) and len(set(mapped)) == len(mapped)
    assert positive(0.0) == 1.0 and positive(float("nan")) == 0.0


def test_stage_features_rank_present_scores_and_put_absent_ones_last() -> None:
    candidates = [Candidate("a", 0.9, {"bm25": 5.0, "vector": 0.2, "fused": 0.9}),
                  Candidate("b", 0.7, {"vector": 0.8, "fused": 0.7}),
                  Candidate("c", 0.5, {"bm25": 7.0, "vector": 0.5, "fused": 0.5})]
    stage = stage_features("cordless drill", candidates)
    assert stage["bm25_rank"].tolist() == [2, 3, 1]
    assert stage["vector_rank"].tolist() == [3, 1, 2]
    assert stage["in_bm25"].tolist() == [1, 0, 1] and stage["bm25_score"][1] == 0.0  # absent is 0.0
    assert stage["vector_cosine"].tolist() == pytest.approx([1.2, 1.8, 1.5])  # 1 + cosine, never negative
    assert stage["fused_rank"].tolist() == [1, 2, 3] and stage["query_terms"].tolist() == [2, 2, 2]


def test_naive_labels_keep_position_bias_and_respect_support() -> None:
    # "top" is always shown first and clicked 20 times in 50; "low" always 5th and clicked 10 times in 50
    sessions = [("q", ["top", "x", "y", "z", "low"], {"top"} if i % 2 else set()) for i in range(40)]
    sessions += [("q", ["top", "x", "y", "z", "low"], {"low"}) for _ in range(10)]
    labels = naive_ctr_labels(ClickLog.from_sessions(sessions, depth=5), min_support=20)
    assert labels["q"]["top"] == 2 and labels["q"]["low"] == 1  # smoothed CTR 21/52 and 11/52
    assert naive_ctr_labels(ClickLog.from_sessions(sessions, depth=5), min_support=100) == {}


def test_judgment_labels_scale_to_five_levels() -> None:
    assert judgment_labels({"q": {"a": 2.0, "b": 1.0, "c": 0.0}}, 2.0) == {"q": {"a": 4, "b": 2, "c": 0}}


def FakeTextLogger() -> FakeEngineLogger:  # noqa: N802 (reads like the class it stands in for)
    """The title feature is 1 for products whose id starts with 'good'."""
    return FakeEngineLogger(lambda name, pid: 1.0 if name == "title_bm25" and pid.startswith("good") else 0.0)


def synthetic(n_queries: int, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    pools, labels = {}, {}
    for q in range(n_queries):
        ids = [f"{'good' if rng.random() < 0.3 else 'bad'}-{q}-{i}" for i in range(20)]
        pools[f"q{q}"] = [Candidate(pid, 1.0 - i / 20, {"bm25": float(rng.random()), "vector": float(rng.random()),
                                                       "fused": 1.0 - i / 20}) for i, pid in enumerate(ids)]
        labels[f"q{q}"] = {pid: (3 if pid.startswith("good") else 0) for pid in ids}
    return pools, labels


def test_dataset_training_and_reranking_learn_the_signal() -> None:
    pools, labels = synthetic(120)
    extractor = FeatureExtractor(QUERY_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    data = build_dataset(sorted(pools), pools.__getitem__, extractor, labels)
    assert data.features.shape == (len(data), len(QUERY_FEATURES.names)) and data.features.dtype == np.float32
    assert int(data.groups.sum()) == len(data) == len(data.product_ids)
    train = data.select([i % 5 != 0 for i in range(len(data.groups))])
    valid = data.select([i % 5 == 0 for i in range(len(data.groups))])
    booster = train_lambdamart(train, valid, QUERY_FEATURES.names, TrainParams(max_rounds=50, min_data_in_leaf=5))
    assert booster.best_score["valid"]["ndcg@10"] > 0.99

    reranker = LtrReranker(booster, extractor, name="test", window=15)
    pool = [Candidate(c.product_id, c.score, dict(c.stages)) for c in pools["q3"]]
    ranked = reranker.rerank("q3", pool, SearchContext(None, None))
    head = [c.product_id for c in ranked[:15]]
    goods = [pid for pid in head if pid.startswith("good")]
    assert head[: len(goods)] == goods  # every good product of the window first
    assert [c.product_id for c in ranked[15:]] == [c.product_id for c in pools["q3"][15:]]  # tail untouched
    assert all("ltr" in c.stages for c in ranked[:15])
    # each reranked candidate carries the very values the model scored, by feature name
    first = ranked[0]
    assert first.features is not None and list(first.features) == QUERY_FEATURES.names
    rescored = booster.predict(np.array([[first.features[name] for name in QUERY_FEATURES.names]]))
    assert float(rescored[0]) == pytest.approx(first.score, rel=1e-6)


def test_queries_without_graded_contrast_are_left_out_and_tiny_data_is_refused() -> None:
    pools, labels = synthetic(3)
    labels = {q: {pid: 0 for pid in grades} for q, grades in labels.items()}
    extractor = FeatureExtractor(QUERY_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    data = build_dataset(sorted(pools), pools.__getitem__, extractor, labels)
    assert len(data.groups) == 0
    with pytest.raises(TrainingError, match="at least 2 training"):
        train_lambdamart(data, data, QUERY_FEATURES.names)


def test_a_model_for_another_featureset_is_refused() -> None:
    pools, labels = synthetic(40)
    extractor = FeatureExtractor(QUERY_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    data = build_dataset(sorted(pools), pools.__getitem__, extractor, labels)
    booster = train_lambdamart(data.select([i % 4 != 0 for i in range(len(data.groups))]),
                               data.select([i % 4 == 0 for i in range(len(data.groups))]), QUERY_FEATURES.names,
                               TrainParams(max_rounds=5))
    with pytest.raises(ValueError, match="differ from featureset"):
        LtrReranker(booster, FeatureExtractor(SHOP_FEATURES, FakeTextLogger()), name="x")  # type: ignore[arg-type]


def test_behaviour_snapshot_lookup_falls_back_to_priors() -> None:
    behaviour = ProductBehaviour({"a": {"product_ctr": 0.3}}, {"product_ctr": 0.1})
    assert (behaviour.get("a", "product_ctr"), behaviour.get("b", "product_ctr")) == (0.3, 0.1)
    assert behaviour.get("a", "product_popularity") == 0.0  # no prior either: absent is 0.0


def test_no_early_stopping_trains_every_round():
    import numpy as np

    from ltr.ranker.dataset import RankingData
    from ltr.ranker.train import TrainParams, train_lambdamart

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(int) + (features[:, 1] > 1)
    data = RankingData(features, labels, np.array([10] * 20), [f"q{i}" for i in range(20)],
                       [f"p{i}" for i in range(200)])
    booster = train_lambdamart(data, data, ["a", "b", "c"], TrainParams(max_rounds=37, early_stopping_rounds=0,
                                                                      min_data_in_leaf=2))
    assert booster.num_trees() == 37


def test_candidates_without_a_label_can_weigh_less_than_labelled_ones() -> None:
    """Click labels: a candidate the log never labelled is a 0 of weight ``unlabelled_weight`` (unshown is not
    irrelevant); labelled rows, and every row at weight 1, carry no weight (training as before)."""
    pools, labels = synthetic(30)
    partial = {q: dict(list(grades.items())[:3]) for q, grades in labels.items()}
    extractor = FeatureExtractor(QUERY_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    full = build_dataset(sorted(pools), pools.__getitem__, extractor, partial, unlabelled_as_zero=True)
    assert full.weights is None
    data = build_dataset(sorted(pools), pools.__getitem__, extractor, partial, unlabelled_as_zero=True,
                         unlabelled_weight=0.1)
    assert data.weights is not None and len(data.weights) == len(data) and len(data) == len(full)
    starts = np.cumsum([0, *data.groups[:-1]])
    labelled = np.array([pid in partial[q] for q, start, n in zip(data.queries, starts, data.groups)
                         for pid in data.product_ids[start:start + n]])
    assert set(data.weights[labelled]) == {1.0} and set(data.weights[~labelled]) == {0.1}
    assert labelled.sum() == sum(len(g) for q, g in partial.items() if q in data.queries)
    train = data.select([i % 5 != 0 for i in range(len(data.groups))])
    assert train.weights is not None and len(train.weights) == len(train)
    train_lambdamart(train, data.select([i % 5 == 0 for i in range(len(data.groups))]), QUERY_FEATURES.names,
                     TrainParams(max_rounds=5))
