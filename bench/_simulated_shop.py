"""Shared by the learning-to-rank benchmarks: a storefront recording into a fresh SQLite database,
and simulated shoppers whose events reach it through the same store as the events API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from _data import HOMEDEPOT

from core.db import migrate
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from encoders.cache import QueryVectorCache
from encoders.factory import load_encoder
from indexer.sources import read_catalog
from ltr.events.store import EventStore
from ltr.simulation.runner import Page, ShopperSimulator, SimQuery
from indexer.traits import common_brands
from storefront.recording import DatabaseImpressionRecorder
from storefront.factory import configured_retrieval
from storefront.request import SearchRequest
from storefront.service import SearchService

KEY = "bench"  # pseudonym key of the benchmark databases


def recording_service(settings: Settings, database: Path, index: str | None) -> tuple[SearchService, str]:
    """The storefront (hybrid-minmax by default) over the real node, recording into ``database``."""
    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    service = SearchService(make_client(settings), index or settings.default_index,
                            QueryVectorCache(load_encoder(settings), 50_000),
                            configured_retrieval(settings),
                            "hybrid-minmax", recorder=DatabaseImpressionRecorder(url, KEY))
    return service, url


def simulator(service: SearchService, url: str, queries: Sequence[str], grades: Mapping[str, Mapping[str, float]],
              **options) -> ShopperSimulator:  # type: ignore[no-untyped-def]
    """Shoppers who search through ``service`` and send their events into ``url``."""
    store = EventStore(KEY)

    def search(query: str, user: str, session: str, ranker: str) -> Page:
        result = service.search(SearchRequest(query=query, user_id=user, session_id=session, config=ranker))
        return Page(result.search_id, [(r["id"], r["title"]) for r in result.results])

    def send(events: list[dict]) -> dict:
        with session_scope(url) as session:
            return store.ingest(session, events).as_dict()

    brands = common_brands(p.title for p in read_catalog(HOMEDEPOT, "homedepot"))
    return ShopperSimulator([SimQuery(q, dict(grades[q])) for q in queries], brands, search, send, **options)
