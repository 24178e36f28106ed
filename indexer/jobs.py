"""Catalogue jobs as every face runs them (CLI commands, worker tasks): settings in, result out.

The faces only parse arguments and print; the client, the cached encoder and the catalogue source
are assembled here, once, so ``shelfrank index rebuild`` and the worker's reindex task cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.db.session import session_scope
from core.opensearch_client import make_client
from core.settings import Settings
from encoders.factory import load_cached_encoder
from indexer import drop_folder, pipeline
from indexer.chunked_rebuild import running_job
from indexer.drop_folder import DropReport
from indexer.live_model import settings_for_writes
from indexer.pipeline import IndexResult
from indexer.sources import ImportReport, read_catalog
from indexer.versions import IndexerError, live_index


@dataclass(frozen=True)
class RebuildOutcome:
    result: IndexResult
    report: ImportReport | None  # rows read from the file (rejected ones with line and reason), if any
    encoded: int  # texts run through the model
    from_cache: int  # texts whose vectors the embedding cache already held

    def as_dict(self) -> dict[str, object]:
        return {"index": self.result.index, "previous": self.result.previous, "documents": self.result.documents,
                "seconds": round(self.result.seconds, 1), "encoded": self.encoded, "from_cache": self.from_cache,
                "removed_versions": list(self.result.removed_versions),
                "rejected_rows": len(self.report.errors) if self.report else 0}


def rebuild_catalogue(settings: Settings, alias: str, source: Path | None = None, fmt: str = "csv",
                      mapping: dict[str, str] | None = None, encoding: str | None = None,
                      progress: bool = False, allow_shrink: bool = False) -> RebuildOutcome:
    """A zero-downtime full rebuild of ``alias``: from ``source`` (a catalogue file) or from the live index's
    own documents; the alias keeps serving the old index until the new one is verified."""
    client = make_client(settings)
    encoder = load_cached_encoder(settings)
    report = None
    total = None
    if source is not None:
        report = ImportReport(source=str(source))
        if progress:  # one cheap parsing pass first, so that the bar has a total and an ETA
            total = sum(1 for _ in read_catalog(source, fmt, mapping, encoding))
        products = read_catalog(source, fmt, mapping, encoding, report)
    else:
        if live_index(client, alias) is None:
            raise IndexerError(f"index {alias!r} does not exist; give a catalogue file to build it from")
        products = pipeline.iter_indexed_products(client, alias)
        total = client.count(index=alias)["count"]
    result = pipeline.rebuild(client, alias, products, encoder, settings, progress=progress, total=total,
                              allow_shrink=allow_shrink)
    return RebuildOutcome(result, report, encoder.stats.misses, encoder.stats.hits)


def sync_drop_folder(settings: Settings, alias: str, folder: Path | None = None) -> DropReport:
    """Apply what the shop dropped into the catalogue folder (see :mod:`indexer.drop_folder`); while a
    chunked embedding rebuild of the alias runs, nothing is applied (the files wait for the next run):
    the rebuild copies the live index, so a change written to it meanwhile would be lost at the swap."""
    folder = folder or settings.effective_catalog_drop_dir
    with session_scope(settings.effective_database_url) as session:
        rebuilding = running_job(session, alias)
        if rebuilding is not None:
            return drop_folder.DropReport(str(folder), blocked_by=f"embedding rebuild {rebuilding.id} of {alias}")
    client = make_client(settings)
    encoder = load_cached_encoder(settings_for_writes(settings, client, alias))
    return drop_folder.sync_drop_folder(client, alias, folder, encoder, settings)
