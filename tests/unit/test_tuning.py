"""The search tuning as a value: parsing untrusted input, synonyms, and the configurations it serves."""

from __future__ import annotations

import pytest

from indexer import schema
from storefront.retrieval import BM25_FIELDS, bm25_body, default_configs, knn_body, synonym_variants, text_query
from storefront.request import Filters
from storefront.tuning import SearchTuning, TuningError, parse_synonyms, parse_tuning, served


def test_the_default_tuning_serves_exactly_todays_configurations() -> None:
    tuning = SearchTuning(vector_weight=0.4, candidates=100, vector_candidates=30)
    configs = served(tuning).configs
    for name, config in default_configs(0.4, 100, 30).items():
        assert configs[name] == config, name
    assert configs["bm25"].fields == BM25_FIELDS


def test_parse_keeps_the_base_for_missing_values_and_names_bad_ones() -> None:
    base = SearchTuning(vector_weight=0.3)
    assert parse_tuning({"rrf_k": "20"}, base) == SearchTuning(vector_weight=0.3, rrf_k=20.0)
    with pytest.raises(TuningError) as bad:
        parse_tuning({"boosts": {"title": 3, "colour": 1}})
    assert bad.value.field == "boosts.colour"
    with pytest.raises(TuningError) as zero:
        parse_tuning({"boosts": {name: 0 for name in SearchTuning().boosts}})
    assert zero.value.field == "boosts"
    with pytest.raises(TuningError) as unknown:
        parse_tuning({"fuzziness": 2})
    assert unknown.value.field == "fuzziness"
    with pytest.raises(TuningError) as fraction:
        parse_tuning({"candidates": 10.5})
    assert fraction.value.field == "candidates"


def test_synonyms_are_lines_of_groups_and_bad_terms_are_refused() -> None:
    assert parse_synonyms("Fridge, refrigerator\n\n tv ,  television , telly ") == (
        ("fridge", "refrigerator"), ("tv", "television", "telly"))
    with pytest.raises(TuningError, match="line 2"):
        parse_synonyms("a, b\n<script>, x")
    with pytest.raises(TuningError, match="at least two terms"):
        parse_synonyms("lonely")


def test_synonym_variants_replace_whole_words_only() -> None:
    groups = (("tv", "television"), ("wall mount", "bracket"))
    assert synonym_variants("tv wall mount", groups) == ["tv wall mount", "television wall mount", "tv bracket"]
    assert synonym_variants("tvs", groups) == ["tvs"]  # not inside a word
    assert text_query("drill", synonyms=groups) == text_query("drill")  # no match: the plain query


def test_tuned_boosts_and_synonyms_reach_the_bm25_body() -> None:
    tuning = parse_tuning({"boosts": {"title": 5, "description": 0}, "synonyms": "fridge, refrigerator"})
    config = served(tuning).configs["bm25"]
    body = bm25_body("mini fridge", Filters(), 10, fields=config.fields, synonyms=config.synonyms)
    variants = body["query"]["bool"]["must"][0]["dis_max"]["queries"]
    assert [v["multi_match"]["query"] for v in variants] == ["mini fridge", "mini refrigerator"]
    assert "title^5" in variants[0]["multi_match"]["fields"]
    assert not any(f.startswith("description") for f in variants[0]["multi_match"]["fields"])


def test_changes_from_lists_what_a_reviewer_must_see() -> None:
    live = SearchTuning()
    changed = parse_tuning({"vector_weight": 0.7, "synonyms": "a, b"}, live)
    assert changed.changes_from(live) == {"vector_weight": (0.4, 0.7), "synonyms": ([], [["a", "b"]])}


def test_the_knn_depth_is_empty_for_the_engine_default_and_never_below_k() -> None:
    assert SearchTuning().vector_ef_search is None and "vector_ef_search" in SearchTuning().as_dict()
    old = {key: value for key, value in SearchTuning().as_dict().items() if key != "vector_ef_search"}
    assert parse_tuning(old).vector_ef_search is None  # a version stored before the setting existed
    deep = parse_tuning({"vector_ef_search": "200"})
    assert deep.vector_ef_search == 200 and deep.changes_from(SearchTuning()) == {"vector_ef_search": (None, 200)}
    assert parse_tuning({"vector_ef_search": " "}, deep).vector_ef_search is None  # cleared
    assert parse_tuning({"vector_ef_search": None}, deep).vector_ef_search == 200  # missing: kept
    assert parse_tuning({"vector_candidates": 0, "vector_ef_search": 5}).vector_ef_search == 5  # no hybrid k
    for value, message in (("0", "must be from 1 to 1000"), (1001, "must be from 1 to 1000"),
                           ("deep", "must be an integer"), (True, "must be an integer"),
                           (10, "must be at least the k-NN candidates (30)")):
        with pytest.raises(TuningError) as bad:
            parse_tuning({"vector_ef_search": value})
        assert bad.value.field == "vector_ef_search" and message in bad.value.message, value


def test_the_knn_depth_reaches_every_knn_query_and_only_those() -> None:
    configs = served(parse_tuning({"vector_ef_search": 120})).configs
    assert {name: c.ef_search for name, c in configs.items()} == {
        "bm25": None, "vector": 120, "hybrid-rrf": 120, "hybrid-minmax": 120, "hybrid-zscore": 120}
    hybrid = configs["hybrid-minmax"]
    knn = knn_body([0.1, 0.2], Filters(brands=("acme",)), hybrid.knn_k, hybrid.ef_search)
    assert knn["size"] == 30 and knn["query"]["knn"][schema.VECTOR]["k"] == 30  # still k products back
    assert knn["query"]["knn"][schema.VECTOR]["method_parameters"] == {"ef_search": 120}
    assert "filter" in knn["query"]["knn"][schema.VECTOR]
    default = served(SearchTuning()).configs["hybrid-minmax"]
    assert "method_parameters" not in knn_body([0.1], Filters(), default.knn_k, default.ef_search)["query"]["knn"][
        schema.VECTOR]
