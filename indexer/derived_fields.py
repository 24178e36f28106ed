"""The fields the shop's behaviour writes onto documents after indexing, kept through reindexing.

Product behaviour (``shelfrank index behaviour``) and the query history (``shelfrank index
history``) are partial updates of the live documents, not part of the catalogue a rebuild or a sync
reads. Without this module a rebuild would serve every product the priors, and every product a
catalogue sync rewrites would lose its values, until the next refresh: the ranking would quietly
change with no model change. So a rebuild copies them (and the behaviour priors in ``_meta``) from
the index it replaces before the alias moves, and a sync reads them for each chunk of products
before rewriting it and puts them back after.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch, helpers

from indexer import schema
from indexer.versions import IndexerError

Derived = dict[str, dict[str, Any]]  # product id -> its derived fields' values


@dataclass(frozen=True)
class CarryReport:
    source: str
    products: int  # products whose derived fields were written onto the target
    gone: int  # products with derived fields that the target no longer has


def _has_any() -> dict:
    return {"bool": {"should": [{"exists": {"field": f}} for f in schema.DERIVED_FIELDS], "minimum_should_match": 1}}


def read_derived(client: OpenSearch, index: str, ids: Iterable[str] | None = None) -> Derived:
    """The derived fields of every product of ``index`` that has any (of ``ids`` only, when given)."""
    query = _has_any()
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        query["bool"]["filter"] = [{"ids": {"values": wanted}}]
    hits = helpers.scan(client, index=index, size=1000,
                        query={"query": query, "_source": list(schema.DERIVED_FIELDS)})
    return {hit["_id"]: hit.get("_source", {}) for hit in hits}


def partial_update(index: str, product_id: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A bulk action that sets ``doc``'s fields of one document and leaves the others as they are.

    The syncs that write derived fields (behaviour, query history, a rebuild carrying them over) can run at
    the same time on the same documents, each on fields of its own; a write that lost the race to another
    is retried on the fresh document instead of failing the whole sync (a 409 refused a promotion once)."""
    return {"_op_type": "update", "_index": index, "_id": product_id, "doc": dict(doc), "retry_on_conflict": 5}


def write_derived(client: OpenSearch, index: str, values: Mapping[str, Mapping[str, Any]]) -> tuple[int, int]:
    """Partial updates of ``values`` onto ``index``; (written, not in the index)."""
    actions = (partial_update(index, pid, doc) for pid, doc in values.items())
    written = gone = 0
    for ok, item in helpers.streaming_bulk(client, actions, raise_on_error=False, chunk_size=1000):
        if ok:
            written += 1
        elif next(iter(item.values())).get("status") == 404:
            gone += 1
        else:
            raise IndexerError(f"carrying behaviour and history fields failed: {str(item)[:300]}")
    return written, gone


def carry_derived(client: OpenSearch, source: str, target: str) -> CarryReport:
    """Copy the derived fields and the behaviour priors from ``source`` (the index being replaced) onto
    ``target``, before the alias moves to it."""
    meta = client.indices.get_mapping(index=source)[source]["mappings"].get("_meta", {}).get("shelfrank", {})
    carried = {key: meta[key] for key in schema.DERIVED_META_KEYS if key in meta}
    if carried:
        target_meta = dict(client.indices.get_mapping(index=target)[target]["mappings"].get("_meta", {}))
        target_meta["shelfrank"] = {**target_meta.get("shelfrank", {}), **carried}
        client.indices.put_mapping(index=target, body={"_meta": target_meta})
    written, gone = write_derived(client, target, read_derived(client, source))
    return CarryReport(source, written, gone)


def keeping_derived(client: OpenSearch, index: str, products: Iterable[Any], kept: Derived,
                    chunk: int = 500) -> Iterator[Any]:
    """``products`` (anything with an ``id``), reading into ``kept`` each chunk's derived fields in
    ``index`` before the chunk is handed on to be rewritten; :func:`write_derived` puts them back after."""
    batch: list[Any] = []
    for product in products:
        batch.append(product)
        if len(batch) >= chunk:
            yield from _read_then_hand_on(client, index, batch, kept)
            batch = []
    yield from _read_then_hand_on(client, index, batch, kept)


def _read_then_hand_on(client: OpenSearch, index: str, batch: list[Any], kept: Derived) -> Iterator[Any]:
    for pid, doc in read_derived(client, index, (p.id for p in batch)).items():
        kept.setdefault(pid, doc)  # a product twice in one sync keeps what it had before the first write
    yield from batch
