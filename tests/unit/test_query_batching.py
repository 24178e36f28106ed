"""Concurrent single-query encodes share forward passes, and get exactly their own vectors back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from encoders.batching import MicroBatchingEncoder
from encoders.identity import ModelIdentity


class SlowHashEncoder:
    """A vector per text derived from its hash; each forward pass takes a while (so callers pile up)."""

    identity = ModelIdentity(name="hash", weights_sha256="0" * 64, pooling="mean", dimension=8)
    dimension = 8

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        self.gate.wait(5)
        self.calls.append(len(texts))
        if any(t == "boom" for t in texts):
            raise RuntimeError("tokenizer exploded")
        return np.stack([np.random.default_rng(abs(hash(t)) % 2**32).random(8, dtype=np.float32) for t in texts])


def expected(text: str) -> np.ndarray:
    return np.random.default_rng(abs(hash(text)) % 2**32).random(8, dtype=np.float32)


def test_waiting_queries_are_encoded_together_and_each_gets_its_own_vector() -> None:
    inner = SlowHashEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=8)
    texts = [f"query {i}" for i in range(40)]
    with ThreadPoolExecutor(20) as pool:
        futures = [pool.submit(encoder.encode, [t]) for t in texts]
        inner.gate.set()  # the first pass was held: by now many callers are waiting
        vectors = [f.result() for f in futures]
    for text, vector in zip(texts, vectors):
        assert vector.shape == (1, 8) and np.array_equal(vector[0], expected(text))
    assert sum(inner.calls) == 40 and max(inner.calls) <= 8 and len(inner.calls) < 40
    assert encoder.batches == len(inner.calls) and encoder.texts == 40


def test_a_lone_query_waits_for_nobody_and_bulk_calls_bypass_the_queue() -> None:
    inner = SlowHashEncoder()
    inner.gate.set()
    encoder = MicroBatchingEncoder(inner)
    assert np.array_equal(encoder.encode(["drill"])[0], expected("drill"))
    assert encoder.encode(["a", "b", "c"]).shape == (3, 8) and inner.calls == [1, 3]
    assert encoder.dimension == 8 and encoder.identity is inner.identity


def test_a_failing_batch_fails_its_callers_and_the_encoder_keeps_working() -> None:
    inner = SlowHashEncoder()
    inner.gate.set()
    encoder = MicroBatchingEncoder(inner)
    with pytest.raises(RuntimeError, match="tokenizer exploded"):
        encoder.encode(["boom"])
    assert np.array_equal(encoder.encode(["drill"])[0], expected("drill"))


def test_closing_answers_what_is_queued_stops_the_thread_and_later_calls_encode_alone() -> None:
    """A process that switched models closes the old encoder: queries already waiting get their vectors, and a
    search that still holds it encodes without the (stopped) batching thread."""
    inner = SlowHashEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=4)
    texts = [f"query {i}" for i in range(10)]
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(encoder.encode, [t]) for t in texts]
        while encoder._queue.qsize() < 9:  # one is being encoded, the gate holds it; nine wait behind it
            threading.Event().wait(0.01)
        encoder.close()
        inner.gate.set()
        vectors = [f.result(timeout=5) for f in futures]
    assert all(np.array_equal(v[0], expected(t)) for t, v in zip(texts, vectors))
    encoder._thread.join(5)
    assert not encoder._thread.is_alive()
    assert np.array_equal(encoder.encode(["drill"])[0], expected("drill"))  # directly, not through the thread
    encoder.close()  # twice is fine
