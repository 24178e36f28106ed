"""Event validation, idempotency, attribution and retention against a real (SQLite) database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import migrate
from core.db.models import Impression, Interaction, ProcessedEvent, Search, User
from core.db.session import session_scope
from core.privacy import pseudonymise
from ltr.events.retention import purge_events
from ltr.events.schema import EventError, parse_event
from ltr.events.store import EventStore

KEY = "test-key"


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    migrate.upgrade(url)
    return url


def search(event_id: str, search_id: str, results: list[str], ts: str = "2026-01-31T12:00:00Z", **extra) -> dict:
    return {"event_id": event_id, "type": "search", "ts": ts, "search_id": search_id, "user_id": "alice",
            "session_id": "s1", "query": "Cordless  Drill", "results": results, **extra}


def click(event_id: str, search_id: str | None, product: str, kind: str = "click",
          ts: str = "2026-01-31T12:00:05Z") -> dict:
    event = {"event_id": event_id, "type": kind, "ts": ts, "user_id": "alice", "product_id": product}
    if search_id:
        event["search_id"] = search_id
    return event


def ingest(url: str, batch: list) -> dict:
    with session_scope(url) as session:
        return EventStore(KEY).ingest(session, batch).as_dict()


def count(url: str, model) -> int:  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("raw", "field"), [
    ({"type": "click"}, "event_id"),
    ({"event_id": "e", "type": "view", "ts": "2026-01-31T12:00:00Z"}, "type"),
    ({"event_id": "e", "type": "click", "ts": "2026-01-31T12:00:00", "product_id": "p"}, "ts"),
    ({"event_id": "e", "type": "click", "ts": "yesterday", "product_id": "p"}, "ts"),
    ({"event_id": "e", "type": "click", "ts": "2026-01-31T12:00:00Z"}, "product_id"),
    ({"event_id": "e", "type": "search", "ts": "2026-01-31T12:00:00Z", "search_id": "s", "query": "",
      "results": []}, "query"),
    ({"event_id": "e", "type": "search", "ts": "2026-01-31T12:00:00Z", "search_id": "s", "query": "q",
      "results": ["a", 7]}, "results.1"),
    ({"event_id": "e", "type": "user", "ts": "2026-01-31T12:00:00Z", "user_id": "u", "attributes": {"a": [1]}},
     "attributes"),
    ("not an object", "event"),
])
def test_bad_events_name_their_field(raw, field: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EventError) as caught:
        parse_event(raw)
    assert caught.value.field == field


def test_future_timestamps_are_refused() -> None:
    future = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    with pytest.raises(EventError, match="ts: is in the future"):
        parse_event(click("e", "s", "p", ts=future))


def test_good_events_are_stored_and_bad_ones_reported_by_index(db: str) -> None:
    report = ingest(db, [search("e1", "s1", ["a", "b", "c"]), {"type": "click"}, click("e2", "s1", "b"),
                         click("e3", "s1", "c", kind="purchase")])
    assert (report["accepted"], report["duplicates"], report["unattributed"]) == (3, 0, 0)
    assert [(r["index"], r["field"]) for r in report["rejected"]] == [(1, "event_id")]
    with session_scope(db) as session:
        stored = session.get(Search, "s1")
        assert (stored.normalized_query, stored.source) == ("cordless drill", "events")
        assert stored.user_id == pseudonymise("alice", KEY) != "alice"
        assert [(i.product_id, i.position) for i in sorted(stored.impressions, key=lambda i: i.position)] == \
            [("a", 1), ("b", 2), ("c", 3)]
        assert sorted((i.type, i.position) for i in session.scalars(select(Interaction))) == \
            [("click", 2), ("purchase", 3)]


def test_a_retried_batch_stores_nothing_twice(db: str) -> None:
    batch = [search("e1", "s1", ["a", "b"]), click("e2", "s1", "a"), click("e2", "s1", "a")]
    first = ingest(db, batch)
    assert (first["accepted"], first["duplicates"]) == (2, 1)
    again = ingest(db, batch)
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert (count(db, Search), count(db, Impression), count(db, Interaction), count(db, ProcessedEvent)) == \
        (1, 2, 1, 2)


def test_unknown_search_is_kept_unattributed_then_attributed_when_the_search_arrives(db: str) -> None:
    early = ingest(db, [click("c1", "later", "b"), click("c2", None, "z", kind="purchase")])
    assert (early["accepted"], early["unattributed"]) == (2, 2)
    with session_scope(db) as session:
        assert session.scalar(select(Interaction.position).where(Interaction.event_id == "c1")) is None
    ingest(db, [search("s-event", "later", ["a", "b"], ts="2026-01-31T11:59:00Z")])
    with session_scope(db) as session:
        assert session.scalar(select(Interaction.position).where(Interaction.event_id == "c1")) == 2
        assert session.scalar(select(Interaction.position).where(Interaction.event_id == "c2")) is None


def test_users_are_pseudonymised_and_attributes_merged(db: str) -> None:
    ingest(db, [{"event_id": "u1", "type": "user", "ts": "2026-01-30T00:00:00Z", "user_id": "alice",
                 "attributes": {"tier": "gold"}}])
    ingest(db, [{"event_id": "u2", "type": "user", "ts": "2026-02-01T00:00:00Z", "user_id": "alice",
                 "attributes": {"country": "US"}}, click("c", None, "p")])
    with session_scope(db) as session:
        users = session.scalars(select(User)).all()
        assert len(users) == 1 and users[0].user_id == pseudonymise("alice", KEY)
        assert users[0].attributes == {"tier": "gold", "country": "US"}
        assert users[0].first_seen.date().isoformat() == "2026-01-30"
        assert users[0].last_seen.date().isoformat() == "2026-02-01"


def test_a_search_already_recorded_by_the_storefront_is_not_duplicated(db: str) -> None:
    with session_scope(db) as session:
        session.add(Search(search_id="served", query="drill", normalized_query="drill", config="hybrid-minmax",
                           impressions=[Impression(product_id="a", position=1)]))
    report = ingest(db, [search("e1", "served", ["a"]), click("e2", "served", "a")])
    assert (report["accepted"], report["unattributed"]) == (2, 0)
    assert (count(db, Search), count(db, Impression)) == (1, 1)


def test_purge_deletes_old_events_and_keeps_recent_ones(db: str) -> None:
    now = datetime(2026, 11, 23, tzinfo=timezone.utc)
    ingest(db, [search("old-s", "old", ["a"], ts="2025-01-01T00:00:00Z"), click("old-c", "old", "a",
                                                                                 ts="2025-01-01T00:00:01Z"),
                search("new-s", "new", ["a"], ts="2026-11-01T00:00:00Z"), click("new-c", "new", "a",
                                                                                 ts="2026-11-01T00:00:01Z")])
    with session_scope(db) as session:
        report = purge_events(session, retention_days=90, now=now)
    assert (report.searches, report.impressions, report.interactions, report.ledger, report.users) == (1, 1, 1, 2, 0)
    assert (count(db, Search), count(db, Impression), count(db, Interaction), count(db, ProcessedEvent)) == \
        (1, 1, 1, 2)
