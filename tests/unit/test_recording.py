"""Recording served searches off the request path: the buffered recorder against a real SQLite database."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from core.db import migrate
from core.db.models import Impression, Interaction, Search
from core.db.session import engine_for, session_scope
from ltr.events.store import EventStore
from storefront.recording import BufferedRecorder, DatabaseImpressionRecorder, ServedPage
from storefront.request import SearchRequest


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'recording.db'}"
    migrate.upgrade(url)
    return url


def served(i: int, products: int = 3) -> tuple:  # type: ignore[type-arg]
    return (f"s{i}", SearchRequest(query=f"Query {i}", user_id="shopper-1"), "hybrid-minmax", "model-a",
            [(f"p{j}", j + 1) for j in range(products)])


def counts(url: str) -> tuple[int, int]:
    with session_scope(url) as session:
        return (session.scalar(select(func.count()).select_from(Search)),
                session.scalar(select(func.count()).select_from(Impression)))


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database: str) -> None:
    with engine_for(database).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0


def test_buffered_pages_are_written_in_batches_with_what_was_served(database: str) -> None:
    writes: list[int] = []
    writer = DatabaseImpressionRecorder(database, "key")

    def write(pages: list[ServedPage]) -> None:
        writes.append(len(pages))
        writer.write(pages)

    recorder = BufferedRecorder(write, batch_size=50, flush_interval_s=0.05)
    before = datetime.now(timezone.utc)
    for i in range(120):
        recorder(*served(i))
    assert recorder.flush(10)
    recorder.close()
    assert counts(database) == (120, 360)
    assert sum(writes) == 120 and max(writes) <= 50 and len(writes) < 120  # batched, not one per search
    with session_scope(database) as session:
        search = session.get(Search, "s7")
        assert (search.query, search.normalized_query, search.config, search.model_version) == (
            "Query 7", "query 7", "hybrid-minmax", "model-a")
        assert search.user_id not in (None, "shopper-1")  # pseudonymised
        assert search.created_at.replace(tzinfo=timezone.utc) >= before.replace(microsecond=0)
        positions = session.scalars(select(Impression.position).where(Impression.search_id == "s7")
                                    .order_by(Impression.position)).all()
        assert positions == [1, 2, 3]
    assert recorder.stats.written == 120 and recorder.stats.dropped == 0


def test_a_full_buffer_drops_and_counts_instead_of_blocking(database: str, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()
    writer = DatabaseImpressionRecorder(database, "key")

    def slow_database(pages: list[ServedPage]) -> None:
        release.wait(30)
        writer.write(pages)

    recorder = BufferedRecorder(slow_database, capacity=10, batch_size=5, flush_interval_s=0.01)
    started = time.monotonic()
    for i in range(40):
        recorder(*served(i))
    elapsed = time.monotonic() - started
    release.set()
    recorder.close()
    written, _ = counts(database)
    assert recorder.stats.dropped > 0 and "dropped so far" in caplog.text
    assert written == recorder.stats.written == 40 - recorder.stats.dropped  # every accepted page, none twice
    assert elapsed < 5  # the 40 calls returned while the database was stuck (it was stuck for good)


def test_a_failing_database_is_retried_and_nothing_is_lost(database: str) -> None:
    writer = DatabaseImpressionRecorder(database, "key")
    failures = [2]

    def flaky(pages: list[ServedPage]) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))
        writer.write(pages)

    recorder = BufferedRecorder(flaky, batch_size=100, flush_interval_s=0.01, retry_max_s=0.05)
    for i in range(30):
        recorder(*served(i))
    assert recorder.flush(10)
    recorder.close()
    assert counts(database) == (30, 90) and recorder.stats.failed_writes == 2 and recorder.stats.lost == 0


def test_a_locked_database_holds_writes_not_searches(database: str) -> None:
    """The failure of the issue: another writer holds SQLite's lock. Pages wait in the buffer."""
    path = database.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    recorder = BufferedRecorder(DatabaseImpressionRecorder(database, "key").write, flush_interval_s=0.01)
    for i in range(20):
        recorder(*served(i))  # returns at once although the writer thread is waiting for the lock
    assert not recorder.flush(0.3) and recorder.stats.written == 0
    holder.execute("COMMIT")
    holder.close()
    assert recorder.flush(15)
    recorder.close()
    assert counts(database) == (20, 60)


def test_close_writes_everything_buffered(database: str) -> None:
    recorder = BufferedRecorder(DatabaseImpressionRecorder(database, "key").write, flush_interval_s=60)
    for i in range(500):
        recorder(*served(i, products=10))
    recorder.close()  # long before the next periodic flush
    assert counts(database) == (500, 5000) and recorder.stats.lost == 0
    recorder(*served(999))  # after close: refused and counted, not queued forever
    assert recorder.stats.dropped == 1


def test_close_gives_up_on_a_dead_database_and_counts_the_loss(database: str) -> None:
    def dead(pages: list[ServedPage]) -> None:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("unable to open database file"))

    recorder = BufferedRecorder(dead, flush_interval_s=0.01, retry_max_s=0.05)
    for i in range(5):
        recorder(*served(i))
    started = time.monotonic()
    recorder.close(timeout_s=0.5)
    assert time.monotonic() - started < 5 and recorder.stats.lost == 5


def test_searches_already_stored_are_skipped_and_early_clicks_get_their_position(database: str) -> None:
    when = "2026-11-30T10:00:00Z"
    with session_scope(database) as session:
        EventStore("key").ingest(session, [
            {"event_id": "e1", "type": "search", "search_id": "s1", "query": "query 1", "results": ["p0", "p1"],
             "ts": when},
            {"event_id": "e2", "type": "click", "search_id": "s2", "product_id": "p1", "ts": when}])
    DatabaseImpressionRecorder(database, "key").write(
        [ServedPage(*served(1)[:4], tuple(served(1)[4])), ServedPage(*served(2)[:4], tuple(served(2)[4]))])
    with session_scope(database) as session:
        assert session.get(Search, "s1").source == "events"  # the events API's copy stays as it was
        assert session.scalar(select(func.count()).select_from(Impression).where(Impression.search_id == "s1")) == 2
        assert session.scalar(select(Interaction.position).where(Interaction.event_id == "e2")) == 2
