"""Product behaviour onto the catalogue's documents, where the featureset's script features read it.

``shelfrank index behaviour`` (and the hourly worker task) computes every product's behaviour
features as of now from the events database and writes them with partial updates: no re-encoding,
no new index, the alias untouched. Products whose history is gone (the events' retention purge)
lose their values: the script then reads the priors, which live in the index's ``_meta`` next to
the time of the sync. The values are computed as training's point-in-time snapshot computes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from opensearchpy import OpenSearch, helpers
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer import schema
from indexer.derived_fields import partial_update
from indexer.mapping import behaviour_properties
from indexer.segments import Compaction, compact
from indexer.versions import physical_index
from ltr.features.loader import load_behaviour
from ltr.ranker.extract import ProductBehaviour, behaviour_snapshot, document_behaviour

META_KEY = schema.BEHAVIOUR_META_KEY


class BehaviourSyncError(RuntimeError):
    """The behaviour could not be written; the message says what to do."""


@dataclass(frozen=True)
class SyncReport:
    index: str
    updated: int  # products given (new) behaviour values
    cleared: int  # products whose values left the window
    missing: int  # products with history that are no longer in the catalogue
    priors: dict[str, float]
    compaction: Compaction | None = None  # the merge of the segments the rewrites left (indexer.segments)


def _updates(index: str, behaviour: ProductBehaviour, stale: set[str]) -> Iterator[dict]:
    for pid, values in behaviour.values.items():
        doc = {column: float(values.get(name, behaviour.defaults.get(name, 0.0)))
               for name, column in schema.BEHAVIOUR_FIELDS.items()}
        yield partial_update(index, pid, doc)
    for pid in stale:
        yield partial_update(index, pid, {column: None for column in schema.BEHAVIOUR_FIELDS.values()})


def _with_behaviour(client: OpenSearch, index: str) -> set[str]:
    column = next(iter(schema.BEHAVIOUR_FIELDS.values()))
    hits = helpers.scan(client, index=index, query={"query": {"exists": {"field": column}}, "_source": False})
    return {hit["_id"] for hit in hits}


def sync_behaviour(client: OpenSearch, alias: str, session: Session, now: datetime,
                   window_days: float = 30.0) -> SyncReport:
    """Write the behaviour as of ``now`` onto the live index behind ``alias``."""
    index = physical_index(client, alias)
    if index is None:
        raise BehaviourSyncError(f"no catalogue index behind {alias!r}; build one first (shelfrank index rebuild)")
    behaviour = behaviour_snapshot(load_behaviour(session, until=now), now, window_days)
    client.indices.put_mapping(index=index, body={"properties": behaviour_properties()})
    stale = _with_behaviour(client, index) - set(behaviour.values)
    missing = 0
    for ok, item in helpers.streaming_bulk(client, _updates(index, behaviour, stale), raise_on_error=False,
                                           chunk_size=500):
        if not ok:
            status = next(iter(item.values())).get("status")
            if status != 404:
                raise BehaviourSyncError(f"behaviour update failed: {item}")
            missing += 1
    meta = client.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
    shelfrank = dict(meta.get("shelfrank", {}))
    shelfrank[META_KEY] = {"priors": dict(behaviour.defaults), "synced_at": now.isoformat()}
    client.indices.put_mapping(index=index, body={"_meta": {**meta, "shelfrank": shelfrank}})
    client.indices.refresh(index=index)
    return SyncReport(index, len(behaviour.values) - missing, len(stale), missing, dict(behaviour.defaults))


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
    client = make_client(settings)
    with session_scope(url) as session:
        report = sync_behaviour(client, alias or settings.default_index, session, datetime.now(timezone.utc))
    return replace(report, compaction=compact(client, report.index, settings))
