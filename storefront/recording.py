"""Record what every search showed (search + impressions) so clicks can later be attributed.

A search must never wait for, or fail because of, the metadata database: the storefront hands
each served page to a :class:`BufferedRecorder`, a bounded in-memory queue that a background
thread writes in batches (one transaction per batch). When the buffer is full the page is
dropped, counted and logged, never blocking the search. Closing the recorder (a clean shutdown)
writes everything still buffered. :class:`DatabaseImpressionRecorder` is the synchronous writer
underneath, used directly where a caller wants the row written before it goes on (the CLI).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy.exc import SQLAlchemyError

from core.db.models import Search
from core.db.searches import existing, insert_searches
from core.db.session import session_scope
from core.privacy import pseudonymise
from core.queries import normalize_query
from core.throttled_log import ThrottledWarning
from storefront.request import SearchRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedPage:
    """One answered search as it will be stored: taken at answer time, written later."""

    search_id: str
    request: SearchRequest
    config: str
    model_version: str | None
    shown: tuple[tuple[str, int], ...]  # (product id, 1-based position)
    served_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    explored: frozenset[int] = frozenset()  # the positions of ``shown`` that were exploration slots


class DatabaseImpressionRecorder:
    """Writes ``searches`` rows and their ``impressions``: one page per call, or a batch in one transaction."""

    def __init__(self, database_url: str, pseudonym_key: str) -> None:
        self.database_url = database_url
        self.pseudonym_key = pseudonym_key

    def __call__(self, search_id: str, request: SearchRequest, config: str, model_version: str | None,
                 shown: list[tuple[str, int]], *, explored: Collection[int] = ()) -> None:
        self.write([ServedPage(search_id, request, config, model_version, tuple(shown),
                               explored=frozenset(explored))])

    def write(self, pages: Sequence[ServedPage]) -> None:
        """Store ``pages`` in one transaction; a search id already stored (replayed as an event) is skipped."""
        with session_scope(self.database_url) as session:
            stored = existing(session, Search.search_id, (p.search_id for p in pages))
            searches, impressions = [], []
            for page in pages:
                if page.search_id in stored:
                    continue
                stored.add(page.search_id)
                request = page.request
                searches.append({
                    "search_id": page.search_id, "query": request.query,
                    "normalized_query": normalize_query(request.query),
                    "user_id": pseudonymise(request.user_id, self.pseudonym_key) if request.user_id else None,
                    "session_id": request.session_id, "config": page.config, "model_version": page.model_version,
                    "source": "storefront", "created_at": page.served_at})
                impressions.extend({"search_id": page.search_id, "product_id": pid, "position": pos,
                                    "page": request.page, "explored": pos in page.explored} for pid, pos in page.shown)
            insert_searches(session, searches, impressions)


@dataclass
class RecorderStats:
    written: int = 0  # pages stored
    dropped: int = 0  # pages refused because the buffer was full (or the recorder closed)
    failed_writes: int = 0  # batch writes that raised (retried until they succeed or the recorder closes)
    lost: int = 0  # pages still unwritten when a closing recorder gave up on the database


class BufferedRecorder:
    """An :data:`~storefront.service.ImpressionRecorder` that never blocks: queue now, write in batches.

    ``write`` receives a list of :class:`ServedPage` and stores them in one transaction. A failing
    write (the database locked past its busy timeout, PostgreSQL restarting) is retried with
    backoff, so pages are not lost to a short outage; meanwhile new pages fill the queue and,
    once it is full, are dropped and counted.
    """

    def __init__(self, write: Callable[[list[ServedPage]], None], *, capacity: int = 20_000,
                 batch_size: int = 500, flush_interval_s: float = 0.5, retry_max_s: float = 5.0) -> None:
        self._write = write
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.retry_max_s = retry_max_s
        self.stats = RecorderStats()
        self._queue: queue.Queue[ServedPage] = queue.Queue(maxsize=capacity)
        self._closing = threading.Event()
        self._give_up_at = float("inf")
        self._stats_lock = threading.Lock()
        self._warn_drop = ThrottledWarning(log)  # one line per 10 s, not one per search
        self._thread = threading.Thread(target=self._run, name="shelfrank-recorder", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def __call__(self, search_id: str, request: SearchRequest, config: str, model_version: str | None,
                 shown: list[tuple[str, int]], *, explored: Collection[int] = ()) -> None:
        page = ServedPage(search_id, request, config, model_version, tuple(shown), explored=frozenset(explored))
        if self._closing.is_set():
            self._drop("the recorder is closed")
            return
        try:
            self._queue.put_nowait(page)
        except queue.Full:
            self._drop("the buffer is full")

    def _drop(self, why: str) -> None:
        with self._stats_lock:
            self.stats.dropped += 1
            dropped = self.stats.dropped
        self._warn_drop("impressions of a search were not recorded (%s); %d dropped so far", why, dropped)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued so far is written; False if that took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop accepting, write what is buffered (giving the database ``timeout_s``), stop the thread."""
        if self._closing.is_set():
            return
        self._give_up_at = time.monotonic() + timeout_s
        self._closing.set()
        self._thread.join(timeout_s + 1.0)
        left = self._queue.qsize()
        if left:
            with self._stats_lock:
                self.stats.lost += left
            log.error("closing the recorder: %d searches could not be written in %.0f s and are lost", left,
                      timeout_s)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self._write_with_retry(batch)
            elif self._closing.is_set():
                return

    def _next_batch(self) -> list[ServedPage]:
        """Up to ``batch_size`` pages: waits at most ``flush_interval_s`` for the first, never for the rest."""
        try:
            batch = [self._queue.get(timeout=0.05 if self._closing.is_set() else self.flush_interval_s)]
        except queue.Empty:
            return []
        while len(batch) < self.batch_size:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_with_retry(self, batch: list[ServedPage]) -> None:
        delay = 0.1
        while True:
            try:
                self._write(batch)
            except (SQLAlchemyError, OSError) as exc:
                with self._stats_lock:
                    self.stats.failed_writes += 1
                if self._closing.is_set() and time.monotonic() + delay > self._give_up_at:
                    with self._stats_lock:
                        self.stats.lost += len(batch)
                    log.error("closing the recorder: %d searches lost (%s)", len(batch), exc)
                    self._done(batch)
                    return
                log.warning("writing %d searches failed (%s: %s); retrying in %.1f s", len(batch),
                            exc.__class__.__name__, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            with self._stats_lock:
                self.stats.written += len(batch)
            self._done(batch)
            return

    def _done(self, batch: list[ServedPage]) -> None:
        for _ in batch:
            self._queue.task_done()
