"""The title's match codes (indexer.title_codes) and the v3 match features computed from them: the same
values as the string reference (ltr.ranker.title_match.close / title_match), on constructed typos and on
real Home Depot titles (the engine's painless is checked against them in
tests/integration/test_title_match_engine.py)."""

from __future__ import annotations

import random

import pytest

from indexer.title_codes import code, found, title_codes, token_codes, units
from indexer.title_terms import tokens
from ltr.ranker.featureset import FEATURESETS, MATCH_FEATURES_V3, plugin_feature
from ltr.ranker.title_match import close, coded_title_match, title_match
from tests.conftest import HOMEDEPOT


def test_codes_are_signed_64_bit_fnv1a_over_utf16_units():
    assert code(ord("a"), []) == 0xAF63DC4C8601EC8C - 2**64  # FNV-1a 64 of "a", the published test vector
    assert all(-2**63 <= c < 2**63 for c in token_codes("cordless"))
    assert units("é€") == [0xE9, 0x20AC] and len(units("𝔸")) == 2  # a surrogate pair, as charAt sees it
    assert code(1, units("ab")) != code(1, units("ba")) and code(1, units("ab")) != code(2, units("ab"))


def _mutations(word: str, rng: random.Random) -> list[str]:
    letters = "abcdeilorst"
    out = [word, word[:-1], word + rng.choice(letters), word[:4], word[1:]]
    for i in range(len(word)):
        out.append(word[:i] + rng.choice(letters) + word[i + 1:])
        out.append(word[:i] + word[i + 1:])
        out.append(word[:i] + rng.choice(letters) + word[i:])
        if i + 1 < len(word):
            out.append(word[:i] + word[i + 1] + word[i] + word[i + 2:])
            out.append(word[:i] + rng.choice(letters) + rng.choice(letters) + word[i + 2:])
    return [w for w in out if w]


def test_found_over_codes_is_exactly_close_on_every_kind_of_typo():
    rng = random.Random(3)
    words = ["drill", "cordless", "toilet", "sink", "door", "faucet", "tile", "ladder", "hammer", "in", "x",
             "1/2", "sprayer", "abcd", "aaaaa", "abab"]
    compared = matched = 0
    for word in words:
        for query in _mutations(word, rng) + [rng.choice(words) for _ in range(5)]:
            expected = close(query, word)
            assert found(query, frozenset(token_codes(word))) is expected, (query, word)
            compared += 1
            matched += expected
    assert compared > 400 and 0.2 < matched / compared < 0.9


@pytest.fixture(scope="module")
def homedepot_pairs() -> list[tuple[str, str]]:
    import csv
    with HOMEDEPOT.open(encoding="latin-1") as f:
        rows = list(csv.DictReader(f))
    sample = random.Random(5).sample(rows, 3000)
    titles = [r["product_title"] for r in random.Random(6).sample(rows, 20)]
    # each query against its own judged title and against unrelated ones
    return [(r["search_term"], r["product_title"]) for r in sample] + [
        (r["search_term"], t) for r in sample[:200] for t in titles]


def test_coded_features_equal_the_string_features_on_real_queries_and_titles(homedepot_pairs):
    differing = [(q, t) for q, t in homedepot_pairs
                 if coded_title_match(q, frozenset(title_codes(tokens(t))), len(tokens(t))) != title_match(q, t)]
    assert not differing, differing[:5]
    assert sum(title_match(q, t).coverage > 0 for q, t in homedepot_pairs) > 2000


def test_v3_match_features_read_the_codes_not_the_keyword_tokens():
    for spec in MATCH_FEATURES_V3:
        stored = plugin_feature(spec)
        assert stored["template_language"] == "script_feature" and stored["params"] == ["keywords"]
        source = stored["template"]["source"]
        assert "doc['title_terms']" not in source and "title.display" not in source
        assert "doc['title_match_codes']" in source or "doc['title_length']" in source
    v2, v3 = FEATURESETS["shelfrank-v2"], FEATURESETS["shelfrank-v3"]
    assert v2.names == v3.names and v2.hash != v3.hash  # same columns, a different definition


def test_document_fields_name_what_the_scripts_read():
    from ltr.ranker.featureset import document_fields
    assert {"title_match_codes", "title_length"} <= document_fields(FEATURESETS["shelfrank-v3"])
    assert "title_terms" not in document_fields(FEATURESETS["shelfrank-v3"])
    assert "title_terms" in document_fields(FEATURESETS["shelfrank-v2"])
    assert "title_match_codes" not in document_fields(FEATURESETS["shelfrank-v2-engine"])
