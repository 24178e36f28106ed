import pytest

from storefront import fusion


def test_rrf_rewards_agreement_and_ignores_score_scale() -> None:
    lists = {"bm25": {"a": 30.0, "b": 20.0, "c": 10.0}, "vector": {"b": 0.9, "d": 0.8, "a": 0.1}}
    fused = fusion.rrf(lists, k=60)
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 63)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert [pid for pid, _ in fusion.ranked(fused)] == ["b", "a", "d", "c"]


def test_minmax_and_zscore_normalisation() -> None:
    assert fusion.minmax({"a": 10, "b": 20, "c": 30}) == {"a": 0.0, "b": 0.5, "c": 1.0}
    assert fusion.minmax({"a": 5, "b": 5}) == {"a": 1.0, "b": 1.0}
    z = fusion.zscore({"a": 1.0, "b": 2.0, "c": 3.0})
    assert z["b"] == pytest.approx(0.0) and z["c"] == pytest.approx(-z["a"]) and z["c"] > 1.2
    assert fusion.zscore({"a": 2.0, "b": 2.0}) == {"a": 0.0, "b": 0.0}
    assert fusion.minmax({}) == {} and fusion.zscore({}) == {}


def test_weighted_sum_gives_missing_products_the_floor() -> None:
    lists = {"bm25": {"a": 10.0, "b": 0.0}, "vector": {"c": 1.0, "a": 0.0}}
    fused = fusion.weighted_sum(lists, {"bm25": 0.7, "vector": 0.3}, "minmax")
    assert fused == pytest.approx({"a": 0.7, "b": 0.0, "c": 0.3})
    only_vector = fusion.weighted_sum(lists, {"bm25": 0.0, "vector": 1.0}, "minmax")
    assert fusion.ranked(only_vector)[0][0] == "c"


def test_ranked_is_deterministic_on_ties() -> None:
    assert fusion.ranked({"b": 1.0, "a": 1.0, "c": 2.0}) == [("c", 2.0), ("a", 1.0), ("b", 1.0)]


def test_fuse_dispatches_and_equal_rrf_weights_mean_plain_rrf() -> None:
    lists = {"bm25": {"a": 3.0, "b": 1.0}, "vector": {"b": 0.9, "c": 0.2}}
    assert fusion.fuse(lists, "rrf", {"bm25": 0.5, "vector": 0.5}) == pytest.approx(fusion.rrf(lists))
    assert fusion.fuse(lists, "minmax", {"bm25": 1.0, "vector": 0.0}) == pytest.approx({"a": 1.0, "b": 0.0, "c": 0.0})
    with pytest.raises(ValueError, match="unknown fusion"):
        fusion.fuse(lists, "borda", {})
