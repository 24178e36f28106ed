"""The stored search template's plan and source (pure): which model it may rerank with, and why not."""

from __future__ import annotations

from ltr.ranker.featureset import DEFAULT_FEATURESET, ENGINE_FEATURES, FEATURESETS, PERSONAL_FEATURES, SHOP_FEATURES, engine_only
from ltr.search_template import TEMPLATE_ID, plan, source, template_id


def test_only_a_model_the_engine_can_compute_alone_goes_into_the_template() -> None:
    served = plan("m1", ENGINE_FEATURES, "shelfrank-products", 200, 100, 10.0, (0.1, 0.0, 2.0))
    assert served.model == "m1" and served.reason == "reranks with m1"
    for featureset in (SHOP_FEATURES, PERSONAL_FEATURES):
        refused = plan("m2", featureset, "s", 200, 100, 10.0)
        assert refused.model is None and featureset.name in refused.reason and DEFAULT_FEATURESET in refused.reason
    assert engine_only(FEATURESETS[DEFAULT_FEATURESET])  # the fix it names: the default featureset reranks there
    assert plan(None, None, "s", 200, 100, 10.0).reason == "no model is active"


def test_the_source_names_its_model_and_reranks_only_with_one() -> None:
    text = source(plan("m1", ENGINE_FEATURES, "shelfrank-products", 200, 100, 10.0, (0.1, 0.0, 2.0)))
    assert f'"stats": ["{TEMPLATE_ID}:m1"]' in text and '"model": "m1"' in text and '"window_size": 200' in text
    assert '"store": "shelfrank-products"' in text and '"product_priors": [0.1, 0.0, 2.0]' in text
    assert "{{#query_vector.0}}" in text and "{{^query_vector}}[]{{/query_vector}}" in text  # the vector is optional
    first_stage = source(plan(None, None, "s", 200, 100, 10.0))
    assert "rescore" not in first_stage and f"{TEMPLATE_ID}:none" in first_stage


def test_each_catalogue_has_its_own_template() -> None:
    assert template_id("products", "products") == TEMPLATE_ID
    assert template_id("Shop-B", "products") == f"{TEMPLATE_ID}-shop-b"
