"""The query history features' Python side: which pairs make a history, the values the engine's scripts
compute from a document's history, and training's leave-one-query-out rows."""

from __future__ import annotations

import pytest

from indexer.title_codes import title_codes
from indexer.title_terms import tokens
from ltr.ranker.extract import FeatureExtractor, sltr_params
from ltr.ranker.featureset import (FEATURESETS, HISTORY_FEATURES, QUERY_FEATURES_V3, QUERY_FEATURES_V4,
                                   SHOP_FEATURES_V4, document_fields, engine_only)
from ltr.ranker.query_history import history_codes, history_from_labels, history_match, leave_one_out
from ltr.ranker.title_match import title_match
from storefront.rerank_stage import Candidate
from tests.unit.fake_engine import FakeEngineLogger

LABELS = {"toilet flapper": {"p1": 4, "p2": 0, "p3": 1},
          "flapper for toilet tank": {"p1": 3},
          "cordless drill": {"p3": 2, "p4": 4}}


def test_history_keeps_the_pairs_labelled_at_least_min_label() -> None:
    history = history_from_labels(LABELS)
    assert history == {"p1": ("flapper for toilet tank", "toilet flapper"), "p3": ("cordless drill", "toilet flapper"),
                       "p4": ("cordless drill",)}
    assert "p3" not in history_from_labels(LABELS, min_label=3)


def test_a_documents_codes_are_the_title_codes_of_its_queries_tokens() -> None:
    queries = ["toilet flapper", '1/2" pvc elbows']
    assert history_codes(queries) == title_codes(w for q in queries for w in tokens(q))


@pytest.mark.parametrize("query", ["toliet flapper", "flappers", "drill", "1/2 inch pvc", ""])
def test_history_match_is_the_title_match_of_the_history_as_one_text(query: str) -> None:
    queries = ["toilet flapper", "cordless drill", '1/2" pvc elbow']
    count, coverage, head = history_match(query, queries)
    expected = title_match(query, " ".join(queries))
    assert (count, coverage, head) == (3.0, expected.coverage, expected.head_match)
    assert history_match(query, []) == (0.0, 0.0, 0.0)


def test_training_rows_leave_their_own_query_out() -> None:
    history = history_from_labels(LABELS)
    rows = leave_one_out(history, "toilet flapper", ["p1", "p3", "p4", "p9"])
    assert rows["p1"] == list(history_match("toilet flapper", ["flapper for toilet tank"]))
    assert rows["p1"][:2] == [1.0, 1.0]  # the other query holds both words
    assert rows["p3"] == [1.0, 0.0, 0.0]  # only "cordless drill" is left
    assert rows["p9"] == [0.0, 0.0, 0.0]
    # a query the history never saw (a test query) reads every query of it
    assert leave_one_out(history, "tank flapper", ["p1"])["p1"][0] == 2.0


def test_training_sends_the_left_out_values_and_serving_lets_the_engine_read_the_documents() -> None:
    history = history_from_labels(LABELS)
    candidates = [Candidate("p1", 1.0), Candidate("p3", 0.5)]
    trained = sltr_params(SHOP_FEATURES_V4, "toilet flapper", candidates, history=history)
    assert trained["history_values"]["p1"] == pytest.approx([1.0, 1.0, 1.0])
    assert sltr_params(SHOP_FEATURES_V4, "toilet flapper", candidates)["history_values"] == {}
    assert "history_values" not in sltr_params(QUERY_FEATURES_V3, "toilet flapper", candidates)

    extractor = FeatureExtractor(QUERY_FEATURES_V4, FakeEngineLogger()).with_history(history)
    matrix = extractor.matrix("toilet flapper", candidates)
    columns = [QUERY_FEATURES_V4.names.index(spec.name) for spec in HISTORY_FEATURES]
    assert matrix[:, columns].tolist() == [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


def test_the_v4_featuresets_add_the_history_to_v3_and_read_its_fields() -> None:
    assert QUERY_FEATURES_V4.names == QUERY_FEATURES_V3.names + [spec.name for spec in HISTORY_FEATURES]
    assert {"history_match_codes", "history_queries"} <= document_fields(SHOP_FEATURES_V4)
    assert engine_only(FEATURESETS["shelfrank-v4-engine"])
    for spec in SHOP_FEATURES_V4.plugin_body()["featureset"]["features"][-3:]:
        assert spec["params"] == ["keywords", "history_values"]
        assert "params.history_values.get" in spec["template"]["source"]



def test_derived_field_writes_survive_a_concurrent_sync_of_other_fields() -> None:
    """The behaviour refresh and a promotion's history sync may update the same documents at once: each
    partial update retries on a version conflict rather than failing its sync (and the promotion with it)."""
    from indexer.derived_fields import partial_update
    from ltr import behaviour_sync, history_sync
    from ltr.ranker.extract import ProductBehaviour

    action = partial_update("products-v1", "p1", {"history_queries": 2.0})
    assert action["retry_on_conflict"] > 0 and action["doc"] == {"history_queries": 2.0}
    assert action["_op_type"] == "update" and (action["_index"], action["_id"]) == ("products-v1", "p1")
    history = list(history_sync._updates("products-v1", {"p1": ("drill",)}, {"p2"}))
    changed = behaviour_sync.document_values(ProductBehaviour({"p1": {}}, {}))
    behaviour = list(behaviour_sync._updates("products-v1", changed, {"p2"}))
    assert all(a["retry_on_conflict"] == action["retry_on_conflict"] for a in history + behaviour)
    assert [a["_id"] for a in history] == [a["_id"] for a in behaviour] == ["p1", "p2"]
