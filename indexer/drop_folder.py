"""The catalogue drop folder: the shop writes its exports into a folder, the workers apply them.

Files are taken oldest first, once they have not changed for ``catalog_drop_settle_s`` (a file still
being copied is left for the next run; names starting with ``.`` or ending in ``.tmp`` / ``.part`` are
never taken). What each file means is in its name:

- ``*.csv`` / ``*.jsonl``: products to upsert into the live index (unchanged texts are not re-encoded);
- ``full-*.csv`` / ``full-*.jsonl``: the whole catalogue: a zero-downtime full rebuild (refused, as any
  rebuild, when it is much smaller than the live catalogue);
- ``*.deletes`` (``*.deletes.txt``): product ids to delete, one per line.

Each file applied is moved to ``processed/``; one that cannot be applied goes to ``failed/`` with a
``.error.txt`` beside it, and the live index stays as it was. Nothing is ever lost from the folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from opensearchpy import OpenSearch

from core.settings import Settings
from encoders.base import TextEncoder
from indexer import pipeline
from indexer.segments import Compaction, compact
from indexer.sources import ImportReport, read_catalog
from indexer.versions import IndexerError

CATALOGUE_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl"}
DELETE_SUFFIXES = (".deletes", ".deletes.txt")
SKIPPED_SUFFIXES = (".tmp", ".part")


@dataclass
class DropReport:
    folder: str
    applied: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # still being written (changed within the settle time)
    blocked_by: str | None = None  # why nothing was applied this time (a rebuild in progress)
    compaction: Compaction | None = None  # one merge of the live index after the run's syncs

    def as_dict(self) -> dict[str, object]:
        return {"folder": self.folder, "applied": self.applied, "failed": self.failed, "waiting": self.waiting,
                "blocked_by": self.blocked_by, "compaction": self.compaction.as_dict() if self.compaction else None}


def kind_of(path: Path) -> str | None:
    """``upsert``, ``full``, ``deletes``, or None for a file that is not ours to take."""
    name = path.name.lower()
    if name.startswith(".") or name.endswith(SKIPPED_SUFFIXES):
        return None
    if name.endswith(DELETE_SUFFIXES):
        return "deletes"
    if path.suffix.lower() in CATALOGUE_SUFFIXES:
        return "full" if name.startswith("full-") else "upsert"
    return None


def ready_files(folder: Path, settle_s: float, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """(files to apply, oldest first; files changed too recently to take)."""
    now = time.time() if now is None else now
    ours = [p for p in folder.iterdir() if p.is_file() and kind_of(p) is not None]
    ready = sorted((p for p in ours if now - p.stat().st_mtime >= settle_s), key=lambda p: (p.stat().st_mtime, p.name))
    return ready, sorted(set(ours) - set(ready))


def _move(path: Path, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{path.name}"
    path.rename(target)
    return target


def apply_file(client: OpenSearch, alias: str, path: Path, encoder: TextEncoder, settings: Settings,
               mapping: dict[str, str] | None = None) -> dict:
    kind = kind_of(path)
    if kind == "deletes":
        ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        result = pipeline.sync(client, alias, [], ids, encoder, settings, compact_after=False)
        return {"file": path.name, "kind": kind, "deleted": result.deleted, "ids": len(ids)}
    fmt = CATALOGUE_SUFFIXES[path.suffix.lower()]
    report = ImportReport(source=path.name)
    products = read_catalog(path, fmt, mapping, None, report)
    if kind == "full":
        result = pipeline.rebuild(client, alias, products, encoder, settings)
        outcome = {"index": result.index, "documents": result.documents}
    else:
        result = pipeline.sync(client, alias, products, [], encoder, settings, compact_after=False)
        outcome = {"upserted": result.documents}
    if report.valid == 0:
        raise IndexerError(f"{path.name}: no valid product rows ({report.summary()})")
    rejected = [f"line {e.line}: {e.reason}" for e in report.errors[:20]]
    return {"file": path.name, "kind": kind, **outcome, "rejected_rows": len(report.errors), "rejections": rejected}


def sync_drop_folder(client: OpenSearch, alias: str, folder: Path, encoder: TextEncoder, settings: Settings,
                     mapping: dict[str, str] | None = None) -> DropReport:
    folder.mkdir(parents=True, exist_ok=True)
    report = DropReport(str(folder))
    ready, waiting = ready_files(folder, settings.catalog_drop_settle_s)
    report.waiting = [p.name for p in waiting]
    for path in ready:
        try:
            outcome = apply_file(client, alias, path, encoder, settings, mapping)
        except (IndexerError, OSError, UnicodeDecodeError, ValueError) as exc:
            moved = _move(path, folder / "failed")
            moved.with_name(moved.name + ".error.txt").write_text(f"{exc}\n")
            report.failed.append({"file": path.name, "error": str(exc), "moved_to": str(moved)})
            continue
        outcome["moved_to"] = str(_move(path, folder / "processed"))
        report.applied.append(outcome)
    if any(kind_of(p) != "full" for p in ready):  # syncs wrote to the live index (even failed ones): one merge
        report.compaction = compact(client, alias, settings)
    return report
