"""A query encoder that follows the model of the live index's vectors.

A rebuild with a fine-tuned encoder (or a rollback to an older index) moves the alias to vectors of
another model. Queries encoded with the old one would still get answers, with cosines that mean
nothing. So a search process reads, every ``refresh_s`` seconds, which model the live index records,
and when it changes loads that model from a local folder (:mod:`encoders.registry`), both in a background
thread: searches keep the encoder they have until the new one is ready and never wait for the read or
the load, and a model no local folder holds is logged (throttled) while the old encoder keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.throttled_log import ThrottledWarning
from encoders.cache import QueryVectorCache
from encoders.identity import ModelIdentity

log = logging.getLogger(__name__)

#: How long a model that no local folder held (or that failed to load) is left alone before looking again:
#: a shop may copy the folder in later.
RETRY_MISSING_S = 300.0
#: How long a replaced encoder stays usable before it is closed: searches that took it just before the switch
#: finish with it (a search's whole budget is seconds).
RETIRE_AFTER_S = 60.0


class LiveQueryEncoder:
    """:class:`QueryVectorCache`'s interface (``vector``, ``identity``), served by the encoder of the live
    index's model.

    ``live_model`` reads the identity the live index records (None: no index, or no record); ``locate``
    finds the local folder of a model (None: none has it); ``load`` builds the cached query encoder of a
    folder. Reading and loading both run in a background thread, so no search waits for either; each
    search calls :meth:`vector` once, so one search uses one model. ``check_now``: read at the first
    search (the builder could not read the live model, or left the load to the background).
    """

    def __init__(self, initial: QueryVectorCache, live_model: Callable[[], ModelIdentity | None],
                 locate: Callable[[ModelIdentity], Path | None], load: Callable[[Path], QueryVectorCache],
                 refresh_s: float = 30.0, check_now: bool = False,
                 unavailable: ModelIdentity | None = None) -> None:
        self._active = initial
        self.live_model, self.locate, self.load, self.refresh_s = live_model, locate, load, refresh_s
        self._checked_at = float("-inf") if check_now else time.monotonic()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        #: model -> when no folder had it, or it failed to load
        self._unavailable: dict[ModelIdentity, float] = {} if unavailable is None else {unavailable: time.monotonic()}
        self._unreadable = ThrottledWarning(log, 300.0)
        self._missing = ThrottledWarning(log, 300.0)

    @property
    def identity(self) -> ModelIdentity:
        return self._active.identity

    @property
    def encoder(self):  # type: ignore[no-untyped-def]
        """The model under the active cache (benches encode cold queries with it)."""
        return self._active.encoder

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        return self._active.stats

    def clear(self) -> None:
        """Forget the cached query vectors (benches that time cold queries)."""
        self._active.clear()

    def vector(self, query: str) -> np.ndarray:
        return self.current().vector(query)

    def current(self) -> QueryVectorCache:
        """The active query encoder. When ``refresh_s`` has passed, a background thread reads the live index's
        model (and loads it if it changed); this search goes on with the active one."""
        if time.monotonic() - self._checked_at >= self.refresh_s:
            with self._lock:
                if time.monotonic() - self._checked_at >= self.refresh_s and not self._busy():
                    self._checked_at = time.monotonic()
                    self._worker = threading.Thread(target=self._refresh, name="query-encoder-follow", daemon=True)
                    self._worker.start()
        return self._active

    def wait(self, timeout: float | None = None) -> None:
        """Until a read or load in progress has finished (tests, benches)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def _busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def _read(self) -> ModelIdentity | None:
        try:
            return self.live_model()
        except Exception as exc:  # noqa: BLE001 - a node that does not answer now changes nothing
            self._unreadable("could not read the live index's model (%s: %s); queries stay encoded with %s",
                             exc.__class__.__name__, str(exc)[:200], self._active.identity.key)
            return None

    def _refresh(self) -> None:
        wanted = self._read()
        if wanted is None or wanted == self._active.identity:
            return
        if time.monotonic() - self._unavailable.get(wanted, float("-inf")) < RETRY_MISSING_S:
            return
        try:
            folder = self.locate(wanted)
            if folder is None:
                self._unavailable[wanted] = time.monotonic()
                self._missing("the live index holds vectors of %s, which no local model folder holds "
                              "(SHELFRANK_MODEL_PATH, the bundled model, SHELFRANK_ENCODERS_DIR); queries stay "
                              "encoded with %s", wanted.key, self._active.identity.key)
                return
            loaded = self.load(folder)
        except Exception as exc:  # noqa: BLE001 - the old encoder keeps serving
            self._unavailable[wanted] = time.monotonic()
            log.exception("loading the live index's model %s failed (%s); queries stay encoded with %s",
                          wanted.key, exc.__class__.__name__, self._active.identity.key)
            return
        if loaded.identity != wanted:
            self._unavailable[wanted] = time.monotonic()
            log.error("%s holds %s, not the live index's %s; queries stay encoded with %s", folder,
                      loaded.identity.key, wanted.key, self._active.identity.key)
            return
        if self._read() != wanted:  # the alias moved again while it loaded (a quick rollback): next time
            self._checked_at = float("-inf")
            return
        previous, self._active = self._active, loaded
        retire = threading.Timer(RETIRE_AFTER_S, previous.close)
        retire.daemon = True
        retire.start()
        log.info("queries are now encoded with %s (from %s), the live index's model; before: %s", wanted.key,
                 folder, previous.identity.key)
