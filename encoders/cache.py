"""Never encode the same text twice with the same model.

:class:`EmbeddingCache` persists vectors in SQLite, keyed by (model identity, SHA-256
of the text), so a rebuild or a sync re-encodes only products whose text changed.
:class:`QueryVectorCache` is a small in-process LRU for storefront queries.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from encoders.base import TextEncoder
from encoders.identity import ModelIdentity


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class EmbeddingCache:
    """A SQLite file of float32 vectors; safe to share between processes (SQLite locking)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._connection() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
                "vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID"
            )

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
        return connection

    def get_many(self, model: ModelIdentity, digests: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        db = self._connection()
        for start in range(0, len(digests), 500):
            chunk = list(digests[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT text_sha256, vector FROM embeddings WHERE model = ? AND text_sha256 IN ({marks})",
                [model.key, *chunk],
            )
            for digest, blob in rows:
                found[digest] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: ModelIdentity, items: dict[str, np.ndarray]) -> None:
        with self._connection() as db:
            db.executemany(
                "INSERT OR REPLACE INTO embeddings (model, text_sha256, vector) VALUES (?, ?, ?)",
                [(model.key, digest, np.asarray(vector, dtype=np.float32).tobytes()) for digest, vector in items.items()],
            )


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0


class CachedEncoder:
    """An encoder that consults an :class:`EmbeddingCache` first and encodes only the misses."""

    def __init__(self, encoder: TextEncoder, cache: EmbeddingCache) -> None:
        self.encoder = encoder
        self.cache = cache
        self.identity = encoder.identity
        self.stats = CacheStats()

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        digests = [_digest(t) for t in texts]
        cached = self.cache.get_many(self.identity, list(dict.fromkeys(digests)))
        missing = list(dict.fromkeys(t for t, d in zip(texts, digests) if d not in cached))
        self.stats.hits += len(texts) - len(missing)  # texts served without running the model
        self.stats.misses += len(missing)
        if missing:
            fresh = self.encoder.encode(missing, batch_size=batch_size, progress=progress)
            new = {_digest(t): v for t, v in zip(missing, fresh)}
            self.cache.put_many(self.identity, new)
            cached.update(new)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, digest in enumerate(digests):
            out[row] = cached[digest]
        return out


class QueryVectorCache:
    """LRU of query text -> vector, for the storefront path where the same queries repeat."""

    def __init__(self, encoder: TextEncoder, capacity: int = 10_000) -> None:
        self.encoder = encoder
        self.identity = encoder.identity  # whose vectors these are (storefront.encoder_check)
        self.capacity = capacity
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def close(self) -> None:
        """Release what the encoder under it holds (a micro-batching thread), once nobody uses it."""
        close = getattr(self.encoder, "close", None)
        if close is not None:
            close()

    def vector(self, query: str) -> np.ndarray:
        key = " ".join(query.lower().split())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.stats.hits += 1
                return self._items[key]
        vector = self.encoder.encode([key])[0]
        with self._lock:
            self.stats.misses += 1
            self._items[key] = vector
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return vector
