"""A query encoder that follows the model of the live index's vectors.

A rebuild with a fine-tuned encoder (or a rollback to an older index) moves the alias to vectors of
another model. Queries encoded with the old one would still get answers, with cosines that mean
nothing. So a search process reads, every ``refresh_s`` seconds, which model the live index records,
and when it changes loads that model from a local folder (:mod:`encoders.registry`) in a background
thread: searches keep the encoder they have until the new one is ready, never wait for a load, and
a model no local folder holds is logged (throttled) while the old encoder keeps serving.
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


class LiveQueryEncoder:
    """:class:`QueryVectorCache`'s interface (``vector``, ``identity``), served by the encoder of the live
    index's model.

    ``live_model`` reads the identity the live index records (None: no index, or no record); ``locate``
    finds the local folder of a model (None: none has it); ``load`` builds the cached query encoder of a
    folder. Each search calls :meth:`vector` once, so one search uses one model.
    """

    def __init__(self, initial: QueryVectorCache, live_model: Callable[[], ModelIdentity | None],
                 locate: Callable[[ModelIdentity], Path | None], load: Callable[[Path], QueryVectorCache],
                 refresh_s: float = 30.0) -> None:
        self._active = initial
        self.live_model, self.locate, self.load, self.refresh_s = live_model, locate, load, refresh_s
        self._checked_at = time.monotonic()  # whoever built it has just read the live model
        self._lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._unavailable: dict[ModelIdentity, float] = {}  # model -> when no folder had it (or it failed)
        self._warn = ThrottledWarning(log, 300.0)

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

    def vector(self, query: str) -> np.ndarray:
        return self.current().vector(query)

    def current(self) -> QueryVectorCache:
        """The active query encoder; reads the live index's model first when ``refresh_s`` has passed."""
        if time.monotonic() - self._checked_at >= self.refresh_s:
            with self._lock:
                if time.monotonic() - self._checked_at >= self.refresh_s:
                    self._checked_at = time.monotonic()
                    self._check()
        return self._active

    def wait(self, timeout: float | None = None) -> None:
        """Until a load in progress has finished (tests, and a server's warm-up)."""
        loading = self._loading
        if loading is not None:
            loading.join(timeout)

    def _check(self) -> None:
        try:
            wanted = self.live_model()
        except Exception as exc:  # noqa: BLE001 - a node that does not answer now changes nothing
            self._warn("could not read the live index's model (%s: %s); queries stay encoded with %s",
                       exc.__class__.__name__, str(exc)[:200], self._active.identity.key)
            return
        if wanted is None or wanted == self._active.identity:
            return
        if self._loading is not None and self._loading.is_alive():
            return
        if time.monotonic() - self._unavailable.get(wanted, float("-inf")) < RETRY_MISSING_S:
            return
        self._loading = threading.Thread(target=self._switch, args=(wanted,), name="query-encoder-load", daemon=True)
        self._loading.start()

    def _switch(self, wanted: ModelIdentity) -> None:
        try:
            folder = self.locate(wanted)
            if folder is None:
                self._unavailable[wanted] = time.monotonic()
                self._warn("the live index holds vectors of %s, which no local model folder holds (SHELFRANK_MODEL_PATH, "
                           "the bundled model, SHELFRANK_ENCODERS_DIR); queries stay encoded with %s",
                           wanted.key, self._active.identity.key)
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
        previous, self._active = self._active.identity, loaded
        log.info("queries are now encoded with %s (from %s), the live index's model; before: %s", wanted.key,
                 folder, previous.key)
