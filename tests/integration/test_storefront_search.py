"""The storefront path against the real node: hybrid retrieval, filters, facets, pages, impressions, HTTP API."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, helpers
from sqlalchemy import select
from werkzeug.serving import make_server

from api import client as api_client
from api.app import create_app
from core.db import migrate
from core.db.models import Impression, Search
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.privacy import pseudonymise
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from indexer.catalog import Product
from storefront.recording import DatabaseImpressionRecorder
from storefront.request import parse_search_request
from storefront.retrieval import default_configs
from storefront.service import SearchService, SearchUnavailable

pytestmark = pytest.mark.integration

CATALOGUE = [
    Product(id="d1", title="DEWALT 20V cordless drill driver kit", brand="DEWALT", category="Tools > Drills",
            price=179.0, availability="in_stock"),
    Product(id="d2", title="Makita 18V cordless hammer drill", brand="Makita", category="Tools > Drills",
            price=149.0, availability="in_stock"),
    Product(id="d3", title="Corded electric drill 7.5 amp", brand="RYOBI", category="Tools > Drills", price=49.0,
            availability="out_of_stock"),
    Product(id="s1", title="Battery powered screwdriver", brand="RYOBI", category="Tools > Screwdrivers", price=29.0,
            availability="in_stock"),
    Product(id="p1", title="Interior eggshell paint, white, 1 gallon", brand="BEHR", category="Paint > Interior",
            price=34.0, availability="in_stock"),
    Product(id="p2", title="Exterior satin paint, 5 gallon", brand="BEHR", category="Paint > Exterior", price=160.0,
            availability="in_stock"),
    Product(id="l1", title="Solar LED path lights, 6 pack", brand="Hampton Bay", category="Lighting > Outdoor",
            price=39.0, availability="in_stock"),
    Product(id="l2", title="Outdoor wall lantern, black", brand="Hampton Bay", category="Lighting > Outdoor",
            price=59.0, availability="in_stock"),
]


@pytest.fixture(scope="module")
def catalogue_index(build_catalogue: Callable[..., str]) -> str:
    return build_catalogue("test-storefront-catalogue", CATALOGUE)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def service(os_client: OpenSearch, catalogue_index: str, bert_encoder: BertEncoder, database_url: str) -> SearchService:
    return SearchService(os_client, catalogue_index, QueryVectorCache(bert_encoder), default_configs(candidates=20),
                         "hybrid-rrf", recorder=DatabaseImpressionRecorder(database_url, "test-key"))


def ids(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["id"] for r in result.results]


@pytest.mark.parametrize("config", ["bm25", "vector", "hybrid-rrf", "hybrid-minmax", "hybrid-zscore"])
def test_every_config_finds_drills_first(service: SearchService, config: str) -> None:
    result = service.search(parse_search_request({"query": "cordless drill", "config": config, "size": 3}))
    top = ids(result)[:2]
    assert len(top) == 2 and set(top) <= {"d1", "d2", "d3"}, top
    assert result.config == config


def test_vector_retrieval_finds_what_bm25_cannot(service: SearchService) -> None:
    """No catalogue title contains 'garden' or 'illumination': only the vectors bridge the words."""
    bm25 = service.search(parse_search_request({"query": "garden illumination", "config": "bm25"}))
    hybrid = service.search(parse_search_request({"query": "garden illumination", "config": "hybrid-rrf"}))
    assert ids(bm25) == []
    assert set(ids(hybrid)[:2]) == {"l1", "l2"}


def test_knn_depth_of_a_hybrid(os_client: OpenSearch, catalogue_index: str, bert_encoder: BertEncoder) -> None:
    """The k-NN sub-query adds only what BM25 missed; with k=0 a hybrid reorders BM25's candidates by cosine."""
    def hybrid(k: int) -> SearchService:
        return SearchService(os_client, catalogue_index, QueryVectorCache(bert_encoder),
                             default_configs(candidates=20, hybrid_vector_candidates=k), "hybrid-minmax")

    request = parse_search_request({"query": "garden illumination", "debug": True})
    assert set(ids(hybrid(2).search(request))) == {"l1", "l2"}  # only the two nearest neighbours
    assert ids(hybrid(0).search(request)) == []  # no k-NN query: nothing BM25 cannot match
    drills = hybrid(0).search(parse_search_request({"query": "cordless drill", "debug": True}))
    assert len(ids(drills)) >= 2 and set(ids(drills)[:2]) <= {"d1", "d2", "d3"}
    assert drills.results and all("vector" in r["stages"] for r in drills.results)  # exact cosines on each


def test_filters_and_facets(service: SearchService) -> None:
    result = service.search(parse_search_request({"query": "drill", "filters": {
        "availability": "in_stock", "price_max": 170}}))
    assert ids(result)[0] == "d2"
    assert "d1" not in ids(result) and "d3" not in ids(result)
    unfiltered = service.search(parse_search_request({"query": "drill"}))
    brands = {b["value"]: b["count"] for b in unfiltered.facets["brand"]}
    assert brands["DEWALT"] == 1 and brands["Makita"] == 1
    assert {b["value"] for b in unfiltered.facets["category"]} >= {"Drills"}


def test_pages_do_not_overlap_and_impressions_are_recorded(service: SearchService, database_url: str) -> None:
    first = service.search(parse_search_request({"query": "paint drill lights", "size": 3, "user_id": "shopper-7"}))
    second = service.search(parse_search_request({"query": "paint drill lights", "size": 3, "page": 2}))
    assert len(first.results) == 3 and not set(ids(first)) & set(ids(second))
    assert [r["position"] for r in second.results] == [4, 5, 6]  # the catalogue has more than 6 matches
    with session_scope(database_url) as session:
        search = session.get(Search, first.search_id)
        assert search.user_id == pseudonymise("shopper-7", "test-key") != "shopper-7"
        shown = session.scalars(select(Impression).where(Impression.search_id == first.search_id)
                                .order_by(Impression.position)).all()
        assert [(i.product_id, i.position, i.page) for i in shown] == [(pid, n + 1, 1) for n, pid in enumerate(ids(first))]
        page_two = session.scalars(select(Impression).where(Impression.search_id == second.search_id)).all()
        assert {i.page for i in page_two} == {2}


def test_debug_shows_stages_and_latency(service: SearchService) -> None:
    result = service.search(parse_search_request({"query": "cordless drill", "debug": True}))
    top = result.results[0]
    assert {"bm25", "vector", "fused"} <= set(top["stages"])
    assert {"encode_ms", "opensearch_ms", "fusion_ms", "rerank_ms", "total_ms"} <= set(result.debug["latency_ms"])


def test_unavailable_opensearch_is_reported(settings: Settings, bert_encoder: BertEncoder) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    dead = make_client(settings.model_copy(update={"opensearch_url": f"http://127.0.0.1:{dead_port}"}))
    service = SearchService(dead, "products", QueryVectorCache(bert_encoder), default_configs(), "bm25")
    with pytest.raises(SearchUnavailable, match="unavailable"):
        service.search(parse_search_request({"query": "drill"}))


@pytest.fixture
def api_url(service: SearchService, settings: Settings) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, create_app(settings, service), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_http_api_and_python_client(api_url: str) -> None:
    response = api_client.search(api_url, "cordless drill", size=2, user_id="u-1", debug=True)
    assert len(response["results"]) == 2 and response["search_id"]
    assert response["results"][0]["position"] == 1 and "debug" in response
    with pytest.raises(api_client.SearchApiError) as bad:
        api_client.search(api_url, "drill", size=1000)
    assert bad.value.status == 400 and "size" in str(bad.value)


def test_http_api_rejects_non_json_and_unknown_index(api_url: str, settings: Settings, bert_encoder: BertEncoder,
                                                     os_client: OpenSearch) -> None:
    app = create_app(settings, SearchService(os_client, "no-such-index", QueryVectorCache(bert_encoder),
                                             default_configs(), "bm25")).test_client()
    assert app.post("/api/v1/search", data="query=drill").status_code == 400
    missing = app.post("/api/v1/search", json={"query": "drill"})
    assert missing.status_code == 503 and "does not exist" in missing.get_json()["error"]
    bad_filter = app.post("/api/v1/search", json={"query": "drill", "filters": {"price_min": "cheap"}})
    assert bad_filter.status_code == 400 and bad_filter.get_json()["field"] == "filters.price_min"


def test_eval_cli_reports_metrics_and_saves_results(catalogue_index: str, tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    judgments = tmp_path / "judgments.csv"
    judgments.write_text("query,product_id,grade\n"
                         "cordless drill,d1,2\ncordless drill,d2,2\ncordless drill,d3,1\n"
                         "exterior paint,p2,2\nexterior paint,p1,0\n"
                         "garden illumination,l1,2\ngarden illumination,l2,1\n")
    shelfrank = str(Path(sys.executable).parent / "shelfrank")
    result = subprocess.run(
        [shelfrank, "eval", "--judgments", str(judgments), "--config", "bm25", "--config", "hybrid-rrf",
         "--split", "all", "--index", catalogue_index, "--out", str(tmp_path / "run"), "--json"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) == {"bm25", "hybrid-rrf"}
    assert summary["bm25"]["queries"] == 3
    # BM25 finds nothing for "garden illumination"; the hybrid does, so it must score higher.
    assert summary["hybrid-rrf"]["ndcg@10"] > summary["bm25"]["ndcg@10"]
    assert summary["hybrid-rrf"]["recall@100"] == 1.0
    for name in ("bm25.csv", "hybrid-rrf.csv", "summary.json", "comparison.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0

    bad = tmp_path / "bad.csv"
    bad.write_text("query,product_id,grade\ndrill,d1,high\n")
    failed = subprocess.run([shelfrank, "eval", "--judgments", str(bad), "--config", "bm25", "--split", "all",
                             "--index", catalogue_index], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "bad.csv:2: grade 'high' is not a number" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_titles_come_from_doc_values_and_older_indices_still_show_them(
        service: SearchService, os_client: OpenSearch, catalogue_index: str, bert_encoder: BertEncoder,
        index_name: str) -> None:
    result = service.search(parse_search_request({"query": "cordless drill", "config": "hybrid-minmax",
                                                  "debug": True}))
    titles = {p.id: p.title for p in CATALOGUE}
    assert len(result.results) >= 3 and [r["title"] for r in result.results] == [titles[r["id"]] for r in
                                                                                result.results]
    assert "titles_ms" not in result.debug["latency_ms"]  # no second request

    # An index whose mapping predates the `title.display` doc values: titles for the page come
    # from the stored documents in one extra request, the ranking is the same.
    mapping = os_client.indices.get_mapping(index=catalogue_index)
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    del properties["title"]["fields"]["display"]
    settings_body = next(iter(os_client.indices.get_settings(index=catalogue_index).values()))["settings"]["index"]
    os_client.indices.create(index=index_name, body={
        "settings": {"index": {"knn": True, "analysis": settings_body["analysis"]}},
        "mappings": {"properties": properties}})
    helpers.bulk(os_client, ({"_index": index_name, "_id": hit["_id"], "_source": hit["_source"]}
                             for hit in helpers.scan(os_client, index=catalogue_index)), refresh=True)
    older = SearchService(os_client, index_name, QueryVectorCache(bert_encoder), default_configs(candidates=20),
                          "hybrid-rrf")
    again = older.search(parse_search_request({"query": "cordless drill", "config": "hybrid-minmax", "debug": True}))
    assert again.results and [(r["id"], r["title"]) for r in again.results] == [(r["id"], r["title"]) for r in
                                                                                 result.results]
    assert "titles_ms" in again.debug["latency_ms"]
