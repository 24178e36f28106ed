"""The shop's housekeeping as every face runs it (``shelfrank index cleanup``, ``shelfrank index
behaviour``, their scheduled tasks).

Index versions (partial ones a killed rebuild left, rollback targets past retention) and retired models
in the engine's feature store past ``ltr_keep_retired_models``; the registry keeps every model's record.
The behaviour refresh rewrites the search template after it: the template carries the refreshed priors
(what products without history score), which only the storefront reads from the index by itself.
"""

from __future__ import annotations

from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer.chunked_rebuild import running_targets
from indexer.cleanup import clean_versions
from ltr.behaviour_sync import SyncReport, refresh_behaviour
from ltr.promotion import prune_store, rewrite_template


def cleanup(settings: Settings, alias: str) -> dict[str, object]:
    client = make_client(settings)
    with session_scope(settings.effective_database_url) as session:
        report = clean_versions(client, alias, settings.index_keep_versions, settings.index_partial_grace_s,
                                in_progress=running_targets(session))
        store = prune_store(session, client, alias, settings.ltr_keep_retired_models)
    return {**report.as_dict(), "models_deleted_from_store": store.deleted}


def refresh_served_behaviour(settings: Settings, alias: str) -> tuple[SyncReport, str]:
    """Behaviour features onto the documents, then the search template with the new priors; returns the sync
    report and what the template serves now (or why it could not be rewritten: the refresh stands)."""
    report = refresh_behaviour(settings, alias)
    with session_scope(settings.effective_database_url) as session:
        template = rewrite_template(session, make_client(settings), alias, settings.default_index,
                                    settings.rerank_window)
    return report, template
