"""Event files: JSON Lines, one event per line, in the same format as the events API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ltr.events.store import EventStore, IngestReport, Rejection


def read_event_lines(path: Path, batch_size: int) -> Iterator[list[tuple[int, Any]]]:
    """Batches of (line number, parsed JSON or a :class:`Rejection` for lines that are not JSON)."""
    batch: list[tuple[int, Any]] = []
    with open(path, encoding="utf-8", errors="strict") as handle:
        line_number = 0
        while True:
            line_number += 1
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                raise ValueError(f"{path}: line {line_number} is not UTF-8 ({exc.reason})") from None
            if not line:
                break
            if not line.strip():
                continue
            try:
                batch.append((line_number, json.loads(line)))
            except json.JSONDecodeError as exc:
                batch.append((line_number, Rejection(line_number, None, "line", f"invalid JSON ({exc.msg})")))
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def import_events(session_factory: Any, store: EventStore, path: Path, batch_size: int = 1000,
                  progress: Any = None) -> IngestReport:
    """Store every valid event of ``path``, one transaction per batch; rejections carry line numbers.

    ``session_factory`` is a context manager factory (``session_scope``-like) so that a failure in
    one batch never undoes the batches already stored.
    """
    total = IngestReport()
    for batch in read_event_lines(path, batch_size):
        good = [(line, raw) for line, raw in batch if not isinstance(raw, Rejection)]
        total.rejected.extend(raw for _, raw in batch if isinstance(raw, Rejection))
        with session_factory() as session:
            session: Session
            report = store.ingest(session, [raw for _, raw in good])
        lines = [line for line, _ in good]
        report.rejected = [Rejection(lines[r.index], r.event_id, r.field, r.error) for r in report.rejected]
        total.merge(report)
        if progress is not None:
            progress.update(len(batch))
    total.rejected.sort(key=lambda r: r.index)
    return total
