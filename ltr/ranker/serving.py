"""Load the registry's active model as the storefront's rerank stage.

The storefront does not import learning to rank (it only knows the ``Reranker`` protocol); the
faces (API, CLI) call :func:`active_reranker` and hand the result to the search service.
"""

from __future__ import annotations

import logging
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
from ltr.ranker.reranker import LtrReranker
from ltr.registry import active_model
from storefront.factory import build_search_service
from storefront.service import SearchService

log = logging.getLogger(__name__)


def reranker_for(folder: Path, name: str, session: Session, client: OpenSearch, index: str,
                 window: int) -> LtrReranker:
    artifact = load_artifact(folder)
    extractor = FeatureExtractor(artifact.featureset, TextFeatureLogger(client, index))
    now = datetime.now(timezone.utc)
    behaviour = behaviour_snapshot(load_behaviour(session, until=now), now)
    return LtrReranker(artifact.booster, extractor, name=name, window=window, behaviour=behaviour)


def active_reranker(session: Session, client: OpenSearch, index: str, window: int) -> LtrReranker | None:
    """The active model's reranker, or None (hybrid ranking) when none is active or it cannot load."""
    model = active_model(session)
    if model is None:
        return None
    try:
        return reranker_for(Path(model.artifact_path), model.name, session, client, index, window)
    except (ArtifactError, OSError) as exc:
        log.error("active model %s cannot be loaded (%s); serving the hybrid ranking", model.name, exc)
        return None


def storefront_service(settings: Settings, index: str | None = None, record: bool = True) -> SearchService:
    """The search service as shoppers get it: hybrid retrieval, reranked by the active model if any."""
    service = build_search_service(settings, index, record=record)
    url = settings.effective_database_url
    try:
        migrate.ensure_current(url)
    except migrate.DatabaseNotReady:
        return service  # no registry yet: nothing can be active
    with session_scope(url) as session:
        reranker = active_reranker(session, service.client, service.index, settings.rerank_window)
    if reranker is not None:
        service.reranker = reranker
    return service
