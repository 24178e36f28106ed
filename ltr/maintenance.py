"""The shop's housekeeping as every face runs it (``shelfrank index cleanup``, ``shelfrank index
behaviour``, their scheduled tasks).

Index versions (partial ones a killed rebuild left, rollback targets past retention) and retired models
in the engine's feature store past ``ltr_keep_retired_models``; the registry keeps every model's record.
The behaviour refresh rewrites the search template after it: the template carries the refreshed priors
(what products without history score), which only the storefront reads from the index by itself. The
served history refresh writes the active model's query history again (after documents lost it: a
restored snapshot, a hand-written ``shelfrank index history``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from core.db import migrate
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer.chunked_rebuild import running_targets
from indexer.cleanup import clean_versions
from indexer.segments import compact
from ltr.behaviour_sync import SyncReport, refresh_behaviour
from ltr import registry
from ltr.history_sync import HistoryReport, HistorySyncError
from ltr.promotion import prune_store, rewrite_template, serve_history
from ltr.ranker.artifacts import load_artifact


def cleanup(settings: Settings, alias: str) -> dict[str, object]:
    client = make_client(settings)
    with session_scope(settings.effective_database_url) as session:
        report = clean_versions(client, alias, settings.index_keep_versions, settings.index_partial_grace_s,
                                in_progress=running_targets(session))
        store = prune_store(session, client, alias, settings.ltr_keep_retired_models)
    compaction = compact(client, report.live, settings) if report.live else None
    return {**report.as_dict(), "models_deleted_from_store": store.deleted,
            "compaction": compaction.as_dict() if compaction else None}


def refresh_served_behaviour(settings: Settings, alias: str,
                             progress: Callable[[float], None] | None = None) -> tuple[SyncReport, str]:
    """Behaviour features onto the documents, then the search template with the new priors, then the merge of
    the segments the writes left (the template must not wait for it); returns the sync report and what the
    template serves now (or why it could not be rewritten: the refresh stands). ``progress`` hears the share
    done after each step (the merge, when there is one, is most of the time)."""
    report_progress = progress or (lambda _share: None)
    report = refresh_behaviour(settings, alias)
    report_progress(0.4)
    client = make_client(settings)
    with session_scope(settings.effective_database_url) as session:
        template = rewrite_template(session, client, alias, settings.default_index, settings.rerank_window)
    report_progress(0.5)
    return replace(report, compaction=compact(client, report.index, settings)), template


def refresh_served_history(settings: Settings, alias: str) -> HistoryReport:
    """The active model's query history (the one it was trained on) onto the documents behind ``alias``."""
    url = settings.effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        active = registry.active_model(session)
        if active is None:
            raise HistorySyncError("no model is active; promote one first (shelfrank models promote)")
        name, folder = active.name, Path(active.artifact_path)
    client = make_client(settings)
    report = serve_history(client, alias, load_artifact(folder))
    if report is None:
        raise HistorySyncError(f"active model {name} reads no query history or keeps none (trained before models "
                               "kept it): write one with --judgments or from the stored clicks")
    return replace(report, compaction=compact(client, report.index, settings))
