"""Idempotent, partially-accepting storage of event batches.

A batch is validated event by event: bad events are reported with their index and reason while
the good ones are stored, all in one transaction. Every stored event id goes into a ledger, so a
retried batch (or the same event in two batches) stores nothing twice. Interactions whose search
is unknown are kept *unattributed* and gain their position when the search arrives later.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, ProcessedEvent, Search, User
from core.db.searches import chunks, existing, insert_searches
from core.privacy import pseudonymise
from core.queries import normalize_query
from ltr.events.schema import Event, EventError, InteractionEvent, SearchEvent, UserEvent, parse_event


@dataclass(frozen=True)
class Rejection:
    index: int
    event_id: str | None
    field: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "field": self.field, "error": self.error}


@dataclass
class IngestReport:
    """What happened to a batch: stored, already stored before (or twice in it), rejected."""

    accepted: int = 0
    duplicates: int = 0
    unattributed: int = 0  # interactions stored without a known search (yet)
    rejected: list[Rejection] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "unattributed": self.unattributed,
                "rejected": [r.as_dict() for r in self.rejected]}

    def merge(self, other: IngestReport, index_offset: int = 0) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.unattributed += other.unattributed
        self.rejected.extend(Rejection(r.index + index_offset, r.event_id, r.field, r.error) for r in other.rejected)


def validate_batch(raw_events: Sequence[Any]) -> tuple[list[Event], list[Rejection]]:
    """Parse each event; keep the first of any repeated event id in the batch."""
    valid: list[Event] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raw_events):
        try:
            valid.append(parse_event(raw))
        except EventError as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            rejected.append(Rejection(index, event_id if isinstance(event_id, str) else None, exc.field, exc.message))
    return valid, rejected


class EventStore:
    """Writes validated events; user ids are pseudonymised here, before anything is stored."""

    def __init__(self, pseudonym_key: str) -> None:
        self.pseudonym_key = pseudonym_key

    def _user(self, user_id: str | None) -> str | None:
        return pseudonymise(user_id, self.pseudonym_key) if user_id else None

    def ingest(self, session: Session, raw_events: Sequence[Any]) -> IngestReport:
        """Validate and store one batch inside ``session``'s transaction (the caller commits)."""
        events, rejected = validate_batch(raw_events)
        report = IngestReport(rejected=rejected)
        try:
            with session.begin_nested():
                self._store(session, events, report)
        except IntegrityError:
            # A concurrent batch stored some of the same event ids first: the ledger now says so.
            report = IngestReport(rejected=rejected)
            with session.begin_nested():
                self._store(session, events, report)
        return report

    def _store(self, session: Session, events: list[Event], report: IngestReport) -> None:
        seen = existing(session, ProcessedEvent.event_id, (e.event_id for e in events))
        fresh: list[Event] = []
        for event in events:
            if event.event_id in seen:
                report.duplicates += 1
            else:
                seen.add(event.event_id)
                fresh.append(event)
        searches = [e for e in fresh if isinstance(e, SearchEvent)]
        interactions = [e for e in fresh if isinstance(e, InteractionEvent)]
        recorded = existing(session, Search.search_id, (e.search_id for e in searches))
        new_searches: dict[str, SearchEvent] = {}
        for event in searches:
            if event.search_id in recorded or event.search_id in new_searches:
                continue  # already served and recorded by the storefront (or repeated): nothing to add
            new_searches[event.search_id] = event

        self._upsert_users(session, fresh)
        positions = self._insert_searches(session, new_searches)
        report.unattributed += self._insert_interactions(session, interactions, positions)
        if fresh:
            session.execute(insert(ProcessedEvent), [
                {"event_id": e.event_id, "type": e.type, "occurred_at": e.ts} for e in fresh])
        report.accepted += len(fresh)

    def _upsert_users(self, session: Session, events: list[Event]) -> None:
        spans: dict[str, list[Any]] = {}  # pseudonym -> [first, last, attributes]
        for event in events:
            user = self._user(getattr(event, "user_id", None))
            if user is None:
                continue
            span = spans.setdefault(user, [event.ts, event.ts, {}])
            span[0], span[1] = min(span[0], event.ts), max(span[1], event.ts)
            if isinstance(event, UserEvent):
                span[2].update(event.attributes)
        if not spans:
            return
        existing = {u.user_id: u for chunk in chunks(sorted(spans))
                    for u in session.scalars(select(User).where(User.user_id.in_(chunk)))}
        for user_id, (first, last, attributes) in spans.items():
            stored = existing.get(user_id)
            if stored is None:
                session.add(User(user_id=user_id, attributes=attributes, first_seen=first, last_seen=last))
                continue
            stored.first_seen = min(_aware(stored.first_seen), first)
            stored.last_seen = max(_aware(stored.last_seen), last)
            if attributes:
                stored.attributes = {**stored.attributes, **attributes}
        session.flush()

    def _insert_searches(self, session: Session, searches: dict[str, SearchEvent]) -> dict[tuple[str, str], int]:
        if not searches:
            return {}
        rows = []
        positions: dict[tuple[str, str], int] = {}
        for event in searches.values():
            first = (event.page - 1) * len(event.results)
            for offset, product in enumerate(event.results):
                positions.setdefault((event.search_id, product), first + offset + 1)
                rows.append({"search_id": event.search_id, "product_id": product,
                             "position": first + offset + 1, "page": event.page})
        insert_searches(session, [
            {"search_id": e.search_id, "query": e.query, "normalized_query": normalize_query(e.query),
             "user_id": self._user(e.user_id), "session_id": e.session_id, "config": e.config,
             "model_version": e.model_version, "source": "events", "created_at": e.ts}
            for e in searches.values()], rows)
        return positions

    def _insert_interactions(self, session: Session, events: list[InteractionEvent],
                             batch_positions: dict[tuple[str, str], int]) -> int:
        if not events:
            return 0
        search_ids = [e.search_id for e in events if e.search_id]
        known = existing(session, Search.search_id, search_ids)
        stored_positions: dict[tuple[str, str], int] = {}
        for chunk in chunks(sorted(set(search_ids))):
            for search_id, product, position in session.execute(
                    select(Impression.search_id, Impression.product_id, Impression.position)
                    .where(Impression.search_id.in_(chunk))):
                stored_positions.setdefault((search_id, product), position)
        unattributed = 0
        rows = []
        for event in events:
            key = (event.search_id or "", event.product_id)
            position = event.position or batch_positions.get(key) or stored_positions.get(key)
            if event.search_id is None or event.search_id not in known:
                unattributed += 1
            rows.append({"event_id": event.event_id, "type": event.type, "search_id": event.search_id,
                         "user_id": self._user(event.user_id), "session_id": event.session_id,
                         "product_id": event.product_id, "position": position, "occurred_at": event.ts})
        session.execute(insert(Interaction), rows)
        return unattributed


def _aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes even for timezone columns; they were stored as UTC."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
