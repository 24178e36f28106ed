"""The Learning-to-Rank plugin end to end: feature store, featureset, linear model, sltr, ltr_log.

The plugin is part of every node Shelfrank assembles (provisioning fails without it), so these
tests never skip: a node without it is a failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from core.localnode import LocalNode

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ltr_node(opensearch_node: LocalNode) -> LocalNode:
    plugins = opensearch_node.status().plugins
    assert "opensearch-ltr" in plugins, f"the node lacks the LTR plugin: {plugins}"
    return opensearch_node


def test_node_reports_ltr_plugin(ltr_node: LocalNode) -> None:
    assert "opensearch-ltr" in ltr_node.status().plugins


@pytest.fixture
def catalogue(os_client: OpenSearch, index_name: str) -> str:
    os_client.indices.create(
        index=index_name,
        body={"mappings": {"properties": {"title": {"type": "text", "analyzer": "english"},
                                          "popularity": {"type": "float"}}}},
    )
    # "exact" matches the query best; "popular" matches weakly but sells far more.
    os_client.index(index=index_name, id="exact", body={"title": "red leather boots", "popularity": 1.0})
    os_client.index(index=index_name, id="popular", body={"title": "boots", "popularity": 90.0})
    os_client.indices.refresh(index=index_name)
    return index_name


@pytest.fixture
def featureset(ltr_node: LocalNode, os_client: OpenSearch) -> Iterator[str]:
    """A featureset with two templated features in the default feature store."""
    # HEAD /_ltr answers 405 on this plugin version: create with PUT, "already exists" is fine.
    os_client.transport.perform_request("PUT", "/_ltr", params={"ignore": 400})
    name = f"fs-{uuid.uuid4().hex[:8]}"
    body = {
        "featureset": {
            "features": [
                {"name": "title_bm25", "params": ["keywords"], "template_language": "mustache",
                 "template": {"match": {"title": "{{keywords}}"}}},
                {"name": "popularity", "params": ["keywords"], "template_language": "mustache",
                 "template": {"function_score": {"query": {"match": {"title": "{{keywords}}"}},
                                                 "field_value_factor": {"field": "popularity", "missing": 0},
                                                 "boost_mode": "replace"}}},
            ]
        }
    }
    os_client.transport.perform_request("POST", f"/_ltr/_featureset/{name}", body=body)
    yield name
    os_client.transport.perform_request("DELETE", f"/_ltr/_featureset/{name}")


def _create_linear_model(client: OpenSearch, featureset: str, weights: dict[str, float]) -> str:
    model = f"linear-{uuid.uuid4().hex[:8]}"
    body = {"model": {"name": model, "model": {"type": "model/linear", "definition": weights}}}
    client.transport.perform_request("POST", f"/_ltr/_featureset/{featureset}/_createmodel", body=body)
    return model


def test_sltr_rescore_follows_the_model(os_client: OpenSearch, catalogue: str, featureset: str) -> None:
    query = {"match": {"title": "red leather boots"}}
    baseline = os_client.search(index=catalogue, body={"query": query})
    assert [h["_id"] for h in baseline["hits"]["hits"]] == ["exact", "popular"]

    model = _create_linear_model(os_client, featureset, {"title_bm25": 0.0, "popularity": 1.0})
    try:
        body = {
            "query": query,
            "rescore": {
                "window_size": 10,
                "query": {
                    "rescore_query": {"sltr": {"params": {"keywords": "red leather boots"}, "model": model}},
                    "query_weight": 0.0,
                    "rescore_query_weight": 1.0,
                },
            },
        }
        reranked = os_client.search(index=catalogue, body=body)
        assert [h["_id"] for h in reranked["hits"]["hits"]] == ["popular", "exact"]
        assert reranked["hits"]["hits"][0]["_score"] == pytest.approx(90.0)
    finally:
        os_client.transport.perform_request("DELETE", f"/_ltr/_model/{model}")


def test_ltr_log_returns_feature_values(os_client: OpenSearch, catalogue: str, featureset: str) -> None:
    body = {
        "query": {
            "bool": {
                "filter": [
                    {"terms": {"_id": ["exact", "popular"]}},
                    {"sltr": {"_name": "logged", "featureset": featureset,
                              "params": {"keywords": "red leather boots"}}},
                ]
            }
        },
        "ext": {"ltr_log": {"log_specs": {"name": "features", "named_query": "logged"}}},
    }
    response = os_client.search(index=catalogue, body=body)
    logged = {}
    for hit in response["hits"]["hits"]:
        (entry,) = hit["fields"]["_ltrlog"]
        logged[hit["_id"]] = {f["name"]: f.get("value", 0.0) for f in entry["features"]}
    assert logged["exact"]["popularity"] == pytest.approx(1.0)
    assert logged["popular"]["popularity"] == pytest.approx(90.0)
    assert logged["exact"]["title_bm25"] > logged["popular"]["title_bm25"] > 0.0
