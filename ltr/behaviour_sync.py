"""Product behaviour onto the catalogue's documents, where the featureset's script features read it.

``shelfrank index behaviour`` (and the hourly worker task) computes every product's behaviour
features as of now from the events database and writes them with partial updates: no re-encoding,
no new index, the alias untouched; products whose values moved less than ``behaviour_sync_tolerance``
are left as they are. Products whose history is gone (the events' retention purge)
lose their values: the script then reads the priors, which live in the index's ``_meta`` next to
the time of the sync. The values are computed as training's point-in-time snapshot computes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from opensearchpy import OpenSearch, helpers
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer import schema
from indexer.derived_fields import partial_update
from indexer.mapping import behaviour_properties
from indexer.segments import Compaction
from indexer.versions import physical_index
from ltr.features.loader import load_behaviour
from ltr.ranker.extract import ProductBehaviour, behaviour_snapshot, document_behaviour

META_KEY = schema.BEHAVIOUR_META_KEY


class BehaviourSyncError(RuntimeError):
    """The behaviour could not be written; the message says what to do."""


@dataclass(frozen=True)
class SyncReport:
    index: str
    updated: int  # products the engine rewrote with new behaviour values
    cleared: int  # products whose values left the window
    missing: int  # products with history that are no longer in the catalogue
    priors: dict[str, float]
    unchanged: int = 0  # products whose documents already held their values (within the tolerance): not rewritten
    compaction: Compaction | None = None  # the merge of the segments the rewrites left (indexer.segments)


def document_values(behaviour: ProductBehaviour) -> dict[str, dict[str, float]]:
    """Product id -> document field -> value: what the sync writes for each product with behaviour."""
    return {pid: {column: float(values.get(name, behaviour.defaults.get(name, 0.0)))
                  for name, column in schema.BEHAVIOUR_FIELDS.items()}
            for pid, values in behaviour.values.items()}


def within_tolerance(held: Mapping[str, float], new: Mapping[str, float], tolerance: float) -> bool:
    """Whether a document holding ``held`` (its float32 doc values, what the features read) may keep it instead
    of ``new``: the same fields, each new value as the document would store it within ``tolerance`` of the
    larger of the two (relative; 0: only what would be stored unchanged)."""
    def stored(value: float) -> float:
        return float(np.float32(value))

    return held.keys() == new.keys() and all(
        abs(stored(new[key]) - held[key]) <= tolerance * max(abs(stored(new[key])), abs(held[key])) for key in new)


def _held_values(client: OpenSearch, index: str) -> dict[str, dict[str, float]]:
    """What the documents with behaviour hold now (doc values: float32, far below any useful tolerance)."""
    columns = list(schema.BEHAVIOUR_FIELDS.values())
    hits = helpers.scan(client, index=index, query={"query": {"exists": {"field": columns[0]}}, "_source": False,
                                                    "docvalue_fields": columns})
    return {hit["_id"]: {c: float(v[0]) for c in columns if (v := hit.get("fields", {}).get(c))} for hit in hits}


def _updates(index: str, values: Mapping[str, Mapping[str, float]], stale: set[str]) -> Iterator[dict]:
    for pid, doc in values.items():
        yield partial_update(index, pid, doc)
    for pid in stale:
        yield partial_update(index, pid, {column: None for column in schema.BEHAVIOUR_FIELDS.values()})


def sync_behaviour(client: OpenSearch, alias: str, session: Session, now: datetime,
                   window_days: float = 30.0, tolerance: float = 0.0) -> SyncReport:
    """Write the behaviour as of ``now`` onto the live index behind ``alias``. A document whose values are all
    within ``tolerance`` of the new ones keeps them (``behaviour_sync_tolerance``): every rewrite reindexes the
    product with its vector, and the segments rewrites leave slow searches down until merged."""
    index = physical_index(client, alias)
    if index is None:
        raise BehaviourSyncError(f"no catalogue index behind {alias!r}; build one first (shelfrank index rebuild)")
    behaviour = behaviour_snapshot(load_behaviour(session, until=now), now, window_days)
    client.indices.put_mapping(index=index, body={"properties": behaviour_properties()})
    held = _held_values(client, index)
    stale = set(held) - set(behaviour.values)
    values = document_values(behaviour)
    changed = {pid: doc for pid, doc in values.items()
               if pid not in held or not within_tolerance(held[pid], doc, tolerance)}
    missing = noop = gone = 0
    for ok, item in helpers.streaming_bulk(client, _updates(index, changed, stale), raise_on_error=False,
                                           chunk_size=500):
        outcome = next(iter(item.values()))
        if not ok:
            if outcome.get("status") != 404:
                raise BehaviourSyncError(f"behaviour update failed: {item}")
            if outcome.get("_id") in changed:
                missing += 1
            else:  # a document to clear was deleted since the scan: nothing left to clear
                gone += 1
        elif outcome.get("result") == "noop" and outcome.get("_id") in changed:  # the source held these values
            noop += 1
    meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    shelfrank = dict(meta.get("shelfrank", {}))
    shelfrank[META_KEY] = {"priors": dict(behaviour.defaults), "synced_at": now.isoformat()}
    client.indices.put_mapping(index=index, body={"_meta": {**meta, "shelfrank": shelfrank}})
    client.indices.refresh(index=index)
    return SyncReport(index, len(changed) - missing - noop, len(stale) - gone, missing, dict(behaviour.defaults),
                      len(values) - len(changed) + noop)


def served_behaviour(client: OpenSearch, alias: str) -> ProductBehaviour:
    """What serving reads: the documents' fields, with the priors of the last sync (0.0 before any)."""
    index = physical_index(client, alias)
    if index is None:
        return document_behaviour({})
    meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    priors = meta.get("shelfrank", {}).get(META_KEY, {}).get("priors", {})
    return document_behaviour({k: float(v) for k, v in priors.items()})


def refresh_behaviour(settings: Settings, alias: str | None = None) -> SyncReport:
    """The behaviour refresh as every face runs it (CLI, worker): as of now, from the configured database."""
    url = settings.effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        return sync_behaviour(make_client(settings), alias or settings.default_index, session,
                              datetime.now(timezone.utc), tolerance=settings.behaviour_sync_tolerance)
