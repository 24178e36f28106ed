"""LightGBM -> plugin ``model/xgboost+json`` conversion: parity with ``booster.predict`` on float32 inputs.

The plugin sees float32 feature values, so the reference is ``booster.predict`` on the same rows
cast to float32 (LightGBM widens them to float64 exactly). Boundaries are tested against real
LightGBM both on trained models and on hand-written model strings with adversarial thresholds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pytest

from ltr.serving import (
    BIAS_TERM,
    ModelConversionError,
    PluginModelError,
    create_model_path,
    explain,
    lightgbm_to_xgboost_json,
    plugin_objective,
    predict_xgboost_json,
    smallest_float32_above,
    to_plugin_model_body,
)
from ltr.serving.xgboost_json import FLOAT32_OVERFLOW_LITERAL, ZERO_THRESHOLD

NAMES = ["title_bm25", "bm25_score", "in_stock_rank", "tier", "user_affinity", "popularity", "ctr", "price"]
N_ROWS, GROUP = 2000, 20
ATOL = 1e-5  # float32 leaves summed in float32 vs LightGBM's float64
F32 = np.float32
Z = F32(ZERO_THRESHOLD)


def _data(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.empty((N_ROWS, len(NAMES)))
    X[:, 0] = rng.gamma(2.0, 3.0, N_ROWS)
    X[:, 1] = np.where(rng.random(N_ROWS) < 0.25, np.nan, rng.normal(5, 2, N_ROWS))  # NaN: missing_type NaN
    X[:, 2] = rng.integers(0, 5, N_ROWS)  # few distinct values: thresholds between data values
    X[:, 3] = rng.choice([0.1, 0.2, 0.3], N_ROWS)  # values not representable in float32
    X[:, 4] = np.where(rng.random(N_ROWS) < 0.6, 0.0, rng.normal(0, 1, N_ROWS))  # mostly zeros, negatives
    X[:, 5] = np.where(rng.random(N_ROWS) < 0.1, np.nan, rng.lognormal(12, 2, N_ROWS))  # huge magnitudes
    X[:, 6] = rng.beta(1, 30, N_ROWS) * 1e-3  # tiny magnitudes
    X[:, 7] = np.round(rng.uniform(0.5, 99.99, N_ROWS), 2)
    signal = (0.3 * X[:, 0] + np.nan_to_num(X[:, 1], nan=2.0) * 0.4 + X[:, 2] * 0.5 + X[:, 3] * 6 + X[:, 4]
              + np.log1p(np.nan_to_num(X[:, 5])) * 0.1 + X[:, 6] * 800 - X[:, 7] / 40)
    y = np.digitize(signal + rng.normal(0, 1, N_ROWS), np.quantile(signal, [0.5, 0.75, 0.9]))
    return X, y


def _train(params: dict, rounds: int = 50, X: np.ndarray | None = None, y: np.ndarray | None = None,
           names: Sequence[str] = NAMES, group: bool = True) -> lgb.Booster:
    if X is None or y is None:
        X, y = _data()
    base = {"verbose": -1, "seed": 3, "deterministic": True, "num_threads": 2, "num_leaves": 15,
            "min_data_in_leaf": 5, "learning_rate": 0.1}
    ds = lgb.Dataset(X, y, group=[GROUP] * (len(y) // GROUP) if group else None, feature_name=list(names))
    return lgb.train({**base, **params}, ds, rounds)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return _data()


@pytest.fixture(scope="module")
def ranker() -> lgb.Booster:
    return _train({"objective": "lambdarank"})


@pytest.fixture(scope="module")
def zero_ranker() -> lgb.Booster:
    return _train({"objective": "lambdarank", "zero_as_missing": True}, rounds=30)


def _as_served(trees: list[dict]) -> list[dict]:
    """Round-trip through the request body, as the plugin receives it."""
    body = to_plugin_model_body("m", "fs", trees)
    return json.loads(body["model"]["model"]["definition"])


def _assert_parity(booster: lgb.Booster, X: np.ndarray, names: Sequence[str] = NAMES, **predict_kw: bool) -> None:
    X32 = np.asarray(X, dtype=np.float32)
    trees = _as_served(lightgbm_to_xgboost_json(booster, names))
    # The converter rewrites LightGBM's NaN routing into ``missing`` links; this plugin version ignores
    # them (absent = 0.0, see test_plugin_semantics_score_nan_as_zero), XGBoost's semantics follow them.
    ours = predict_xgboost_json(trees, names, X32, absent="missing-branch")
    ref = booster.predict(X32, **predict_kw)
    np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=ATOL)


def _splits(node: dict) -> list[dict]:
    if "split_index" not in node:
        return []
    return [node, *_splits(node["left_child"]), *_splits(node["right_child"])]


def _all_splits(booster: lgb.Booster) -> list[dict]:
    return [s for tree in booster.dump_model()["tree_info"] for s in _splits(tree["tree_structure"])]


def _neighbours(t: float) -> list[float]:
    """Float32 values around a float64 threshold: nearest, both roundings, one ulp either side."""
    up, down = F32(np.inf), F32(-np.inf)
    with np.errstate(over="ignore"):
        near = F32(t)
        below = near if float(near) <= t else np.nextafter(near, down)
        above = near if float(near) >= t else np.nextafter(near, up)
        values = {near, below, above}
        for v in list(values):
            values |= {np.nextafter(v, up), np.nextafter(v, down)}
    return [float(v) for v in values if np.isfinite(v)]


def _boundary_rows(booster: lgb.Booster, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """Training rows with one feature moved onto / next to each threshold the model tests on it."""
    rng = np.random.default_rng(seed)
    rows = []
    for split in _all_splits(booster):
        for value in _neighbours(split["threshold"]):
            row = X[rng.integers(len(X))].copy()
            row[split["split_feature"]] = value
            rows.append(row)
    return np.asarray(rows)


def _special_rows(X: np.ndarray, seed: int = 1) -> np.ndarray:
    """Each feature set to NaN, +-0, the zero band edges, +-inf and float32 extremes."""
    specials = [np.nan, 0.0, -0.0, float(Z), -float(Z), float(np.nextafter(Z, F32(1))),
                -float(np.nextafter(Z, F32(1))), 1e-45, -1e-45, np.inf, -np.inf, 3.4028234663852886e38]
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(X.shape[1]):
        for value in specials:
            for _ in range(3):
                row = X[rng.integers(len(X))].copy()
                row[j] = value
                rows.append(row)
    rows.append(np.full(X.shape[1], np.nan))
    rows.append(np.zeros(X.shape[1]))
    return np.asarray(rows)


# ---------------------------------------------------------------------------- trained models


def test_parity_on_training_rows(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    _assert_parity(ranker, data[0])


def test_parity_at_every_threshold(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    rows = _boundary_rows(ranker, data[0])
    assert len(rows) > 2000
    _assert_parity(ranker, rows)


def test_parity_on_nan_and_special_rows(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    X = data[0]
    rng = np.random.default_rng(5)
    holes = np.where(rng.random(X.shape) < 0.3, np.nan, X)  # NaN in every feature, incl. None-type ones
    _assert_parity(ranker, holes)
    _assert_parity(ranker, _special_rows(X))


def test_model_exercises_both_missing_types_and_data_valued_thresholds(ranker: lgb.Booster) -> None:
    splits = _all_splits(ranker)
    assert {s["missing_type"] for s in splits} == {"None", "NaN"}
    tier = [s["threshold"] for s in splits if s["split_feature"] == NAMES.index("tier")]
    assert tier and all(float(F32(t)) != t for t in tier)  # thresholds not representable in float32


def test_orders_identical_per_query(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    X32 = data[0].astype(np.float32)
    ours = predict_xgboost_json(lightgbm_to_xgboost_json(ranker, NAMES), NAMES, X32,
                                absent="missing-branch").astype(np.float64)
    ref = ranker.predict(X32)
    fully_checked = 0
    for start in range(0, len(ref), GROUP):
        r, o = ref[start:start + GROUP], ours[start:start + GROUP]
        dr, do = r[:, None] - r[None, :], o[:, None] - o[None, :]
        near = (np.abs(dr) <= 2 * ATOL) & (dr != 0)  # only these may swap under float32 summation
        assert np.array_equal(np.sign(dr)[~near], np.sign(do)[~near])  # exact ties stay ties
        if not near.any():
            assert np.array_equal(np.argsort(-r, kind="stable"), np.argsort(-o, kind="stable"))
            fully_checked += 1
    assert fully_checked >= 0.9 * (len(ref) // GROUP)


def test_zero_as_missing_parity(zero_ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    splits = _all_splits(zero_ranker)
    assert {s["missing_type"] for s in splits} == {"Zero"}
    X = data[0]
    _assert_parity(zero_ranker, X)
    _assert_parity(zero_ranker, _boundary_rows(zero_ranker, X))
    _assert_parity(zero_ranker, _special_rows(X))
    # Splits whose default side disagrees with the threshold become chains (more plugin nodes).
    trees = lightgbm_to_xgboost_json(zero_ranker, NAMES)
    assert sum(_count_plugin_nodes(t) for t in trees) > sum(2 * len(_splits(t["tree_structure"])) + 1
                                                             for t in zero_ranker.dump_model()["tree_info"])


def _count_plugin_nodes(node: dict) -> int:
    return 1 + sum(_count_plugin_nodes(c) for c in node.get("children", []))


def test_converted_structure_is_what_the_plugin_expects(ranker: lgb.Booster) -> None:
    trees = lightgbm_to_xgboost_json(ranker, NAMES)
    assert len(trees) == 50

    def check(node: dict, depth: int, ids: set[int]) -> None:
        assert node["nodeid"] not in ids
        ids.add(node["nodeid"])
        if "leaf" in node:
            assert set(node) == {"nodeid", "leaf"} and float(F32(node["leaf"])) == node["leaf"]
            return
        assert set(node) == {"nodeid", "depth", "split", "split_condition", "yes", "no", "missing", "children"}
        assert node["depth"] == depth and node["split"] in NAMES
        assert [c["nodeid"] for c in node["children"]] == [node["yes"], node["no"]]
        assert node["missing"] in (node["yes"], node["no"])
        assert float(F32(node["split_condition"])) == node["split_condition"]  # exact float32
        for child in node["children"]:
            check(child, depth + 1, ids)

    for tree in trees:
        check(tree, 0, set())


def test_feature_order_of_featureset_does_not_matter(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    order = NAMES[::-1]
    trees = lightgbm_to_xgboost_json(ranker, order)
    X32 = data[0][:200].astype(np.float32)
    ours = predict_xgboost_json(trees, order, X32[:, ::-1], absent="missing-branch")
    np.testing.assert_allclose(ours, ranker.predict(X32), atol=ATOL)


def test_legacy_plugin_without_missing_support_sends_nan_right() -> None:
    trees = [{"nodeid": 0, "depth": 0, "split": "a", "split_condition": 1.0, "yes": 1, "no": 2, "missing": 1,
              "children": [{"nodeid": 1, "leaf": -1.0}, {"nodeid": 2, "leaf": 1.0}]}]
    X = np.array([[np.nan], [0.5], [1.0]])
    assert predict_xgboost_json(trees, ["a"], X, absent="missing-branch").tolist() == [-1.0, -1.0, 1.0]
    assert predict_xgboost_json(trees, ["a"], X, absent="nan-goes-no").tolist() == [1.0, -1.0, 1.0]


def test_plugin_semantics_score_nan_as_zero(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    """What the engine does with an absent value (0.0, ``missing`` unused), so a NaN-trained model is caught."""
    trees = [{"nodeid": 0, "depth": 0, "split": "a", "split_condition": 1.0, "yes": 1, "no": 2, "missing": 2,
              "children": [{"nodeid": 1, "leaf": -1.0}, {"nodeid": 2, "leaf": 1.0}]}]
    assert predict_xgboost_json(trees, ["a"], np.array([[np.nan], [0.0], [2.0]])).tolist() == [-1.0, -1.0, 1.0]
    X = data[0]
    holes = np.where(np.random.default_rng(5).random(X.shape) < 0.3, np.nan, X).astype(np.float32)
    served = predict_xgboost_json(lightgbm_to_xgboost_json(ranker, NAMES), NAMES, holes)
    differs = np.abs(served - ranker.predict(holes)) > 1e-4
    assert differs.mean() > 0.2  # LightGBM sends NaN to its default side; the plugin scores 0.0
    np.testing.assert_allclose(served, ranker.predict(np.nan_to_num(holes, nan=0.0)), rtol=2e-6, atol=ATOL)


# ---------------------------------------------------------------------------- float32 boundaries


ADVERSARIAL_THRESHOLDS = [
    0.1, -0.1, 1.0, -1.0, 0.5 + 1e-12, 0.5 - 1e-12,
    float(np.nextafter(float(F32(0.3)), 0.0)), float(np.nextafter(float(F32(0.3)), 1.0)),  # rounds up / down
    16777217.0, -16777217.0, 123456789.123, 1e-30, -1e-30,
    1e-40, -1e-40, 1e-50, -1e-50, 0.0, -0.0,  # float32 subnormal, below float32's range, zeros
    float(Z), -float(Z), 2 * float(Z), -2 * float(Z), float(Z) / 2, -float(Z) / 2,  # LightGBM's zero band
    float(np.nextafter(Z, F32(1))), -float(np.nextafter(Z, F32(1))),
    3.4028234663852886e38, -3.4028234663852886e38, 3.4028235e38, 3.5e38, -3.5e38, 1e300, -1e300,
]
MISSING_TYPES = {"None": 0, "Zero": 1, "NaN": 2}


def _model_string(splits: list[tuple[int, float, str, bool, int, int]], leaves: list[float],
                  n_features: int = 1) -> str:
    """A LightGBM model text with one tree: splits are (feature, threshold, missing_type, default_left,
    left, right) with children as split indices or ~leaf_index."""
    decision = [(MISSING_TYPES[m] << 2) | (2 if dl else 0) for _, _, m, dl, _, _ in splits]
    k = len(splits)
    return "\n".join([
        "tree", "version=v4", "num_class=1", "num_tree_per_iteration=1", "label_index=0",
        f"max_feature_idx={n_features - 1}", "objective=regression",
        "feature_names=" + " ".join(f"f{i}" for i in range(n_features)),
        "feature_infos=" + " ".join("none" for _ in range(n_features)), "",
        "Tree=0", f"num_leaves={len(leaves)}", "num_cat=0",
        "split_feature=" + " ".join(str(s[0]) for s in splits),
        "split_gain=" + " ".join("1" for _ in splits),
        "threshold=" + " ".join(repr(float(s[1])) for s in splits),
        "decision_type=" + " ".join(map(str, decision)),
        "left_child=" + " ".join(str(s[4]) for s in splits),
        "right_child=" + " ".join(str(s[5]) for s in splits),
        "leaf_value=" + " ".join(repr(v) for v in leaves),
        "leaf_weight=" + " ".join("1" for _ in leaves), "leaf_count=" + " ".join("1" for _ in leaves),
        "internal_value=" + " ".join("0" for _ in range(k)), "internal_weight=" + " ".join("1" for _ in range(k)),
        "internal_count=" + " ".join("1" for _ in range(k)), "is_linear=0", "shrinkage=1", "", "",
        "end of trees", "",
    ])


def _probe_values(threshold: float) -> np.ndarray:
    specials = [np.nan, 0.0, -0.0, np.inf, -np.inf, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45]
    values = _neighbours(threshold) + [v for z in (float(Z), -float(Z)) for v in _neighbours(z)] + specials
    return np.asarray(values, dtype=np.float32)[:, None]


@pytest.mark.parametrize("missing_type", sorted(MISSING_TYPES))
@pytest.mark.parametrize("default_left", [True, False])
def test_single_split_boundaries_match_lightgbm(missing_type: str, default_left: bool) -> None:
    for t in ADVERSARIAL_THRESHOLDS:
        booster = lgb.Booster(model_str=_model_string([(0, t, missing_type, default_left, ~0, ~1)], [-1.0, 1.0]))
        split = booster.dump_model()["tree_info"][0]["tree_structure"]
        assert split["threshold"] == t or abs(t) > 1e299  # LightGBM keeps the float64 exactly
        X = _probe_values(t)
        ours = predict_xgboost_json(_as_served(lightgbm_to_xgboost_json(booster, ["f0"])), ["f0"], X,
                                    absent="missing-branch")
        ref = booster.predict(X)
        bad = [(float(x), r, o) for x, r, o in zip(X[:, 0], ref, ours) if r != o]
        assert not bad, f"threshold {t!r} ({missing_type}, default_left={default_left}): {bad}"


def test_nested_zero_as_missing_chains_match_lightgbm() -> None:
    # Root: zero band left although threshold < 0; its children: band right although threshold > 0.
    splits = [(0, -2.0, "Zero", True, 1, 2), (1, 0.75, "Zero", False, ~0, ~1), (0, 3.0, "Zero", False, ~2, ~3)]
    booster = lgb.Booster(model_str=_model_string(splits, [1.0, 2.0, 4.0, 8.0], n_features=2))
    grid = [np.nan, -np.inf, -3.0, -2.0, float(np.nextafter(F32(-2.0), F32(0))), -1.0, -float(Z), 0.0, float(Z),
            float(np.nextafter(Z, F32(1))), 0.5, 0.75, float(np.nextafter(F32(0.75), F32(1))), 3.0, 3.5, np.inf]
    X = np.array([[a, b] for a in grid for b in grid], dtype=np.float32)
    trees = _as_served(lightgbm_to_xgboost_json(booster, ["f0", "f1"]))
    assert _count_plugin_nodes(trees[0]) > 7
    np.testing.assert_array_equal(predict_xgboost_json(trees, ["f0", "f1"], X, absent="missing-branch"),
                                  booster.predict(X))


def test_smallest_float32_above_is_the_exact_cut() -> None:
    rng = np.random.default_rng(11)
    randoms = list(rng.normal(0, 1, 200) * 10.0 ** rng.integers(-44, 38, 200))
    for t in ADVERSARIAL_THRESHOLDS + randoms:
        cut = smallest_float32_above(t)
        assert float(cut) > t
        with np.errstate(over="ignore"):
            below = np.nextafter(cut, F32(-np.inf))
        assert float(below) <= t  # nothing float32 between t and the cut
        for x in _neighbours(t) + [float(cut), float(below)]:
            assert (x <= t) == (F32(x) < cut), (t, x)
    assert smallest_float32_above(1e300) == np.inf and smallest_float32_above(-1e300) == -np.finfo(F32).max
    assert smallest_float32_above(float(np.nextafter(float(F32(0.3)), 0.0))) == F32(0.3)  # rounding up: the cut
    assert smallest_float32_above(1.0) == np.nextafter(F32(1.0), F32(2.0))


def test_huge_thresholds_serialise_as_strict_json() -> None:
    booster = lgb.Booster(model_str=_model_string([(0, 1e300, "NaN", True, ~0, ~1)], [-1.0, 1.0]))
    trees = lightgbm_to_xgboost_json(booster, ["f0"])
    assert trees[0]["split_condition"] == FLOAT32_OVERFLOW_LITERAL
    definition = to_plugin_model_body("m", "fs", trees)["model"]["model"]["definition"]
    assert "Infinity" not in definition and "NaN" not in definition


# ---------------------------------------------------------------------------- objectives, shrinkage, bias


def test_leaf_values_already_include_shrinkage(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    booster = _train({"objective": "lambdarank", "learning_rate": 0.1}, rounds=1)
    tree = booster.dump_model()["tree_info"][0]
    assert tree["shrinkage"] == pytest.approx(0.1)
    leaf_values = {s["left_child"].get("leaf_value") for s in _splits(tree["tree_structure"])} - {None}
    predictions = set(np.round(booster.predict(X), 12))
    assert {round(v, 12) for v in leaf_values} <= predictions
    _assert_parity(booster, X)


def test_regression_bias_from_boost_from_average(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = data
    y = 250.0 + 3 * X[:, 0]
    booster = _train({"objective": "regression", "boost_from_average": True}, rounds=20, y=y, X=X, group=False)
    first = booster.dump_model()["tree_info"][0]["tree_structure"]
    assert min(abs(s["left_child"].get("leaf_value", 250.0)) for s in _splits(first)) > 100  # bias in tree 0
    _assert_parity(booster, X)


def test_constant_target_gives_single_leaf_tree(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, _ = data
    booster = _train({"objective": "regression"}, rounds=3, X=X, y=np.full(len(X), 7.25), group=False)
    trees = lightgbm_to_xgboost_json(booster, NAMES)
    assert trees[0] == {"nodeid": 0, "leaf": 7.25}
    _assert_parity(booster, X[:50])


def test_binary_scores_are_raw_margins(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    booster = _train({"objective": "binary"}, rounds=20, X=X, y=(y > 1).astype(float), group=False)
    _assert_parity(booster, X, raw_score=True)
    assert plugin_objective(booster.dump_model()["objective"]) == "binary:logitraw"
    trees = lightgbm_to_xgboost_json(booster, NAMES)
    logistic = json.loads(to_plugin_model_body("m", "fs", trees, objective="binary:logistic")
                          ["model"]["model"]["definition"])
    X32 = X[:100].astype(np.float32)
    np.testing.assert_allclose(predict_xgboost_json(logistic, NAMES, X32, absent="missing-branch"),
                               booster.predict(X32), atol=1e-6)


def test_rank_xendcg_converts(data: tuple[np.ndarray, np.ndarray]) -> None:
    _assert_parity(_train({"objective": "rank_xendcg"}, rounds=10), data[0])


# ---------------------------------------------------------------------------- rejections


def test_categorical_split_rejected_naming_tree_and_node(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    ds = lgb.Dataset(X, y, group=[GROUP] * (N_ROWS // GROUP), feature_name=NAMES, categorical_feature=["in_stock_rank"])
    booster = lgb.train({"objective": "lambdarank", "verbose": -1, "min_data_per_group": 5, "cat_smooth": 1,
                         "num_threads": 2, "seed": 3}, ds, 10)
    with pytest.raises(ModelConversionError, match=r"tree \d+, split_index \d+: categorical split"):
        lightgbm_to_xgboost_json(booster, NAMES)


def test_feature_mismatch_rejected_naming_features(ranker: lgb.Booster) -> None:
    with pytest.raises(ModelConversionError, match=r"missing from the featureset: \['price'\]"):
        lightgbm_to_xgboost_json(ranker, NAMES[:-1])
    with pytest.raises(ModelConversionError, match=r"not trained on: \['brand_bm25'\]"):
        lightgbm_to_xgboost_json(ranker, [*NAMES, "brand_bm25"])
    with pytest.raises(ModelConversionError, match="repeat"):
        lightgbm_to_xgboost_json(ranker, [*NAMES, "price"])


def test_bad_thresholds_rejected(ranker: lgb.Booster) -> None:
    for bad in (float("nan"), float("inf"), float("-inf")):
        dump = ranker.dump_model()
        dump["tree_info"][4]["tree_structure"]["threshold"] = bad
        with pytest.raises(ModelConversionError, match=r"tree 4, split_index 0: threshold"):
            lightgbm_to_xgboost_json(dump, NAMES)


def test_unsupported_models_rejected(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    multi = _train({"objective": "multiclass", "num_class": 4}, rounds=2, X=X, y=y, group=False)
    with pytest.raises(ModelConversionError, match="multiclass"):
        lightgbm_to_xgboost_json(multi, NAMES)
    huber = _train({"objective": "huber"}, rounds=2, X=X, y=y.astype(float), group=False)
    with pytest.raises(ModelConversionError, match="objective 'huber'"):
        lightgbm_to_xgboost_json(huber, NAMES)
    linear = _train({"objective": "regression", "linear_tree": True}, rounds=2,
                    X=np.nan_to_num(X), y=y.astype(float), group=False)
    with pytest.raises(ModelConversionError, match="linear trees"):
        lightgbm_to_xgboost_json(linear, NAMES)
    forest = _train({"objective": "regression", "boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1},
                    rounds=2, X=X, y=y.astype(float), group=False)
    with pytest.raises(ModelConversionError, match="average_output"):
        lightgbm_to_xgboost_json(forest, NAMES)


def test_evaluator_rejects_what_the_plugin_rejects() -> None:
    leaf = {"nodeid": 1, "leaf": 1.0}
    ok = {"nodeid": 0, "depth": 0, "split": "a", "split_condition": 1.0, "yes": 1, "no": 2,
          "children": [leaf, {"nodeid": 2, "leaf": 2.0}]}
    X = np.zeros((1, 1))
    assert predict_xgboost_json([ok], ["a"], X).tolist() == [1.0]
    for broken in ({**ok, "yes": 2, "no": 1}, {**ok, "missing": 7}, {**ok, "split": "b"},
                   {**ok, "gain": 1.0}, {k: v for k, v in ok.items() if k != "depth"}):
        with pytest.raises(PluginModelError):
            predict_xgboost_json([broken], ["a"], X)


# ---------------------------------------------------------------------------- body, contributions


def test_plugin_model_body(ranker: lgb.Booster) -> None:
    trees = lightgbm_to_xgboost_json(ranker, NAMES)
    body = to_plugin_model_body("shelfrank_v1", "shelfrank_features", trees)
    model = body["model"]
    assert model["name"] == "shelfrank_v1" and model["model"]["type"] == "model/xgboost+json"
    assert json.loads(model["model"]["definition"]) == trees
    assert create_model_path("shelfrank_features") == "_ltr/_featureset/shelfrank_features/_createmodel"
    wrapped = json.loads(to_plugin_model_body("m", "fs", trees, objective="rank:pairwise")
                         ["model"]["model"]["definition"])
    assert wrapped == {"objective": "rank:pairwise", "splits": trees}
    with pytest.raises(ValueError):
        to_plugin_model_body("m", "fs", trees, objective="rank:lambdarank")
    with pytest.raises(ValueError):
        to_plugin_model_body("m", "a/b", trees)


def test_contributions_sum_to_prediction(ranker: lgb.Booster, data: tuple[np.ndarray, np.ndarray]) -> None:
    X = data[0]
    trees = lightgbm_to_xgboost_json(ranker, NAMES)
    rows = np.vstack([X[:20], _special_rows(X)[::25]])
    for row in rows:
        terms = explain(ranker, row, NAMES)
        assert [name for name, _ in terms[:-1]] and terms[-1][0] == BIAS_TERM
        assert sorted(name for name, _ in terms[:-1]) == sorted(NAMES)
        magnitudes = [abs(c) for _, c in terms[:-1]]
        assert magnitudes == sorted(magnitudes, reverse=True)
        total = sum(c for _, c in terms)
        assert total == pytest.approx(ranker.predict(row[None, :].astype(np.float32))[0], abs=1e-9)
        assert total == pytest.approx(float(predict_xgboost_json(trees, NAMES, row[None, :], absent="missing-branch")[0]), abs=ATOL)
    reordered = explain(ranker, X[0][::-1], NAMES[::-1])
    assert dict(reordered) == pytest.approx(dict(explain(ranker, X[0], NAMES)))


def test_the_features_a_model_splits_on_are_what_its_stored_featureset_keeps(data) -> None:  # type: ignore[no-untyped-def]
    """A feature no split reads cannot change a score: the model is stored with the others only."""
    from ltr.ranker.featureset import SHOP_FEATURES_V4
    from ltr.serving.xgboost_json import features_used

    X, y = data
    X = X.copy()
    X[:, NAMES.index("price")] = 1.0  # constant: never split on
    trees = lightgbm_to_xgboost_json(_train({"objective": "lambdarank"}, rounds=20, X=X, y=y), NAMES)
    used = features_used(trees)
    assert "price" not in used and "title_bm25" in used and used <= set(NAMES)
    pruned = SHOP_FEATURES_V4.restricted_to({"title_coverage", "history_queries", "not a feature"})
    assert pruned.name == SHOP_FEATURES_V4.name and pruned.names == ["title_coverage", "history_queries"]
    assert pruned.store_name != SHOP_FEATURES_V4.store_name  # its own entry in the store
    assert SHOP_FEATURES_V4.restricted_to(set()).names == SHOP_FEATURES_V4.names[:1]  # one tree of one leaf
