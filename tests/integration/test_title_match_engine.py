"""The engine's query-title matching features (painless script features of the v2 featuresets over the
title's keyword tokens, and of the v3 ones over its codes) give exactly what the Python reference gives, on real Home Depot titles and on the queries they exist for:
sizes three ways, typos, plurals, trailing sizes, an empty query."""

from __future__ import annotations

from dataclasses import astuple

import numpy as np
import pytest
from opensearchpy import OpenSearch

from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor
from ltr.ranker.featureset import MATCH_FEATURES, QUERY_FEATURES_V2, QUERY_FEATURES_V3, FeatureSet
from ltr.ranker.title_match import title_match
from storefront.retrieval import default_configs
from storefront.service import SearchService

pytestmark = pytest.mark.integration

HARD_QUERIES = ['1/2" pvc elbows', "1/2 inch pvc elbow", "2x4 lumber", "dewalt cordles drils", "18v drill battery",
                "pvc pipe 10 ft", "tiolet seat", ""]


@pytest.fixture(scope="module")
def service(os_client: OpenSearch, sample_index: str, bert_encoder: BertEncoder) -> SearchService:
    return SearchService(os_client, sample_index, QueryVectorCache(bert_encoder), default_configs(candidates=50),
                         "hybrid-minmax")


@pytest.mark.parametrize("featureset", [QUERY_FEATURES_V2, QUERY_FEATURES_V3], ids=lambda f: f.name)
def test_engine_match_features_equal_the_python_reference(service: SearchService, featureset: FeatureSet,
                                                          judged_queries: dict[str, dict[str, float]]) -> None:
    extractor = FeatureExtractor(featureset, EngineFeatureLogger(service.client, service.index))
    columns = [featureset.names.index(spec.name) for spec in MATCH_FEATURES]
    pools = {query: service.candidates(query)[:40] for query in sorted(judged_queries)[:12]}
    some = next(iter(pools.values()))
    pools.update({query: some for query in HARD_QUERIES})  # real titles, queries made for the edge cases
    compared = nonzero = 0
    for query, pool in pools.items():
        titles = [c.fields.get("title") or "" for c in pool]
        assert all(titles), f"candidates of {query!r} came back without titles"
        logged = extractor.matrix(query, pool, None)[:, columns]
        expected = np.array([astuple(title_match(query, title)) for title in titles], dtype=np.float32)
        np.testing.assert_allclose(logged, expected, rtol=1e-6, err_msg=f"query {query!r}")
        compared += len(pool)
        nonzero += int((expected[:, 0] > 0).sum())
    assert compared > 500 and nonzero > 200


def test_training_a_featureset_on_an_index_without_its_fields_is_refused_by_name(
        os_client: OpenSearch, sample_index: str) -> None:
    from indexer.versions import live_index
    from ltr.ranker.extract import IndexLacksFields, require_fields
    from ltr.ranker.featureset import document_fields

    require_fields(os_client, live_index(os_client, sample_index), QUERY_FEATURES_V3)  # built with codes
    old = "test-title-codes-before-v3"
    os_client.indices.delete(index=old, ignore_unavailable=True)
    mapping = os_client.indices.get_mapping(index=sample_index)
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    properties = {name: properties[name] for name in document_fields(QUERY_FEATURES_V2)}  # no title_match_codes
    os_client.indices.create(index=old, body={"mappings": {"properties": properties}})
    try:
        require_fields(os_client, old, QUERY_FEATURES_V2)  # v2 reads the keyword tokens, which it has
        with pytest.raises(IndexLacksFields, match="title_match_codes.*shelfrank index rebuild"):
            require_fields(os_client, old, QUERY_FEATURES_V3)
    finally:
        os_client.indices.delete(index=old, ignore_unavailable=True)
