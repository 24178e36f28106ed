"""The query-title matching features' Python reference (the engine's painless is checked against it in
tests/integration/test_title_match_engine.py)."""

import pytest

from ltr.ranker.featureset import FEATURESETS, MATCH_FEATURES, plugin_feature
from indexer.title_terms import tokens
from ltr.ranker.title_match import TitleMatch, close, title_match


@pytest.mark.parametrize("text, expected", [
    ("1/2 in. PVC Elbows", ["1/2", "in", "pvc", "elbow"]),
    ('1/2" pvc elbow', ["1/2", "in", "pvc", "elbow"]),
    ("1/2 inch pvc", ["1/2", "in", "pvc"]),
    ("2x4 lumber", ["2", "x", "4", "lumber"]),
    ("2 in. x 4 in. x 8 ft. Stud", ["2", "in", "x", "4", "in", "x", "8", "ft", "stud"]),
    ("8' ladder", ["8", "ft", "ladder"]),
    ("12'' tile", ["12", "in", "tile"]),
    ("DEWALT 18-Volt Drill", ["dewalt", "18", "v", "drill"]),
    ("18v drill", ["18", "v", "drill"]),
    ("1.5 gal. Glass Sprayer", ["1.5", "gal", "glass", "sprayer"]),
    ("paint for the walls in kitchen", ["paint", "wall", "kitchen"]),
    ("", []),
    ("®™ -- !!", []),
])
def test_tokens_normalise_sizes_units_plurals_and_stop_words(text, expected):
    assert tokens(text) == expected


@pytest.mark.parametrize("a, b, expected", [
    ("drill", "drill", True),
    ("cordles", "cordless", True),  # a prefix of 4+ characters
    ("dril", "drill", True),
    ("drils", "drill", True),  # one substitution, 5 characters
    ("tiolet", "toilet", True),  # two swapped neighbours
    ("faucet", "faucett", True),  # one insertion
    ("door", "doer", False),  # too short for a typo
    ("hammer", "hamper", True),  # one substitution is one substitution
    ("hammer", "ladder", False),
    ("sink", "sinks", True),
    ("in", "ft", False),
])
def test_close_tolerates_one_typo_on_long_words_only(a, b, expected):
    assert close(a, b) is expected and close(b, a) is expected


def test_features_of_a_title_that_matches_and_one_that_does_not():
    match = title_match('1/2" pvc elbows', "Charlotte Pipe 1/2 in. PVC Sch. 40 90-Degree S x S Elbow")
    assert match.coverage == 1.0 and match.head_match == 1.0 and match.numbers_missing == 0.0
    miss = title_match("3 in. ceiling fan", "Hampton Bay 52 in. Ceiling Fan")
    assert miss.numbers_missing == 1.0 and miss.head_match == 1.0
    assert miss.coverage == pytest.approx(3 / 4)
    typo = title_match("dewalt cordles drils", "DEWALT 18-Volt Cordless Drill")
    assert typo.coverage == 1.0 and typo.head_match == 1.0
    head = title_match("cordless drill battery", "DEWALT 18-Volt Cordless Drill")
    assert head.head_match == 0.0 and head.coverage == pytest.approx(2 / 3)
    assert head.title_tokens == 5.0


def test_the_head_noun_is_the_last_word_not_a_trailing_size():
    assert title_match("pvc pipe 10 ft", "PVC Pipe").head_match == 1.0
    assert title_match("pvc pipe 10 ft", "PVC Pipe").numbers_missing == 1.0


def test_empty_queries_and_titles_score_zero_and_long_titles_count_their_distinct_words():
    assert title_match("", "Cordless Drill") == TitleMatch(0.0, 0.0, 0.0, 2.0)
    assert title_match("drill", "") == TitleMatch(0.0, 0.0, 0.0, 0.0)
    assert title_match("drill", "drills " * 500) == TitleMatch(1.0, 1.0, 0.0, 500.0)


def test_documents_carry_the_titles_distinct_tokens_and_their_count():
    from indexer.catalog import Product
    from indexer.documents import from_document, to_document
    product = Product(id="p1", title="DEWALT 18-Volt Drill Drill Bits")
    doc = to_document(product, [0.0, 1.0])
    assert doc["title_terms"] == ["18", "bit", "dewalt", "drill", "v"] and doc["title_length"] == 6
    assert doc["title_match_codes"] == sorted(set(doc["title_match_codes"])) and len(doc["title_match_codes"]) > 5
    assert from_document(doc) == product
    # What the behaviour and history syncs wrote later is not the catalogue's: reading it back ignores it.
    synced = {**doc, "behaviour_ctr": 0.2, "history_match_codes": [3, 7], "history_queries": 2.0}
    assert from_document(synced) == product


def test_match_features_are_script_features_over_the_query_text_in_every_v2_featureset():
    for spec in MATCH_FEATURES:
        stored = plugin_feature(spec)
        assert stored["template_language"] == "script_feature" and stored["params"] == ["keywords"]
        source = stored["template"]["source"]
        assert "doc['title_terms']" in source or "doc['title_length']" in source  # titles are never re-read
        assert "title.display" not in source
    for name, featureset in FEATURESETS.items():
        has = {spec.name for spec in featureset.of_source("match")}
        assert has == ({spec.name for spec in MATCH_FEATURES} if "-v1" not in name else set())
