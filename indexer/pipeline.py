"""Indexing operations: full rebuild with alias swap, incremental sync, rollback, status.

Every operation streams products in chunks: encode a chunk (through the embedding
cache), bulk-write it, move on. Memory stays bounded by the chunk size whatever the
catalogue size.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionTimeout, TransportError
from tqdm import tqdm

from core.settings import Settings
from encoders.base import TextEncoder
from indexer.catalog import Product
from indexer.derived_fields import Derived, carry_derived, keeping_derived, write_derived
from indexer.documents import from_document, to_document
from indexer.mapping import index_body, title_terms_properties
from indexer.segments import Compaction, compact, merge_segments
from indexer.versions import (
    IndexerError,
    check_alias_name,
    ensure_same_model,
    index_model,
    list_versions,
    live_index,
    is_verified,
    mark_verified,
    new_physical_name,
    point_alias,
    version_states,
)

ENCODE_CHUNK = 1024


@dataclass
class IndexResult:
    alias: str
    index: str
    documents: int
    deleted: int = 0
    previous: str | None = None
    removed_versions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    compaction: Compaction | None = None  # what an incremental sync's merge of the live index did


def _chunks(items: Iterable[Product], size: int) -> Iterator[list[Product]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def bulk_write(client: OpenSearch, actions: list[dict], settings: Settings, attempts: int = 4) -> None:
    """Bulk-write with backoff: 429s are retried per document by the helper, timeouts per request."""
    for attempt in range(attempts):
        try:
            _ok, errors = helpers.bulk(client, actions, chunk_size=settings.bulk_chunk_size, max_retries=5,
                                       initial_backoff=1, max_backoff=30, raise_on_error=False,
                                       request_timeout=120)
        except (ConnectionTimeout, TransportError) as exc:
            status = getattr(exc, "status_code", None)
            if attempt + 1 == attempts or status not in (None, "N/A", 429, 502, 503, 504):
                raise
            time.sleep(2 ** attempt)
            continue
        if errors:
            first = "; ".join(str(e)[:300] for e in errors[:3])
            raise IndexerError(f"{len(errors)} documents were rejected by OpenSearch, e.g. {first}")
        return


def write_products(client: OpenSearch, index: str, products: Iterable[Product], encoder: TextEncoder,
                   settings: Settings, progress: bool = False, total: int | None = None,
                   encode_chunk: int = ENCODE_CHUNK) -> tuple[int, Product | None]:
    """Encode and index ``products`` into ``index``; returns (count, first product) for verification.

    Up to ``settings.bulk_concurrency`` bulk requests are in flight while the next chunk is
    encoded: Lucene builds HNSW graphs on one thread per request, so concurrent requests use
    every core. The queue of pending chunks is bounded, and so is memory. ``encode_chunk`` texts are
    encoded per call (a cached encoder stores each call's vectors: smaller calls lose less to a crash).
    """
    count, first = 0, None
    bar = tqdm(total=total, desc=f"indexing {index}", unit="product", disable=not progress)
    pending: deque[tuple[Future[None], int]] = deque()
    with ThreadPoolExecutor(max_workers=settings.bulk_concurrency) as pool:
        try:
            for chunk in _chunks(products, encode_chunk):
                vectors = encoder.encode([p.embedding_text() for p in chunk], batch_size=settings.encoder_batch_size)
                actions = [{"_op_type": "index", "_index": index, "_id": p.id, "_source": to_document(p, v)}
                           for p, v in zip(chunk, vectors)]
                while len(pending) >= settings.bulk_concurrency:
                    done, size = pending.popleft()
                    done.result()
                    bar.update(size)
                pending.append((pool.submit(bulk_write, client, actions, settings), len(chunk)))
                first = first or chunk[0]
                count += len(chunk)
            while pending:
                done, size = pending.popleft()
                done.result()
                bar.update(size)
        except BaseException:
            for future, _size in pending:
                future.cancel()
            raise
    bar.close()
    return count, first


def verify_index(client: OpenSearch, index: str, expected: int, sample: Product | None, encoder: TextEncoder) -> None:
    """Refuse to go live with an index that lost documents or cannot answer a query."""
    client.indices.refresh(index=index)
    actual = client.count(index=index)["count"]
    if actual != expected:
        raise IndexerError(f"verification failed: {index} holds {actual} documents, {expected} were written")
    if sample is None:
        return
    text_hits = client.search(index=index, body={"size": 1, "query": {"match": {"title": sample.title}}})
    if not text_hits["hits"]["hits"]:
        raise IndexerError(f"verification failed: a BM25 query for {sample.title!r} found nothing in {index}")
    vector = encoder.encode([sample.embedding_text()])[0].tolist()
    knn = client.search(index=index, body={"size": 10, "_source": False,
                                           "query": {"knn": {"embedding": {"vector": vector, "k": 10}}}})
    if sample.id not in {hit["_id"] for hit in knn["hits"]["hits"]}:
        raise IndexerError(f"verification failed: product {sample.id!r} is not its own nearest neighbour in {index}")


def rebuild(client: OpenSearch, alias: str, products: Iterable[Product], encoder: TextEncoder, settings: Settings,
            progress: bool = False, total: int | None = None, allow_empty: bool = False,
            allow_shrink: bool = False) -> IndexResult:
    """Build a new physical index, merge its segments, verify it, then swap the alias to it atomically.

    The behaviour and query history written onto the old index are carried over before the swap.
    Until the swap the alias keeps serving the old index; if anything fails or is
    interrupted before the swap, the new index is deleted and the old one stays live. A new
    catalogue smaller than ``index_min_kept_fraction`` of the live one (a truncated export, a file
    whose rows were mostly rejected) is refused unless ``allow_shrink``.
    """
    started = time.monotonic()
    check_alias_name(alias)
    previous = live_index(client, alias)
    index = new_physical_name(alias)
    client.indices.create(index=index, body=index_body(settings, encoder.identity, alias))
    try:
        client.indices.put_settings(index=index, body={"index": {"refresh_interval": "-1"}})
        count, sample = write_products(client, index, products, encoder, settings, progress, total)
        if count == 0 and not allow_empty:
            raise IndexerError("no valid products to index; the live index was left untouched")
        if previous is not None:  # the behaviour and history the live index serves, read as late as possible
            carry_derived(client, previous, index)
        client.indices.put_settings(index=index, body={"index": {"refresh_interval": "1s"}})
        merge_segments(client, index, settings.index_merge_segments, settings.index_merge_timeout_s, progress)
        verify_index(client, index, count, sample, encoder)
        live_count = client.count(index=previous)["count"] if previous else 0
        if not allow_shrink and count < settings.index_min_kept_fraction * live_count:
            raise IndexerError(f"the new catalogue has {count} products, the live one {live_count} (below "
                               f"{settings.index_min_kept_fraction:.0%} of it): refused, the live index was left "
                               "untouched; if the shop really shrank, rebuild with --allow-shrink")
        mark_verified(client, index)
        if previous is not None and not is_verified(client, previous):
            mark_verified(client, previous)  # served until now, so a rollback target (built before the mark)
        point_alias(client, alias, index)
    except BaseException:
        if live_index(client, alias) != index:  # never delete what the alias serves
            client.indices.delete(index=index, ignore_unavailable=True)
        raise
    removed = prune_versions(client, alias, settings.index_keep_versions)
    return IndexResult(alias, index, count, previous=previous, removed_versions=removed,
                       seconds=time.monotonic() - started)


def prune_versions(client: OpenSearch, alias: str, keep: int) -> list[str]:
    """Delete the oldest verified versions beyond ``keep``, never the live one. Unverified versions are
    no rollback target, so they neither count nor are deleted here (that is cleanup's, after a grace
    period: one may be a rebuild still running)."""
    live = live_index(client, alias)
    versions = [v.name for v in version_states(client, alias) if v.name != live and v.verified]
    surplus = versions[: max(0, len(versions) - max(keep - 1, 0))]
    for name in surplus:
        client.indices.delete(index=name)
    return surplus


def sync(client: OpenSearch, alias: str, upserts: Iterable[Product], deletes: Iterable[str], encoder: TextEncoder,
         settings: Settings, progress: bool = False, compact_after: bool = True) -> IndexResult:
    """Upsert and delete products by id in the live index; unchanged texts are not re-encoded, and the
    rewritten products keep their behaviour and query history. Then the segments the writes left are merged
    back if there are too many (``compact_after``; a caller applying several syncs merges once after them)."""
    started = time.monotonic()
    index = live_index(client, check_alias_name(alias))
    if index is None:
        raise IndexerError(f"index {alias!r} does not exist yet; create it with `shelfrank catalog import` first")
    ensure_same_model(client, index, encoder.identity)
    # An index built before the title's tokens were stored gains their fields (additive, idempotent);
    # the products this sync writes carry them, the others keep 0 for the match features until rewritten.
    client.indices.put_mapping(index=index, body={"properties": title_terms_properties()})
    kept: Derived = {}  # what the rewritten products' behaviour and history were, put back after
    count, _ = write_products(client, index, keeping_derived(client, index, upserts, kept), encoder, settings,
                              progress)
    write_derived(client, index, kept)
    delete_ids = list(dict.fromkeys(deletes))
    deleted = 0
    if delete_ids:
        actions = [{"_op_type": "delete", "_index": index, "_id": pid} for pid in delete_ids]
        result = helpers.bulk(client, actions, raise_on_error=False, chunk_size=settings.bulk_chunk_size)
        not_found = [e for e in result[1] if e.get("delete", {}).get("status") == 404]
        other = [e for e in result[1] if e not in not_found]
        if other:
            raise IndexerError(f"{len(other)} deletes failed, e.g. {str(other[0])[:300]}")
        deleted = len(delete_ids) - len(not_found)
    client.indices.refresh(index=index)
    compaction = compact(client, index, settings, progress) if compact_after else None
    return IndexResult(alias, index, count, deleted=deleted, seconds=time.monotonic() - started,
                       compaction=compaction)


def rollback(client: OpenSearch, alias: str) -> tuple[str, str]:
    """Point the alias back at the version before the live one; returns (from, to)."""
    live = live_index(client, check_alias_name(alias))
    if live is None:
        raise IndexerError(f"index {alias!r} does not exist")
    older = [v.name for v in version_states(client, alias) if v.name < live and v.verified]
    if not older:
        raise IndexerError(f"no earlier verified version of {alias!r} to roll back to (live: {live})")
    point_alias(client, alias, older[-1])
    return live, older[-1]


def iter_indexed_products(client: OpenSearch, alias: str) -> Iterator[Product]:
    """Every product in the live index (the source for a rebuild without a file)."""
    for hit in helpers.scan(client, index=alias, query={"query": {"match_all": {}}},
                            _source_excludes=["embedding"], size=1000):
        yield from_document(hit["_source"])


def embedding_texts(client: OpenSearch, index: str, product_ids: Sequence[str]) -> dict[str, str]:
    """Product id -> the text its vector is made from (title, brand, category), read from ``index``;
    ids it does not hold are left out. Fine-tuning trains on exactly what the index encodes."""
    texts: dict[str, str] = {}
    for start in range(0, len(product_ids), 1000):
        response = client.mget(index=index, body={"ids": list(product_ids[start:start + 1000])},
                               _source_excludes="embedding")
        texts.update({d["_id"]: from_document(d["_source"]).embedding_text()
                      for d in response["docs"] if d.get("found")})
    return texts


def status(client: OpenSearch, alias: str) -> dict:
    live = live_index(client, check_alias_name(alias))
    if live is None:
        return {"alias": alias, "exists": False}
    model = index_model(client, live)
    return {
        "alias": alias,
        "exists": True,
        "index": live,
        "documents": client.count(index=live)["count"],
        "model": model.as_dict() if model else None,
        "model_key": model.key if model else None,
        "versions": list_versions(client, alias),
        "unverified": [v.name for v in version_states(client, alias) if not v.verified and v.name != live],
    }
