"""Shopper profiles at serving time: the stored behaviour of one user, read when they search.

The profile is the same :class:`UserProfile` training builds (point in time = now), so the user
features a personalised model reads are computed alike in both. The traits of the products the
shopper interacted with come from the catalogue index (one ``mget``, cached). Profiles are cached
for ``ttl_seconds``: a shopper's tastes do not change between two result pages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timezone

from opensearchpy import OpenSearch

from core.db.session import session_scope
from core.privacy import pseudonymise
from ltr.features.loader import load_behaviour
from ltr.features.user import UserProfile
from indexer.traits import ProductTraits, traits_of
from storefront.rerank_stage import SearchContext


class _Lru(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:  # type: ignore[no-untyped-def]
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


TRAIT_FIELDS = ("title", "brand", "category")


class CatalogTraits:
    """Brand, department and price band of products, read from the catalogue index (cached)."""

    def __init__(self, client: OpenSearch, index: str, cache_size: int = 100_000) -> None:
        self.client, self.index = client, index
        self._cache: _Lru = _Lru(cache_size)
        self._lock = threading.Lock()

    def __call__(self, product_ids: Iterable[str]) -> dict[str, ProductTraits]:
        wanted = sorted(set(product_ids))
        with self._lock:
            known = {pid: self._cache[pid] for pid in wanted if pid in self._cache}
        missing = [pid for pid in wanted if pid not in known]
        for start in range(0, len(missing), 1000):
            chunk = missing[start:start + 1000]
            response = self.client.mget(index=self.index, body={"ids": chunk}, _source=",".join(TRAIT_FIELDS))
            for doc in response["docs"]:
                if not doc.get("found"):
                    continue  # deleted from the catalogue: its traits cast no vote
                source = doc.get("_source", {})
                known[doc["_id"]] = traits_of(doc["_id"], source.get("title"), source.get("brand"),
                                              source.get("category") or ())
        with self._lock:
            for pid in missing:
                if pid in known:
                    self._cache.put(pid, known[pid])
        return known


class StoredProfiles:
    """``profiles(context)`` for :class:`ltr.ranker.reranker.LtrReranker`, from the events database."""

    def __init__(self, database_url: str, pseudonym_key: str, traits: CatalogTraits, *,
                 ttl_seconds: float = 60.0, max_users: int = 10_000, half_life_days: float = 30.0) -> None:
        self.database_url, self.pseudonym_key, self.traits = database_url, pseudonym_key, traits
        self.ttl_seconds, self.half_life_days = ttl_seconds, half_life_days
        self._profiles: _Lru = _Lru(max_users)
        self._lock = threading.Lock()

    def __call__(self, context: SearchContext) -> UserProfile | None:
        if not context.user_id:
            return None
        key = (context.user_id, context.session_id)
        with self._lock:
            cached = self._profiles.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_seconds:
            return cached[1]
        profile = self.build(context.user_id, context.session_id, datetime.now(timezone.utc))
        with self._lock:
            self._profiles.put(key, (time.monotonic(), profile))
        return profile

    def build(self, user_id: str, session_id: str | None, at: datetime) -> UserProfile:
        user = pseudonymise(user_id, self.pseudonym_key)
        with session_scope(self.database_url) as session:
            log = load_behaviour(session, until=at, user_id=user)
        traits = self.traits(a.product_id for a in log.actions)
        return UserProfile.build(log, user, at, traits, session_id, half_life_days=self.half_life_days)
