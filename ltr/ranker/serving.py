"""Load the registry's active model as the storefront's rerank stage.

The storefront does not import learning to rank (it only knows the ``Reranker`` protocol); the
faces (API, CLI) build their service with :func:`storefront_service`, whose rerank stage follows
the registry: promotions and rollbacks reach a running API within seconds, without a restart.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from opensearchpy import OpenSearch
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.settings import Settings
from ltr.features.loader import load_behaviour
from ltr.ranker.artifacts import ArtifactError, load_artifact
from ltr.ranker.extract import FeatureExtractor, TextFeatureLogger, behaviour_snapshot
from ltr.ranker.profiles import CatalogTraits, StoredProfiles
from ltr.ranker.reranker import LtrReranker, ProfileSource, TraitsLookup
from ltr.registry import active_model
from storefront.factory import build_search_service
from storefront.rerank_stage import Candidate, NoopReranker, Reranker, SearchContext
from storefront.service import SearchService

log = logging.getLogger(__name__)


def reranker_for(folder: Path, name: str, session: Session, client: OpenSearch, index: str,
                 window: int, profiles: ProfileSource | None = None, traits: TraitsLookup | None = None) -> LtrReranker:
    artifact = load_artifact(folder)
    extractor = FeatureExtractor(artifact.featureset, TextFeatureLogger(client, index))
    now = datetime.now(timezone.utc)
    behaviour = behaviour_snapshot(load_behaviour(session, until=now), now)
    return LtrReranker(artifact.booster, extractor, name=name, window=window, behaviour=behaviour,
                       profiles=profiles, traits=traits)


def active_reranker(session: Session, client: OpenSearch, index: str, window: int,
                    profiles: ProfileSource | None = None, traits: TraitsLookup | None = None) -> LtrReranker | None:
    """The active model's reranker, or None (hybrid ranking) when none is active or it cannot load."""
    model = active_model(session)
    if model is None:
        return None
    try:
        return reranker_for(Path(model.artifact_path), model.name, session, client, index, window, profiles, traits)
    except (ArtifactError, OSError) as exc:
        log.error("active model %s cannot be loaded (%s); serving the hybrid ranking", model.name, exc)
        return None


class ActiveModelReranker:
    """The storefront's rerank stage: whatever model the registry says is active, followed live.

    Every ``refresh_seconds`` at most, one indexed query reads the active model's name; when it
    changed (a promotion or a rollback, from any process), the new model is loaded and swapped in
    with a single assignment. A search uses the reranker it started with from start to finish, so
    each response is ranked wholly by the old model or wholly by the new one, never a mix.
    """

    def __init__(self, settings: Settings, client: OpenSearch, index: str) -> None:
        self.settings, self.client, self.index = settings, client, index
        self.refresh_seconds = settings.rerank_model_refresh_seconds
        self.traits = CatalogTraits(client, index)
        self.profiles = StoredProfiles(settings.effective_database_url, settings.pseudonym_key, self.traits)
        self._current: Reranker = NoopReranker()
        self._active_name: str | None = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()
        self.refresh(force=True)

    @property
    def name(self) -> str:
        return self._current.name

    @property
    def current(self) -> Reranker:
        self.refresh()
        return self._current

    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if not force and time.monotonic() - self._checked_at < self.refresh_seconds:
                return
            self._checked_at = time.monotonic()
            url = self.settings.effective_database_url
            try:
                migrate.ensure_current(url)
            except migrate.DatabaseNotReady:
                return  # no registry yet: nothing can be active
            with session_scope(url) as session:
                model = active_model(session)
                name = model.name if model is not None else None
                if name == self._active_name:
                    return
                reranker = active_reranker(session, self.client, self.index, self.settings.rerank_window,
                                           self.profiles, self.traits) if model is not None else None
            self._current = reranker or NoopReranker()
            self._active_name = name

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        return self.current.rerank(query, candidates, context)

    def explain(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[dict]:
        return self._current.explain(query, candidates, context)


def storefront_service(settings: Settings, index: str | None = None, record: bool = True) -> SearchService:
    """The search service as shoppers get it: hybrid retrieval, reranked by the active model if any."""
    service = build_search_service(settings, index, record=record)
    service.reranker = ActiveModelReranker(settings, service.client, service.index)
    return service
