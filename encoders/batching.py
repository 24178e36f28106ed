"""Encode concurrent storefront queries together: one forward pass for whatever is waiting.

Under load, many request threads of one server process need a query vector at the same moment.
Run one by one, each pays the model's fixed per-call cost, and their forward passes fight over
the same cores. :class:`MicroBatchingEncoder` gives the model to one thread: it takes every query
waiting (up to ``max_batch``) and encodes them as one padded batch, so throughput grows with load
while a lone query waits for nobody (the thread never holds a batch open for latecomers).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from encoders.base import TextEncoder


class MicroBatchingEncoder:
    """A :class:`~encoders.base.TextEncoder` whose single-text calls from many threads share batches.

    Calls with several texts (indexing, training) go straight to the wrapped encoder.
    """

    def __init__(self, encoder: TextEncoder, max_batch: int = 16) -> None:
        self.encoder = encoder
        self.identity = encoder.identity
        self.max_batch = max_batch
        self.batches = 0  # forward passes run for single-text calls, and the texts they carried
        self.texts = 0
        self._queue: queue.Queue[tuple[str, Future[np.ndarray]] | None] = queue.Queue()
        self._state = threading.Lock()  # orders close() after every text already queued
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="shelfrank-query-encoder", daemon=True)
        self._thread.start()

    @property
    def dimension(self) -> int:
        return self.encoder.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if len(texts) != 1:
            return self.encoder.encode(texts, batch_size=batch_size, progress=progress)
        future: Future[np.ndarray] = Future()
        with self._state:
            queued = not self._closed
            if queued:
                self._queue.put((texts[0], future))
        if not queued:  # closed (its process switched models): a search still holding it encodes alone
            return self.encoder.encode(texts, batch_size=1)
        return future.result()[None, :]

    def close(self) -> None:
        """Stop the batching thread once the texts already queued are encoded; later calls encode directly."""
        with self._state:
            if not self._closed:
                self._closed = True
                self._queue.put(None)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            waiting, closing = [first], False
            while len(waiting) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    closing = True
                    break
                waiting.append(item)
            try:
                vectors = self.encoder.encode([text for text, _ in waiting], batch_size=len(waiting))
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, future in waiting:
                    future.set_exception(exc)
            else:
                self.batches += 1
                self.texts += len(waiting)
                for (_, future), vector in zip(waiting, vectors):
                    future.set_result(vector)
            if closing:
                return
