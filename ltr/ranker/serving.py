"""Load the registry's active model as the storefront's rerank stage.

The storefront does not import learning to rank (it only knows the ``Reranker`` protocol); the
faces (API, CLI) build their service with :func:`storefront_service`, whose rerank stage follows
the registry: promotions and rollbacks reach a running API within seconds, without a restart.
With ``SHELFRANK_RERANK_ENGINE=opensearch`` (the default) the model scores inside the engine, and a
model the feature store has lost is reported (run ``shelfrank models sync``) while the storefront
serves the hybrid ranking: searches keep being answered.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.secrets import pseudonym_key
from core.settings import Settings
from ltr.behaviour_sync import served_behaviour
from ltr.ranker.artifacts import ArtifactError, load_artifact
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, QueryVectors
from ltr.ranker.profiles import CatalogTraits, StoredProfiles
from ltr.ranker.reranker import EngineReranker, LtrReranker, ProfileSource
from ltr.registry import active_model
from ltr.store import FeatureStore, FeatureStoreError
from storefront.factory import build_search_service
from storefront.rerank_stage import Candidate, NoopReranker, Reranker, SearchContext
from storefront.service import SearchService

log = logging.getLogger(__name__)


def reranker_for(folder: Path, name: str, client: OpenSearch, index: str, window: int, *,
                 engine: str = "opensearch", profiles: ProfileSource | None = None,
                 query_vectors: QueryVectors | None = None, retriever_window: int = 0) -> LtrReranker:
    """The reranker of one model folder; ``engine`` opensearch needs the model in the feature store.
    ``query_vectors``: the storefront's query encoder, for featuresets that read the query vector."""
    artifact = load_artifact(folder)
    store = FeatureStore(client, index)
    try:
        extractor = FeatureExtractor(artifact.featureset, EngineFeatureLogger(client, index, store), query_vectors)
    except ValueError as exc:
        raise ArtifactError(f"model {name}: {exc}") from exc
    behaviour = served_behaviour(client, index)
    if engine == "python":
        return LtrReranker(artifact.booster, extractor, name=name, window=window, behaviour=behaviour,
                           profiles=profiles, retriever_window=retriever_window)
    if not store.has_model(name):
        raise FeatureStoreError(f"model {name} is active but missing from feature store {store.name} (a wiped "
                                f"node or a restored snapshot?); repair it with `shelfrank models sync --index {index}`")
    return EngineReranker(artifact.booster, extractor, name=name, window=window, behaviour=behaviour,
                          profiles=profiles, client=client, index=index, store=store,
                          retriever_window=retriever_window)


def active_reranker(session: Session, client: OpenSearch, index: str, window: int, engine: str = "opensearch",
                    profiles: ProfileSource | None = None, query_vectors: QueryVectors | None = None,
                    retriever_window: int = 0) -> LtrReranker | None:
    """The active model's reranker, or None (hybrid ranking) when none is active or it cannot load."""
    model = active_model(session)
    if model is None:
        return None
    try:
        return reranker_for(Path(model.artifact_path), model.name, client, index, window, engine=engine,
                            profiles=profiles, query_vectors=query_vectors, retriever_window=retriever_window)
    except (ArtifactError, FeatureStoreError, OSError, TransportError) as exc:
        log.error("active model %s cannot be served (%s); serving the hybrid ranking", model.name, exc)
        return None


class ActiveModelReranker:
    """The storefront's rerank stage: whatever model the registry says is active, followed live.

    Every ``refresh_seconds`` at most, one indexed query reads the active model's name; when it
    changed (a promotion or a rollback, from any process), the new model is loaded and swapped in
    with a single assignment. The search service takes :meth:`current` once per search and uses it
    from start to finish, so each response is ranked, explained and recorded wholly by the old model
    or wholly by the new one, never a mix.
    """

    def __init__(self, settings: Settings, client: OpenSearch, index: str,
                 query_vectors: QueryVectors | None = None) -> None:
        self.settings, self.client, self.index = settings, client, index
        self.query_vectors = query_vectors
        self.refresh_seconds = settings.rerank_model_refresh_seconds
        self.traits = CatalogTraits(client, index)
        self.profiles = StoredProfiles(settings.effective_database_url, pseudonym_key(settings), self.traits)
        self._current: Reranker = NoopReranker()
        self._active_name: str | None = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()
        self.refresh(force=True)

    @property
    def name(self) -> str:
        return self._current.name

    def current(self) -> Reranker:
        """The reranker one search uses from start to finish (checking the registry first if it is time)."""
        self.refresh()
        return self._current

    def refresh(self, force: bool = False) -> None:
        """Follow the registry; a registry that cannot be read now (the database locked or restarting)
        keeps the current model and is asked again at the next check: searches never wait on it."""
        if not force and time.monotonic() - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if not force and time.monotonic() - self._checked_at < self.refresh_seconds:
                return
            self._checked_at = time.monotonic()
            try:
                self._follow_registry()
            except SQLAlchemyError as exc:
                log.warning("the model registry cannot be read (%s); still serving %s", exc.__class__.__name__,
                            self._current.name)

    def _follow_registry(self) -> None:
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
                                       self.settings.rerank_engine,
                                       self.profiles, self.query_vectors,
                                       self.settings.rerank_retriever_window) if model is not None else None
        self._current = reranker or NoopReranker()
        # A model that could not be served is retried at the next check (after `models sync`, say).
        self._active_name = name if reranker is not None or model is None else None


def storefront_service(settings: Settings, index: str | None = None, record: bool = True,
                       serving: bool = False) -> SearchService:
    """The search service as shoppers get it: hybrid retrieval, reranked by the active model if any
    (``serving``: as the API server runs it, see :func:`storefront.factory.build_search_service`)."""
    service = build_search_service(settings, index, record=record, serving=serving)
    service.reranker = ActiveModelReranker(settings, service.client, service.index, service.encoder.vector)
    return service
