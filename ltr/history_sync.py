"""The query history onto the catalogue's documents, where the featureset's ``history`` features read it.

``shelfrank index history`` writes each product's history (:mod:`ltr.ranker.query_history`) with partial
updates: the codes of its queries' tokens and their number; no re-encoding, no new index, the alias
untouched. A product no longer in the history loses its fields (the features then read 0.0). The
history comes from the same labels training learns from, so the documents say what the model was
trained to expect: human judgments of the train split, or the click model's labels of the shop's clicks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from opensearchpy import OpenSearch, helpers
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from indexer import schema
from indexer.derived_fields import partial_update
from indexer.mapping import history_properties
from indexer.segments import Compaction, compact
from indexer.versions import physical_index
from ltr.click_labels import fit_click_model
from ltr.ranker.labels import click_model_labels, judgment_labels
from ltr.ranker.query_history import QueryHistory, history_codes, history_from_labels

_FIELDS = (schema.HISTORY_CODES, schema.HISTORY_QUERIES)


class HistorySyncError(RuntimeError):
    """The history could not be written; the message says what to do."""


@dataclass(frozen=True)
class HistoryReport:
    index: str
    updated: int  # products given a history
    cleared: int  # products whose history is gone
    missing: int  # products with a history that are not in the catalogue
    queries: int  # distinct queries in the history
    compaction: Compaction | None = None  # the merge of the segments the rewrites left (indexer.segments)


def _updates(index: str, history: QueryHistory, stale: set[str]) -> Iterator[dict]:
    for pid, queries in history.items():
        yield partial_update(index, pid, {schema.HISTORY_CODES: history_codes(queries),
                                          schema.HISTORY_QUERIES: float(len(queries))})
    for pid in stale:
        yield partial_update(index, pid, {field: None for field in _FIELDS})


def sync_history(client: OpenSearch, alias: str, history: QueryHistory) -> HistoryReport:
    """Write ``history`` onto the live index behind ``alias``; products outside it lose theirs."""
    index = physical_index(client, alias)
    if index is None:
        raise HistorySyncError(f"no catalogue index behind {alias!r}; build one first (shelfrank index rebuild)")
    client.indices.put_mapping(index=index, body={"properties": history_properties()})
    hits = helpers.scan(client, index=index, query={"query": {"exists": {"field": schema.HISTORY_QUERIES}},
                                                    "_source": False})
    stale = {hit["_id"] for hit in hits} - set(history)
    missing = 0
    for ok, item in helpers.streaming_bulk(client, _updates(index, history, stale), raise_on_error=False,
                                           chunk_size=500):
        if not ok:
            if next(iter(item.values())).get("status") != 404:
                raise HistorySyncError(f"history update failed: {item}")
            missing += 1
    client.indices.refresh(index=index)
    queries = len({q for qs in history.values() for q in qs})
    return HistoryReport(index, len(history) - missing, len(stale), missing, queries)


def documents_with_history(client: OpenSearch, alias: str) -> int:
    """How many products behind ``alias`` hold a history now."""
    return int(client.count(index=alias, body={"query": {"exists": {"field": schema.HISTORY_QUERIES}}})["count"])


def judged_history(judgments: Mapping[str, Mapping[str, float]]) -> dict[str, tuple[str, ...]]:
    """The history human judgments give (grades scaled as training scales them)."""
    max_grade = max((g for grades in judgments.values() for g in grades.values()), default=0.0) or 1.0
    return history_from_labels(judgment_labels(judgments, max_grade))


def clicked_history(session: Session, since: datetime, min_support: int) -> dict[str, tuple[str, ...]]:
    """The history the shop's clicks give: the click model's labels since ``since``, as training reads them."""
    fit = fit_click_model(session, min_support=min_support, since=since)
    return history_from_labels(click_model_labels(fit.selection.best, min_support))


def refresh_history(settings: Settings, alias: str | None = None,
                    judgments: Mapping[str, Mapping[str, float]] | None = None, days: float = 28.0) -> HistoryReport:
    """The history sync as every face runs it: from ``judgments`` when given, else the stored clicks of the
    last ``days`` (training's label window)."""
    if judgments is not None:
        history = judged_history(judgments)
    else:
        url = settings.effective_database_url
        migrate.ensure_current(url)
        with session_scope(url) as session:
            history = clicked_history(session, datetime.now(timezone.utc) - timedelta(days=days),
                                      settings.click_model_min_support)
    client = make_client(settings)
    report = sync_history(client, alias or settings.default_index, history)
    return replace(report, compaction=compact(client, report.index, settings))
