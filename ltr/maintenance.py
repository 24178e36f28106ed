"""The shop's housekeeping as every face runs it (``shelfrank index cleanup``, the nightly task).

Index versions (partial ones a killed rebuild left, rollback targets past retention) and retired models
in the engine's feature store past ``ltr_keep_retired_models``; the registry keeps every model's record.
"""

from __future__ import annotations

from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer.chunked_rebuild import running_targets
from indexer.cleanup import clean_versions
from ltr.promotion import prune_store


def cleanup(settings: Settings, alias: str) -> dict[str, object]:
    client = make_client(settings)
    with session_scope(settings.effective_database_url) as session:
        report = clean_versions(client, alias, settings.index_keep_versions, settings.index_partial_grace_s,
                                in_progress=running_targets(session))
        store = prune_store(session, client, alias, settings.ltr_keep_retired_models)
    return {**report.as_dict(), "models_deleted_from_store": store.deleted}
