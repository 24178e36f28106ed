"""``shelfrank encoder finetune`` end to end: judgments file + titles from the real index -> a local model
that the encoder loads, then errors for bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from cli.main import app
from encoders.bert import BertEncoder
from encoders.cache import QueryVectorCache
from indexer.catalog import Product
from indexer.pipeline import embedding_texts
from storefront.batch_rankings import bm25_rankings
from storefront.retrieval import default_configs
from storefront.service import SearchService, SearchUnavailable

pytestmark = pytest.mark.integration

PRODUCTS = [Product(id="f1", title="Chrome pull-down kitchen faucet", brand="Glacier Bay",
                    category=("Kitchen", "Faucets")), Product(id="f2", title="Bathroom sink faucet"),
            Product(id="l1", title="Solar LED path lights"), Product(id="l2", title="Outdoor wall lantern"),
            Product(id="s1", title="Wood deck screws, 5 lb box"), Product(id="t1", title="Round toilet seat")]


@pytest.fixture(scope="module")
def small_catalogue(build_catalogue: Callable[..., str]) -> str:
    return build_catalogue("test-finetune-catalogue", PRODUCTS)


def test_finetune_from_judgments_and_indexed_titles(small_catalogue: str, tmp_path: Path,
                                                    os_client: OpenSearch) -> None:
    judgments = tmp_path / "judgments.csv"
    judgments.write_text("query,product_id,grade\nkitchen faucet,f1,2\nkitchen faucet,f2,0\nsink tap,f2,2\n"
                         "garden lights,l1,2\nporch light,l2,1\ndecking screws,s1,2\ntoilet lid,t1,2\n"
                         "toilet lid,missing-product,2\n")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, [
        "encoder", "finetune", "--judgments", str(judgments), "--out", str(out), "--split", "all", "--epochs", "2",
        "--batch-size", "4", "--index", small_catalogue])
    assert result.exit_code == 0, result.output
    assert "6 queries with relevant products (6 pairs); 1 judged products are not in the index" in result.output
    # training sees what the index encodes: title, brand and category, not the bare title
    assert embedding_texts(os_client, small_catalogue, ["f1", "missing"]) == {"f1": "Chrome pull-down kitchen faucet | Glacier Bay | "
                                                              "Kitchen > Faucets"}
    tuned = BertEncoder(out)
    assert tuned.dimension == 384 and tuned.encode(["kitchen faucet"]).shape == (1, 384)
    assert (out / "shelfrank_finetune.json").is_file()

    hard = CliRunner().invoke(app, [
        "encoder", "finetune", "--judgments", str(judgments), "--out", str(tmp_path / "hard"), "--split", "all",
        "--epochs", "1", "--batch-size", "4", "--index", small_catalogue, "--hard-negatives", "0"])
    assert hard.exit_code == 0, hard.output
    assert "1 with a judged hard negative" in hard.output  # kitchen faucet rejected f2
    assert json.loads((tmp_path / "hard" / "shelfrank_finetune.json").read_text())["queries_with_hard_negatives"] == 1
    lexical = CliRunner().invoke(app, [
        "encoder", "finetune", "--judgments", str(judgments), "--out", str(tmp_path / "lexical"), "--split", "all",
        "--epochs", "1", "--batch-size", "4", "--index", small_catalogue, "--bm25-negatives", "1"])
    assert lexical.exit_code == 0, lexical.output
    # BM25 finds "Solar LED path lights" for "porch light" (stemmed "light"), and nobody judged that pair;
    # every other query's lexical hits are judged for it ("kitchen faucet" also finds f2, graded 0).
    assert "1 with BM25 negatives" in lexical.output
    log = json.loads((tmp_path / "lexical" / "shelfrank_finetune.json").read_text())
    assert log["params"]["bm25_negatives"] == 1 and log["queries_with_hard_negatives"] == 1
    clash = CliRunner().invoke(app, [
        "encoder", "finetune", "--judgments", str(judgments), "--out", str(tmp_path / "clash"), "--split", "all",
        "--index", small_catalogue, "--hard-negatives", "1"])
    assert clash.exit_code == 1 and "must be below --min-grade" in clash.output

    empty = tmp_path / "empty.csv"
    empty.write_text("query,product_id,grade\nkitchen faucet,f1,0\n")
    refused = CliRunner().invoke(app, ["encoder", "finetune", "--judgments", str(empty), "--out",
                                                        str(tmp_path / "x"), "--split", "all", "--index",
                                                        small_catalogue])
    assert refused.exit_code == 1 and "only 0 queries have a product graded 1.0 or more" in refused.output
    broken = tmp_path / "broken.csv"
    broken.write_text("q,p\nx,y\n")
    bad = CliRunner().invoke(app, ["encoder", "finetune", "--judgments", str(broken), "--out",
                                                    str(tmp_path / "y"), "--index", small_catalogue])
    assert bad.exit_code == 1 and "query" in bad.output and not (tmp_path / "y").exists()


def test_batched_bm25_rankings_follow_the_storefront_query(small_catalogue: str, os_client: OpenSearch,
                                                            bert_encoder: BertEncoder) -> None:
    queries = [f"q{i} faucet" for i in range(250)] + ["porch light", "nothing matches zzz"]  # two batches
    ranked = bm25_rankings(os_client, small_catalogue, queries, depth=5)
    assert set(ranked) == set(queries)
    assert ranked["porch light"] == ["l1"]  # "lights" stems to "light"
    assert set(ranked["q7 faucet"]) == {"f1", "f2"} and ranked["nothing matches zzz"] == []
    storefront = SearchService(os_client, small_catalogue, QueryVectorCache(bert_encoder), default_configs(), "bm25")
    for query in ("q7 faucet", "porch light", "kitchen faucet"):
        assert bm25_rankings(os_client, small_catalogue, [query], depth=5)[query] == storefront.ranking(query, "bm25", 5)
    with pytest.raises(SearchUnavailable, match="no-such-index|index_not_found"):
        bm25_rankings(os_client, "no-such-index", ["faucet"], depth=5)
