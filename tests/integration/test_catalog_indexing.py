"""Catalogue indexing against the real node with the real BERT encoder."""

from __future__ import annotations

import csv
import itertools
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionTimeout

from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import CachedEncoder, EmbeddingCache
from indexer import pipeline
from indexer.catalog import Product
from indexer.documents import to_document
from indexer.mapping import index_body
from indexer.sources import ImportReport, read_catalog
from indexer.versions import IndexerError, ModelMismatchError, list_versions, live_index, point_alias
from ltr.history_sync import documents_with_history, sync_history

pytestmark = pytest.mark.integration

HOMEDEPOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "homedepot" / "train.csv"


def homedepot_sample(n: int) -> list[Product]:
    return list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), n))


@pytest.fixture
def cached_encoder(bert_encoder: BertEncoder, tmp_path: Path) -> CachedEncoder:
    return CachedEncoder(bert_encoder, EmbeddingCache(tmp_path / "embeddings.sqlite"))


def test_homedepot_sample_is_indexed_with_the_encoders_vectors(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder, bert_encoder: BertEncoder
) -> None:
    products = homedepot_sample(200)
    result = pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    assert result.documents == 200 and result.previous is None
    info = pipeline.status(os_client, index_name)
    assert info["documents"] == 200 and info["index"] == result.index
    assert info["model_key"] == bert_encoder.identity.key

    picked = products[:5]
    expected = bert_encoder.encode([p.embedding_text() for p in picked])
    for product, vector in zip(picked, expected):
        stored = os_client.get(index=index_name, id=product.id)["_source"]
        assert stored["title"] == product.title
        np.testing.assert_allclose(np.array(stored["embedding"], dtype=np.float32), vector, atol=1e-6)

    # BM25 with the english analyzer and k-NN both answer through the alias.
    hits = os_client.search(index=index_name, body={"query": {"match": {"title": products[0].title}}})
    assert hits["hits"]["hits"][0]["_id"] == products[0].id
    knn = os_client.search(index=index_name, body={"size": 3, "query": {"knn": {"embedding": {
        "vector": expected[1].tolist(), "k": 3}}}})
    assert knn["hits"]["hits"][0]["_id"] == picked[1].id


def test_incremental_update_reencodes_only_the_changed_product(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder, bert_encoder: BertEncoder
) -> None:
    products = homedepot_sample(60)
    pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    assert cached_encoder.stats.misses == 60
    cached_encoder.stats.hits = cached_encoder.stats.misses = 0

    changed = products[7].model_copy(update={"title": products[7].title + " with carrying case"})
    new = Product(id="new-1", title="Cordless impact driver kit")
    result = pipeline.sync(os_client, index_name, [*products[:7], changed, *products[8:], new],
                           [products[0].id], cached_encoder, settings)
    assert cached_encoder.stats.misses == 2  # the changed title and the new product
    assert cached_encoder.stats.hits == 59
    assert result.deleted == 1 and result.documents == 61
    assert os_client.count(index=index_name)["count"] == 60
    stored = os_client.get(index=index_name, id=changed.id)["_source"]
    assert stored["title"] == changed.title
    np.testing.assert_allclose(stored["embedding"], bert_encoder.encode([changed.embedding_text()])[0], atol=1e-6)
    assert not os_client.exists(index=index_name, id=products[0].id)


def test_a_sync_into_an_index_built_before_the_title_terms_adds_their_fields(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade must not break the shop's incremental sync: the strict mapping of an older index lacks
    ``title_terms`` / ``title_length``, so the sync puts them (additively) before writing."""
    def older_body(*args, **kwargs):  # type: ignore[no-untyped-def]
        body = index_body(*args, **kwargs)
        for field in ("title_terms", "title_length"):
            del body["mappings"]["properties"][field]
        return body

    products = homedepot_sample(10)
    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "index_body", older_body)
        patched.setattr(pipeline, "to_document", lambda p, v: {
            k: x for k, x in to_document(p, v).items() if k not in ("title_terms", "title_length")})
        pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    physical = live_index(os_client, index_name)
    assert "title_terms" not in os_client.indices.get_mapping(index=physical)[physical]["mappings"]["properties"]
    changed = products[3].model_copy(update={"title": "DEWALT 18-Volt Cordless Drills"})
    pipeline.sync(os_client, index_name, [changed], [], cached_encoder, settings)
    stored = os_client.get(index=index_name, id=changed.id)["_source"]
    assert stored["title_terms"] == ["18", "cordless", "dewalt", "drill", "v"] and stored["title_length"] == 5


def test_behaviour_and_history_survive_a_rebuild_and_a_sync(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder
) -> None:
    """They are written onto the live documents after indexing; a rebuild that dropped them would serve every
    product the priors until the next hourly refresh, and a sync would drop them from the products it rewrites."""
    products = homedepot_sample(40)
    pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    first = live_index(os_client, index_name)
    history = {products[0].id: ("cordless drill",), products[1].id: ("deck screws", "wood screws"),
               products[39].id: ("toilet flapper",)}
    sync_history(os_client, index_name, history)
    behaviour = {"behaviour_ctr": 0.25, "behaviour_purchase_rate": 0.05, "behaviour_popularity": 3.0}
    os_client.update(index=first, id=products[2].id, body={"doc": behaviour}, refresh=True)
    meta = os_client.indices.get_mapping(index=first)[first]["mappings"]["_meta"]
    priors = {"priors": {"product_ctr": 0.1}, "synced_at": "2026-12-05T00:00:00+00:00"}
    meta["shelfrank"]["behaviour"] = priors
    os_client.indices.put_mapping(index=first, body={"_meta": meta})
    before = {pid: os_client.get(index=first, id=pid)["_source"] for pid in (products[0].id, products[1].id)}

    result = pipeline.rebuild(os_client, index_name, products[:39], cached_encoder, settings)  # the last one gone
    assert result.index != first and live_index(os_client, index_name) == result.index
    for pid, source in before.items():
        stored = os_client.get(index=index_name, id=pid)["_source"]
        assert stored["history_match_codes"] == source["history_match_codes"] != []
        assert stored["history_queries"] == source["history_queries"] > 0
    assert {k: os_client.get(index=index_name, id=products[2].id)["_source"][k] for k in behaviour} == behaviour
    live_meta = os_client.indices.get_mapping(index=result.index)[result.index]["mappings"]["_meta"]["shelfrank"]
    assert live_meta["behaviour"] == priors and "verified_at" in live_meta
    assert documents_with_history(os_client, index_name) == 2

    changed = products[1].model_copy(update={"title": products[1].title + " (box of 100)"})
    pipeline.sync(os_client, index_name, [changed, products[2]], [], cached_encoder, settings)
    rewritten = os_client.get(index=index_name, id=changed.id)["_source"]
    assert rewritten["title"] == changed.title
    assert rewritten["history_match_codes"] == before[changed.id]["history_match_codes"]
    assert {k: os_client.get(index=index_name, id=products[2].id)["_source"][k] for k in behaviour} == behaviour


def test_vectors_of_another_model_are_refused(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder
) -> None:
    products = homedepot_sample(20)
    pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    other = CachedEncoder(cached_encoder.encoder, cached_encoder.cache)
    other.identity = replace(cached_encoder.identity, weights_sha256="f" * 64, name="fine-tuned")
    with pytest.raises(ModelMismatchError, match="cannot be mixed"):
        pipeline.sync(os_client, index_name, [Product(id="x", title="Intruder")], [], other, settings)
    assert not os_client.exists(index=index_name, id="x")


def test_rebuild_under_query_load_has_zero_failed_queries(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder
) -> None:
    products = homedepot_sample(300)
    first = pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    query_vector = cached_encoder.encode([products[3].embedding_text()])[0].tolist()
    stop = threading.Event()
    outcomes = {"ok": 0, "failed": []}

    def shopper() -> None:
        bodies = [{"query": {"match": {"title": "drill"}}},
                  {"query": {"knn": {"embedding": {"vector": query_vector, "k": 5}}}}]
        for body in itertools.cycle(bodies):
            if stop.is_set():
                return
            try:
                response = os_client.search(index=index_name, body=body)
                if response["hits"]["total"]["value"] == 0 and "knn" in body["query"]:
                    raise AssertionError("knn returned nothing")
                outcomes["ok"] += 1
            except Exception as exc:  # noqa: BLE001 (every failure counts)
                outcomes["failed"].append(repr(exc))

    threads = [threading.Thread(target=shopper) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        second = pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert outcomes["failed"] == []
    assert outcomes["ok"] > 20
    assert live_index(os_client, index_name) == second.index != first.index
    assert second.previous == first.index
    assert list_versions(os_client, index_name) == [first.index, second.index]

    assert pipeline.rollback(os_client, index_name) == (second.index, first.index)
    assert live_index(os_client, index_name) == first.index


def test_failed_rebuild_leaves_the_live_index_untouched(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder
) -> None:
    products = homedepot_sample(30)
    live = pipeline.rebuild(os_client, index_name, products, cached_encoder, settings).index

    def interrupted():  # type: ignore[no-untyped-def]
        yield from products[:10]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.rebuild(os_client, index_name, interrupted(), cached_encoder, settings)
    with pytest.raises(IndexerError, match="no valid products"):
        pipeline.rebuild(os_client, index_name, [], cached_encoder, settings)
    # A truncated export (or a file whose rows were mostly rejected): 10 of 30 products is refused.
    with pytest.raises(IndexerError, match="has 10 products, the live one 30 .*--allow-shrink"):
        pipeline.rebuild(os_client, index_name, products[:10], cached_encoder, settings)
    assert live_index(os_client, index_name) == live
    assert list_versions(os_client, index_name) == [live]
    assert os_client.count(index=index_name)["count"] == 30
    shrunk = pipeline.rebuild(os_client, index_name, products[:10], cached_encoder, settings, allow_shrink=True)
    assert live_index(os_client, index_name) == shrunk.index and os_client.count(index=index_name)["count"] == 10


def test_old_versions_beyond_the_retention_are_deleted(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder
) -> None:
    products = homedepot_sample(10)
    built = [pipeline.rebuild(os_client, index_name, products, cached_encoder, settings) for _ in range(3)]
    assert built[2].removed_versions == [built[0].index]
    assert list_versions(os_client, index_name) == [built[1].index, built[2].index]


def test_cli_import_reports_bad_rows_and_indexes_the_rest(index_name: str, tmp_path: Path,
                                                         os_client: OpenSearch) -> None:
    catalogue = tmp_path / "shop.jsonl"
    catalogue.write_text(
        '{"id": "p1", "title": "Cordless drill", "brand": "Acme", "price": 99.5, "category": "Tools > Drills"}\n'
        '{"id": "p2", "title": "Claw hammer", "price": "cheap"}\n'
        '{"title": "no id"}\n'
        '{"id": "p3", "title": "Paint roller", "availability": "in stock"}\n'
    )
    shelfrank = str(Path(sys.executable).parent / "shelfrank")
    env = {**os.environ, "SHELFRANK_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run([shelfrank, "catalog", "import", str(catalogue), "--format", "jsonl",
                             "--index", index_name], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "line 2: price" in result.stderr and "line 3: id: Field required" in result.stderr
    assert "2 valid products" in result.stdout and "2 rows rejected" in result.stdout
    assert os_client.count(index=index_name)["count"] == 2
    doc = os_client.get(index=index_name, id="p1")["_source"]
    assert doc["category"] == ["Tools", "Drills"] and doc["category_leaf"] == "Drills"

    status = subprocess.run([shelfrank, "index", "status", "--index", index_name, "--json"],
                            capture_output=True, text=True, env=env, timeout=120)
    import json
    info = json.loads(status.stdout)
    assert info["documents"] == 2 and info["model"]["name"] == "all-MiniLM-L6-v2"


def segment_count(client: OpenSearch, index: str) -> int:
    shards = client.indices.segments(index=index)["indices"][index]["shards"]
    return sum(len(copy["segments"]) for copies in shards.values() for copy in copies)


def test_segments_are_merged_and_a_rebuild_merges_before_going_live(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    products = homedepot_sample(60)
    index = f"{index_name}-v-written"
    os_client.indices.create(index=index, body=index_body(settings, cached_encoder.identity, index_name))
    os_client.indices.put_settings(index=index, body={"index": {"refresh_interval": "-1"}})
    for part in (products[:20], products[20:40], products[40:]):  # a refresh after each write: three segments
        pipeline.write_products(os_client, index, part, cached_encoder, settings)
        os_client.indices.refresh(index=index)
    assert segment_count(os_client, index) == 3
    pipeline.merge_segments(os_client, index, 0)
    assert segment_count(os_client, index) == 3
    pipeline.merge_segments(os_client, index, 1)
    assert segment_count(os_client, index) == 1
    assert os_client.count(index=index)["count"] == 60

    # A rebuild merges the new index while the alias still points at the old one.
    merging = settings.model_copy(update={"index_merge_segments": 1})
    first = pipeline.rebuild(os_client, index_name, products[:30], cached_encoder, merging)
    calls: list[tuple[str, int, str | None]] = []
    real_merge = pipeline.merge_segments

    def spy(client: OpenSearch, target: str, segments: int, *args: object, **kwargs: object) -> None:
        calls.append((target, segments, live_index(client, index_name)))
        real_merge(client, target, segments, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "merge_segments", spy)
    second = pipeline.rebuild(os_client, index_name, products, cached_encoder, merging)
    assert calls == [(second.index, 1, first.index)]
    assert live_index(os_client, index_name) == second.index and segment_count(os_client, second.index) == 1

    # A merge that fails (or times out) fails the rebuild: the new index is deleted, the live one stays.
    def broken(client: OpenSearch, target: str, segments: int, *args: object, **kwargs: object) -> None:
        raise IndexerError(f"merging {target} into {segments} segment(s) took longer than 1 s")

    monkeypatch.setattr(pipeline, "merge_segments", broken)
    with pytest.raises(IndexerError, match="took longer"):
        pipeline.rebuild(os_client, index_name, products[:10], cached_encoder, merging)
    assert live_index(os_client, index_name) == second.index
    assert list_versions(os_client, index_name) == [first.index, second.index]
    assert os_client.count(index=index_name)["count"] == 60


def test_syncs_that_leave_the_live_index_in_too_many_segments_merge_it_back(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each incremental sync leaves new segments; once a shard has more than ``index_compact_segments`` the sync
    merges the live index back to ``index_merge_segments``, losing nothing, and a merge that fails leaves the
    sync's writes in place, reported rather than raised."""
    from indexer import segments

    products = homedepot_sample(80)
    compacting = settings.model_copy(update={"index_merge_segments": 1, "index_compact_segments": 3})
    built = pipeline.rebuild(os_client, index_name, products[:40], cached_encoder, compacting)
    assert segments.segments_per_shard(os_client, built.index) == segment_count(os_client, built.index) == 1

    seen: list[tuple[int, int | None]] = []
    for start in range(40, 80, 5):  # small syncs, a refresh after each: a segment or two each
        result = pipeline.sync(os_client, index_name, products[start:start + 5], [], cached_encoder, compacting)
        assert result.compaction is not None and result.compaction.index == built.index
        seen.append((result.compaction.before, result.compaction.after))
        if result.compaction.merged:
            break
    *unmerged, (before, after) = seen
    assert all(b <= 3 and a is None for b, a in unmerged)
    assert before > 3 and after == 1 and segment_count(os_client, built.index) == 1
    written = 40 + 5 * len(seen)
    assert os_client.count(index=index_name)["count"] == written
    hit = os_client.search(index=index_name, body={"query": {"match": {"title": products[written - 1].title}}})
    assert hit["hits"]["hits"][0]["_id"] == products[written - 1].id

    # Never merging a live index (0) leaves the segments be, whatever their number.
    never = compacting.model_copy(update={"index_compact_segments": 0})
    for start in range(written, written + 15, 5):
        result = pipeline.sync(os_client, index_name, products[start - 40:start - 35], [], cached_encoder, never)
        assert result.compaction is not None and not result.compaction.merged
    assert segment_count(os_client, built.index) > 1

    # A merge that fails is reported with its reason; the sync's writes stand and the index serves as it was.
    def broken(client: OpenSearch, target: str, count: int, *args: object, **kwargs: object) -> None:
        raise IndexerError(f"merging {target} into {count} segment(s) took longer than 1 s")

    monkeypatch.setattr(segments, "merge_segments", broken)
    extra = products[0].model_copy(update={"id": "extra-after-a-failed-merge", "title": "cordless drill extra"})
    result = pipeline.sync(os_client, index_name, [extra], [], cached_encoder,
                           compacting.model_copy(update={"index_compact_segments": 1}))
    assert result.compaction is not None and not result.compaction.merged
    assert "took longer than 1 s" in (result.compaction.error or "")
    assert "serves as it was" in result.compaction.describe()
    assert os_client.get(index=index_name, id=extra.id)["_source"]["title"] == "cordless drill extra"

    # Even counting the segments may fail (the node went away after the writes): reported, not raised.
    def unreachable(client: OpenSearch, index: str) -> int:
        raise ConnectionTimeout("TIMEOUT", "the node did not answer", None)

    monkeypatch.setattr(segments, "segments_per_shard", unreachable)
    later = extra.model_copy(update={"id": "extra-after-a-lost-node"})
    result = pipeline.sync(os_client, index_name, [later], [], cached_encoder, compacting)
    assert result.compaction is not None and result.compaction.before is None and not result.compaction.merged
    assert "ConnectionTimeout" in (result.compaction.error or "")
    assert os_client.get(index=index_name, id=later.id)["found"]


def test_a_rebuild_killed_mid_way_leaves_an_unverified_version_that_cleanup_deletes(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder, tmp_path: Path
) -> None:
    """``kill -9`` of `shelfrank index rebuild` half way: the live index serves on; the half-written version
    is marked unverified (status says so), is no rollback target, does not push a good version out of the
    retention count, and cleanup deletes it once past the grace period."""
    import signal
    import time

    from indexer.cleanup import clean_versions

    first = pipeline.rebuild(os_client, index_name, homedepot_sample(20), cached_encoder, settings)
    second = pipeline.rebuild(os_client, index_name, homedepot_sample(20), cached_encoder, settings)
    source = tmp_path / "catalogue.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description"])
        for product in homedepot_sample(3000):
            writer.writerow([product.id, product.title, product.description])
    process = subprocess.Popen([str(Path(sys.executable).parent / "shelfrank"), "index", "rebuild", "--index",
                                index_name, "--from", str(source)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "SHELFRANK_BULK_CHUNK_SIZE": "100"})
    deadline = time.monotonic() + 300
    partial = None
    while time.monotonic() < deadline and process.poll() is None:
        newer = [v for v in list_versions(os_client, index_name) if v > second.index]
        if newer:
            os_client.indices.refresh(index=newer[0])
            if os_client.count(index=newer[0])["count"] > 0:
                partial = newer[0]
                break
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert partial is not None, "the rebuild never wrote a document before the deadline"
    assert live_index(os_client, index_name) == second.index
    assert pipeline.status(os_client, index_name)["unverified"] == [partial]
    assert pipeline.rollback(os_client, index_name) == (second.index, first.index)  # never to the partial one
    point_alias(os_client, index_name, second.index)
    third = pipeline.rebuild(os_client, index_name, homedepot_sample(20), cached_encoder, settings)
    assert third.removed_versions == [first.index]  # the partial one is no rollback target: second is kept
    young = clean_versions(os_client, index_name, keep=2, partial_grace_s=3600)
    assert young.partial_kept == [partial] and young.partial_deleted == []  # perhaps a rebuild still running
    cleaned = clean_versions(os_client, index_name, keep=2, partial_grace_s=0)
    assert cleaned.partial_deleted == [partial] and cleaned.old_deleted == []
    assert list_versions(os_client, index_name) == [second.index, third.index]
    assert live_index(os_client, index_name) == third.index and os_client.count(index=index_name)["count"] == 20


def test_the_drop_folder_applies_exports_in_order_and_sets_bad_ones_aside(
    os_client: OpenSearch, settings: Settings, index_name: str, cached_encoder: CachedEncoder, tmp_path: Path
) -> None:
    import json
    import time

    from indexer.drop_folder import sync_drop_folder

    products = homedepot_sample(12)
    pipeline.rebuild(os_client, index_name, products, cached_encoder, settings)
    drop = tmp_path / "drop"
    drop.mkdir()
    old = time.time() - 120
    changed = products[0]

    def dropped(name: str, text: str, age: float) -> None:
        path = drop / name
        path.write_text(text)
        os.utime(path, (age, age))

    dropped("1-changes.csv", f"id,title\n{changed.id},Renamed cordless widget\nnew-1,Brand new garden hose\n,no id\n",
            old)
    dropped("2-gone.deletes", f"{products[1].id}\n{products[2].id}\nnever-existed\n", old + 1)
    dropped("3-broken.jsonl", '{"title": "no id"}\nnot json\n', old + 2)
    dropped("4-copying.csv.part", "id,title\nx,half written\n", old)
    dropped("5-fresh.csv", "id,title\nnew-2,Just written\n", time.time())  # changed a moment ago: not yet
    report = sync_drop_folder(os_client, index_name, drop, cached_encoder, settings)
    assert [a["file"] for a in report.applied] == ["1-changes.csv", "2-gone.deletes"]
    assert report.applied[0]["upserted"] == 2 and report.applied[0]["rejected_rows"] == 1
    assert report.applied[1]["deleted"] == 2
    assert [f["file"] for f in report.failed] == ["3-broken.jsonl"] and "no valid product" in report.failed[0]["error"]
    assert report.waiting == ["5-fresh.csv"]
    assert os_client.count(index=index_name)["count"] == 12 + 1 - 2
    title = os_client.get(index=index_name, id=changed.id)["_source"]["title"]
    assert title == "Renamed cordless widget"
    assert sorted(p.name.split("-", 1)[1] for p in (drop / "processed").iterdir()) == ["1-changes.csv", "2-gone.deletes"]
    failed = sorted(p.name for p in (drop / "failed").iterdir())
    assert failed[0].endswith("3-broken.jsonl") and failed[1].endswith("3-broken.jsonl.error.txt")
    assert (drop / "4-copying.csv.part").exists() and (drop / "5-fresh.csv").exists()
    recorded = json.loads(json.dumps(report.as_dict()))  # what the task records in task_runs
    assert [a["file"] for a in recorded["applied"]] == ["1-changes.csv", "2-gone.deletes"]
    assert recorded["waiting"] == ["5-fresh.csv"] and recorded["blocked_by"] is None
