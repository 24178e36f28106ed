"""Promotion, rollback and repair of served models: the registry and the engine's feature store together.

The registry says which model is active; the feature store must hold it, or the engine cannot
score. So every change uploads before it switches: ``promote`` uploads the candidate, gates it
against the engine, and only then lets the registry activate it; ``rollback`` makes sure the model
it brings back is in the store first; retired models beyond the retention count leave the store;
``sync_models`` repairs a store that lost models (a wiped node, a restored snapshot) from the
registry's artifacts. After every switch the stored search template follows the served model. A model
whose featureset reads the query history is served the history it was trained on: the gate writes it
onto the documents before checking parity (a refused model's history is replaced by the active
one's again), and a rollback writes the reactivated model's. Faces (CLI, console, workers) call these
functions and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db.models import RankingModel, Search
from core.db.session import session_scope
from core.settings import Settings
from ltr import registry, search_template
from ltr.behaviour_sync import served_behaviour
from ltr.history_sync import HistoryReport, HistorySyncError, documents_with_history, sync_history
from ltr.ranker.artifacts import ArtifactError, ModelArtifact, load_artifact
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, QueryVectors
from ltr.ranker.gate import parity_gate
from ltr.ranker.reranker import EngineReranker
from ltr.registry import GateResult, RegistryError
from ltr.store import FeatureStore, FeatureStoreError
from storefront.rerank_stage import Candidate

log = logging.getLogger(__name__)
SAMPLE_QUERIES = 50
CandidateSource = Callable[[str], list[Candidate]]


def sample_queries(session: Session, meta: dict, limit: int = SAMPLE_QUERIES) -> list[str]:
    """The most searched stored queries; in a database without searches, what the model was trained on."""
    stored = list(session.scalars(select(Search.normalized_query).group_by(Search.normalized_query)
                                  .order_by(func.count().desc()).limit(limit)))
    return stored or list(meta.get("sample_queries", []))[:limit]


def serve_history(client: OpenSearch, index: str, artifact: ModelArtifact) -> HistoryReport | None:
    """Write the query history ``artifact`` was trained on onto the documents behind ``index``; None when
    its featureset reads no history or it keeps none (trained before artifacts kept it)."""
    if not serves_history(artifact):
        return None
    assert artifact.history is not None
    return sync_history(client, index, artifact.history)


def serves_history(artifact: ModelArtifact) -> bool:
    """Whether serving ``artifact`` writes a query history onto the documents."""
    return bool(artifact.featureset.of_source("history")) and artifact.history is not None


def engine_gate(session: Session, client: OpenSearch, index: str, model: RankingModel,
                candidates: CandidateSource, window: int, query_vectors: QueryVectors | None = None) -> GateResult:
    """Upload ``model`` to the store, write the query history it reads, and check the engine scores like
    LightGBM; a refused model that was not in the store before is removed from it again, and the
    documents get the active model's history back."""
    files = registry.artifact_gate(model)
    if not files.passed:
        return files
    try:
        artifact = load_artifact(Path(model.artifact_path))
    except ArtifactError as exc:
        return GateResult(False, 0, 0.0, [], str(exc))
    if (artifact.featureset.of_source("history") and artifact.history is None
            and not documents_with_history(client, index)):
        return GateResult(False, 0, 0.0, [], f"model {model.name} reads the query history, keeps none, and no "
                          f"product of {index} has one: it would be served zeros; write it first with "
                          "`shelfrank index history`")
    store = FeatureStore(client, index)
    try:
        uploaded = store.upload_model(model.name, artifact.featureset, artifact.plugin_trees)
    except FeatureStoreError as exc:
        return GateResult(False, 0, 0.0, [], str(exc))
    result = GateResult(False, 0, 0.0, [], "the parity check did not finish")
    try:
        result = _engine_parity(session, client, index, model, artifact, store, candidates, window, query_vectors)
    finally:
        if not result.passed:
            if uploaded:
                store.delete_model(model.name)
            if serves_history(artifact):
                restore_active_history(session, client, index)
    return result


def _engine_parity(session: Session, client: OpenSearch, index: str, model: RankingModel, artifact: ModelArtifact,
                   store: FeatureStore, candidates: CandidateSource, window: int,
                   query_vectors: QueryVectors | None) -> GateResult:
    try:
        serve_history(client, index, artifact)
    except (HistorySyncError, TransportError) as exc:
        return GateResult(False, 0, 0.0, [], f"the query history of {model.name} could not be written: {exc}")
    try:
        extractor = FeatureExtractor(artifact.featureset, EngineFeatureLogger(client, index, store), query_vectors)
    except ValueError as exc:
        return GateResult(False, 0, 0.0, [], str(exc))
    behaviour = served_behaviour(client, index)
    scorer = EngineReranker(artifact.booster, extractor, name=model.name, window=window, behaviour=behaviour,
                            client=client, index=index, store=store)
    return parity_gate(artifact, sample_queries(session, artifact.meta), candidates, extractor, behaviour,
                       engine=scorer.engine_scores, window=window)


def restore_active_history(session: Session, client: OpenSearch, index: str) -> HistoryReport | None:
    """Write the active model's query history again (after a refused candidate wrote its own). A failure is
    logged, not raised: the refusal it follows is the news, and ``shelfrank index history --active-model``
    repairs the documents."""
    active = registry.active_model(session)
    if active is None:
        return None
    try:
        return serve_history(client, index, load_artifact(Path(active.artifact_path)))
    except (ArtifactError, HistorySyncError, TransportError, OSError) as exc:
        log.warning("the query history of active model %s could not be written back: %s", active.name, exc)
        return None


def settings_gate(settings: Settings, index: str | None = None) -> registry.Gate:
    """The promotion gate of the configured shop, for every face (CLI, worker, demo, console): the
    parity gate of :func:`engine_gate` against ``index``'s feature store (default: the configured alias)."""
    from storefront.factory import build_search_service

    def gate(model: RankingModel) -> GateResult:
        service = build_search_service(settings, index, record=False)
        with session_scope(settings.effective_database_url) as session:
            return engine_gate(session, service.client, service.index, model, service.candidates,
                               settings.rerank_window, service.encoder.vector)

    return gate


@dataclass
class StoreChanges:
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "name: why"
    template: str = ""  # what the stored search template now serves, and why


def _served_or_kept(session: Session, keep_retired: int) -> tuple[list[RankingModel], list[RankingModel]]:
    """(models the store must hold: the active one and the most recently retired, the rest)."""
    retired = list(session.scalars(select(RankingModel).where(RankingModel.status == registry.RETIRED)
                                   .order_by(RankingModel.retired_at.desc(), RankingModel.id.desc())))
    active = registry.active_model(session)
    keep = ([active] if active else []) + retired[:keep_retired]
    return keep, retired[keep_retired:]


def prune_store(session: Session, client: OpenSearch, index: str, keep_retired: int) -> StoreChanges:
    """Delete from the store the retired models beyond the retention count (the registry keeps them)."""
    changes = StoreChanges()
    store = FeatureStore(client, index)
    _keep, drop = _served_or_kept(session, keep_retired)
    for model in drop:
        if store.delete_model(model.name):
            changes.deleted.append(model.name)
    return changes


def _ensure_uploaded(store: FeatureStore, model: RankingModel) -> bool:
    artifact = load_artifact(Path(model.artifact_path))
    return store.upload_model(model.name, artifact.featureset, artifact.plugin_trees)


def sync_models(session: Session, client: OpenSearch, index: str, keep_retired: int,
                default_index: str | None = None, window: int = 200) -> StoreChanges:
    """Upload from their artifacts the served and retained models the store lacks; prune the others; and
    rewrite the search template (a wiped node loses it with the models)."""
    changes = prune_store(session, client, index, keep_retired)
    store = FeatureStore(client, index)
    keep, _drop = _served_or_kept(session, keep_retired)
    for model in keep:
        try:
            if _ensure_uploaded(store, model):
                changes.uploaded.append(model.name)
        except (ArtifactError, FeatureStoreError, OSError) as exc:
            changes.failed.append(f"{model.name}: {exc}")
    changes.template = rewrite_template(session, client, index, default_index or index, window, changes.failed)
    return changes


def sync_search_template(session: Session, client: OpenSearch, index: str, default_index: str,
                         window: int) -> search_template.TemplatePlan:
    """Rewrite the catalogue's stored search template for the model served now (see
    :mod:`ltr.search_template`); the behaviour priors are the documents' current ones."""
    model = registry.active_model(session)
    featureset, priors = None, ()
    if model is not None:
        featureset = load_artifact(Path(model.artifact_path)).featureset
        defaults = served_behaviour(client, index).defaults
        priors = tuple(float(defaults.get(spec.name, 0.0)) for spec in featureset.of_source("product"))
    plan = search_template.plan(model.name if model else None, featureset, FeatureStore(client, index).name,
                                window, TEMPLATE_KNN_K, TEMPLATE_KNN_BOOST, priors)
    search_template.install(client, search_template.template_id(index, default_index), plan)
    return plan


def rewrite_template(session: Session, client: OpenSearch, index: str, default_index: str, window: int,
                     failed: list[str] | None = None) -> str:
    """:func:`sync_search_template` for the callers whose own work stands even if the template cannot be
    written (the switch, the repair, the behaviour refresh): what it serves now, or why it was not rewritten
    (also appended to ``failed``)."""
    try:
        return sync_search_template(session, client, index, default_index, window).reason
    except (ArtifactError, OSError, TransportError) as exc:
        if failed is not None:
            failed.append(f"search template: {exc}")
        return f"not rewritten: {exc}"


#: The template's k-NN clause: as deep as the storefront's, and boosted so that its (1 + cosine) / 2 scores
#: weigh like a BM25 score in the window the model reranks.
TEMPLATE_KNN_K = 100
TEMPLATE_KNN_BOOST = 10.0


def after_switch(session: Session, client: OpenSearch, index: str, settings: Settings) -> StoreChanges:
    """What follows a change of the served model (promotion, rollback): the store pruned to the retention
    count, the search template pointed at the model now served."""
    changes = prune_store(session, client, index, settings.ltr_keep_retired_models)
    changes.template = rewrite_template(session, client, index, settings.default_index, settings.rerank_window,
                                        changes.failed)
    return changes


def uploader(client: OpenSearch, index: str) -> Callable[[RankingModel], None]:
    """Puts a registered model into the catalogue's feature store (from its artifact) unless it is there,
    and writes the query history it reads onto the documents."""
    store = FeatureStore(client, index)

    def upload(model: RankingModel) -> None:
        artifact = load_artifact(Path(model.artifact_path))
        store.upload_model(model.name, artifact.featureset, artifact.plugin_trees)
        serve_history(client, index, artifact)

    return upload


def rollback(session: Session, *, by: str, upload: Callable[[RankingModel], None]) -> RankingModel | None:
    """``registry.rollback``, with the model it reactivates uploaded (``upload``, see :func:`uploader`)
    before the caller's transaction commits the switch; if that fails, nothing changes."""
    restored = registry.rollback(session, by=by)
    if restored is not None:
        try:
            upload(restored)
        except (ArtifactError, FeatureStoreError, HistorySyncError, TransportError, OSError) as exc:
            raise RegistryError(f"model {restored.name} cannot be served again: {exc}; nothing was changed") from exc
    return restored
