from pathlib import Path

import numpy as np

from encoders.cache import CachedEncoder, EmbeddingCache, QueryVectorCache
from encoders.identity import ModelIdentity


class CountingEncoder:
    """Deterministic stand-in encoder: the cache logic is what is under test here."""

    def __init__(self, name: str = "fake") -> None:
        self.identity = ModelIdentity(name, "0" * 64, "mean", 4)
        self.calls: list[str] = []

    @property
    def dimension(self) -> int:
        return 4

    def encode(self, texts, batch_size=64, progress=False):  # type: ignore[no-untyped-def]
        self.calls.extend(texts)
        rows = [np.array([len(t), t.count("a"), 1.0, 0.0], dtype=np.float32) for t in texts]
        return np.stack([r / np.linalg.norm(r) for r in rows]) if rows else np.empty((0, 4), np.float32)


def test_only_unseen_texts_are_encoded_and_order_is_kept(tmp_path: Path) -> None:
    inner = CountingEncoder()
    encoder = CachedEncoder(inner, EmbeddingCache(tmp_path / "cache.sqlite"))
    first = encoder.encode(["drill", "hammer", "drill"])
    assert inner.calls == ["drill", "hammer"]
    np.testing.assert_array_equal(first[0], first[2])
    second = encoder.encode(["hammer", "saw", "drill"])
    assert inner.calls == ["drill", "hammer", "saw"]
    np.testing.assert_array_equal(second[0], first[1])
    assert (encoder.stats.hits, encoder.stats.misses) == (3, 3)


def test_cache_persists_and_is_keyed_by_model(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    CachedEncoder(CountingEncoder(), EmbeddingCache(path)).encode(["drill"])
    again = CountingEncoder()
    CachedEncoder(again, EmbeddingCache(path)).encode(["drill"])
    assert again.calls == []
    other_model = CountingEncoder("other")
    CachedEncoder(other_model, EmbeddingCache(path)).encode(["drill"])
    assert other_model.calls == ["drill"]


def test_query_vector_cache_is_a_bounded_lru() -> None:
    inner = CountingEncoder()
    cache = QueryVectorCache(inner, capacity=2)
    cache.vector("Drill")
    cache.vector("drill ")  # same normalised query
    cache.vector("saw")
    cache.vector("paint")  # evicts "drill"
    cache.vector("drill")
    assert inner.calls == ["drill", "saw", "paint", "drill"]
    assert cache.stats.hits == 1
