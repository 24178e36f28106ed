"""The local node really has what the rest of Shelfrank builds on: analyzers, HNSW k-NN, painless."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from core.localnode import LocalNode

pytestmark = pytest.mark.integration


def test_node_reports_knn_plugin_and_core_modules(opensearch_node: LocalNode) -> None:
    status = opensearch_node.status()
    assert status.running and status.managed
    assert status.version == opensearch_node.recipe.version
    assert "opensearch-knn" in status.plugins
    assert {"lang-painless", "analysis-common", "mapper-extras", "lang-mustache", "transport-netty4"} <= set(status.modules)


def test_node_binds_to_loopback_only(os_client: OpenSearch) -> None:
    info = os_client.nodes.info(metric="http")
    (node,) = info["nodes"].values()
    assert all(address.startswith(("127.0.0.1", "[::1]")) for address in node["http"]["bound_address"])


@pytest.fixture
def products(os_client: OpenSearch, index_name: str) -> str:
    """A small index with an english-analysed title, a popularity number and a lucene HNSW vector."""
    os_client.indices.create(
        index=index_name,
        body={
            "settings": {"index": {"knn": True, "number_of_shards": 1, "number_of_replicas": 0}},
            "mappings": {
                "properties": {
                    "title": {"type": "text", "analyzer": "english"},
                    "popularity": {"type": "float"},
                    "embedding": {
                        "type": "knn_vector",
                        "dimension": 3,
                        "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                                   "parameters": {"m": 16, "ef_construction": 100}},
                    },
                }
            },
        },
    )
    docs = {
        "drill": ("Cordless drills with batteries", 5.0, [1.0, 0.0, 0.0]),
        "hammer": ("Claw hammer for framing", 50.0, [0.0, 1.0, 0.0]),
        "paint": ("Interior paint, eggshell white", 20.0, [0.0, 0.0, 1.0]),
        "saw": ("Circular saw blade", 1.0, [0.7, 0.7, 0.0]),
    }
    for doc_id, (title, popularity, vector) in docs.items():
        os_client.index(index=index_name, id=doc_id, body={"title": title, "popularity": popularity, "embedding": vector})
    os_client.indices.refresh(index=index_name)
    return index_name


def _ids(response: dict) -> list[str]:
    return [hit["_id"] for hit in response["hits"]["hits"]]


def test_english_analyzer_stems_for_bm25(os_client: OpenSearch, products: str) -> None:
    tokens = os_client.indices.analyze(body={"analyzer": "english", "text": "Cordless Drills"})
    assert [t["token"] for t in tokens["tokens"]] == ["cordless", "drill"]
    # "drill" finds "drills" only because the english analyzer stems both sides.
    response = os_client.search(index=products, body={"query": {"match": {"title": "drill"}}})
    assert _ids(response) == ["drill"]


def test_knn_query_returns_nearest_vectors(os_client: OpenSearch, products: str) -> None:
    response = os_client.search(
        index=products, body={"size": 2, "query": {"knn": {"embedding": {"vector": [0.9, 0.1, 0.0], "k": 2}}}}
    )
    assert _ids(response) == ["drill", "saw"]


def test_painless_script_score(os_client: OpenSearch, products: str) -> None:
    body = {
        "query": {
            "script_score": {
                "query": {"match_all": {}},
                "script": {"source": "doc['popularity'].value * params.boost", "params": {"boost": 2.0}},
            }
        }
    }
    response = os_client.search(index=products, body=body)
    assert _ids(response) == ["hammer", "paint", "drill", "saw"]
    assert response["hits"]["hits"][0]["_score"] == pytest.approx(100.0)


def test_knn_score_script(os_client: OpenSearch, products: str) -> None:
    body = {
        "query": {
            "script_score": {
                "query": {"match_all": {}},
                "script": {
                    "source": "knn_score",
                    "lang": "knn",
                    "params": {"field": "embedding", "query_value": [0.0, 0.0, 1.0], "space_type": "cosinesimil"},
                },
            }
        }
    }
    response = os_client.search(index=products, body=body)
    scores = {hit["_id"]: hit["_score"] for hit in response["hits"]["hits"]}
    assert _ids(response)[0] == "paint"
    # On 2.19 knn_score maps cosine similarity to (1 + cos) / 2: same direction 1, orthogonal 0.5.
    assert scores["paint"] == pytest.approx(1.0)
    assert scores["drill"] == pytest.approx(0.5)
