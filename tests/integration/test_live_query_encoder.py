"""The storefront encodes queries with the model of the live index's vectors, on the real node: a rebuild
with a shop's fine-tuned encoder moves the alias, and a running search service follows it (searches answered
throughout), a new one starts with it, and a rollback takes it back."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch

from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.identity import bundled_model_path
from indexer.catalog import Product
from indexer.versions import live_index, point_alias
from storefront.encoder_check import vectors_mismatch
from storefront.factory import build_search_service
from storefront.live_encoder import LiveQueryEncoder
from storefront.request import SearchRequest

pytestmark = pytest.mark.integration

PRODUCTS = [Product(id="f1", title="Chrome pull-down kitchen faucet", brand="Glacier Bay"),
            Product(id="f2", title="Bathroom sink faucet"), Product(id="l1", title="Solar LED path lights"),
            Product(id="l2", title="Outdoor wall lantern"), Product(id="s1", title="Wood deck screws, 5 lb box")]


@pytest.fixture(scope="module")
def tuned_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundled model with other weights (as a fine-tune leaves it), in a shop's encoders folder."""
    from safetensors.numpy import load_file, save_file

    folder = tmp_path_factory.mktemp("encoders") / "minilm-shop"
    shutil.copytree(bundled_model_path(), folder)
    weights = load_file(str(folder / "model.safetensors"))
    for name in ("encoder.layer.5.output.dense.weight", "encoder.layer.4.attention.self.query.weight"):
        weights[name] = (weights[name] * 1.2).astype(weights[name].dtype)
    save_file(weights, str(folder / "model.safetensors"))
    return folder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def test_search_follows_the_model_of_the_live_index(build_catalogue: Callable[..., str], os_client: OpenSearch,
                                                     settings: Settings, bert_encoder, tuned_folder: Path) -> None:  # type: ignore[no-untyped-def]
    alias = build_catalogue("test-live-query-encoder", PRODUCTS)
    stock_index = live_index(os_client, alias)
    shop = settings.model_copy(update={"encoders_dir": tuned_folder.parent, "query_encoder_follow_s": 0.05,
                                       "search_config": "hybrid-minmax"})
    service = build_search_service(shop, alias, record=False)
    assert isinstance(service.encoder, LiveQueryEncoder)
    assert service.encoder.identity == bert_encoder.identity

    tuned = BertEncoder(tuned_folder)
    assert tuned.identity.name == "minilm-shop" and tuned.identity != bert_encoder.identity
    assert cosine(tuned.encode(["garden lights"])[0], bert_encoder.encode(["garden lights"])[0]) < 0.999
    build_catalogue(alias, PRODUCTS, encoder=tuned)  # a rebuild with the shop's fine-tuned encoder
    time.sleep(0.1)
    assert service.search(SearchRequest(query="kitchen faucet"), record=False).results  # answered while it loads
    service.encoder.wait(300)
    assert service.encoder.identity == tuned.identity
    assert vectors_mismatch(os_client, alias, service.encoder.identity) is None
    assert cosine(service.encoder.vector("garden lights"), tuned.encode(["garden lights"])[0]) > 0.9999
    assert service.search(SearchRequest(query="garden lights"), record=False).results[0]["id"] == "l1"

    started_now = build_search_service(shop, alias, record=False)
    assert started_now.encoder.identity == tuned.identity  # no switch needed: it starts with the live model

    point_alias(os_client, alias, stock_index)  # a rollback to the index of the bundled model
    time.sleep(0.1)
    service.encoder.vector("porch lantern")
    service.encoder.wait(300)
    assert service.encoder.identity == bert_encoder.identity
    assert cosine(service.encoder.vector("porch lantern"), bert_encoder.encode(["porch lantern"])[0]) > 0.9999

    fixed = build_search_service(shop.model_copy(update={"query_encoder_follow_s": 0}), alias, record=False)
    assert not isinstance(fixed.encoder, LiveQueryEncoder)  # following off: SHELFRANK_MODEL_PATH's model


def test_a_live_model_no_folder_holds_or_that_fails_to_load_leaves_the_configured_encoder(
        build_catalogue: Callable[..., str], settings: Settings, bert_encoder, tuned_folder: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    alias = build_catalogue("test-live-query-encoder-missing", PRODUCTS, encoder=BertEncoder(tuned_folder))
    shop = settings.model_copy(update={"encoders_dir": tmp_path / "empty", "query_encoder_follow_s": 0.05})
    with caplog.at_level("WARNING"):
        service = build_search_service(shop, alias, record=False)
        assert service.encoder.identity == bert_encoder.identity
        assert service.search(SearchRequest(query="garden lights"), record=False).results
        service.encoder.wait(30)
        assert service.encoder.identity == bert_encoder.identity
    assert "which no local model folder holds" in caplog.text and "minilm-shop" in caplog.text

    broken = tmp_path / "broken" / "minilm-shop"  # the right weights, but no config or tokenizer beside them
    broken.mkdir(parents=True)
    shutil.copy(tuned_folder / "model.safetensors", broken / "model.safetensors")
    caplog.clear()
    with caplog.at_level("WARNING"):
        service = build_search_service(shop.model_copy(update={"encoders_dir": broken.parent}), alias, record=False)
    assert service.encoder.identity == bert_encoder.identity  # built, and answering with the configured model
    assert service.search(SearchRequest(query="garden lights"), record=False).results
    assert "starting with the configured query encoder" in caplog.text


def test_catalogue_writes_encode_with_the_live_index_model(build_catalogue: Callable[..., str], os_client: OpenSearch,
                                                           settings: Settings, tuned_folder: Path, tmp_path: Path) -> None:
    """A product dropped into the catalogue folder of a shop whose live index came from its fine-tuned encoder
    is encoded with that encoder, though SHELFRANK_MODEL_PATH still names the bundled one; with no folder
    holding that model, the sync is refused by name and the index keeps what it had."""
    from indexer.jobs import sync_drop_folder

    tuned = BertEncoder(tuned_folder)
    alias = build_catalogue("test-live-model-writes", PRODUCTS, encoder=tuned)
    drop = tmp_path / "drop"
    drop.mkdir()
    shop = settings.model_copy(update={"encoders_dir": tuned_folder.parent, "catalog_drop_settle_s": 0})
    (drop / "new.csv").write_text("id,title\nt9,Round toilet seat with slow close hinges\n")
    report = sync_drop_folder(shop, alias, drop)
    assert [f.name.endswith("new.csv") for f in (drop / "processed").iterdir()] == [True], report
    os_client.indices.refresh(index=alias)
    stored = os_client.get(index=alias, id="t9", _source_includes=["embedding"])["_source"]["embedding"]
    text = "Round toilet seat with slow close hinges"
    assert cosine(np.array(stored), tuned.encode([text])[0]) > 0.9999

    (drop / "other.csv").write_text("id,title\nt8,Elongated toilet seat\n")
    elsewhere = settings.model_copy(update={"encoders_dir": tmp_path / "no-encoders", "catalog_drop_settle_s": 0})
    sync_drop_folder(elsewhere, alias, drop)
    errors = list((drop / "failed").glob("*.error.txt"))
    assert len(errors) == 1 and "minilm-shop" in errors[0].read_text()
    assert not os_client.exists(index=alias, id="t8")
