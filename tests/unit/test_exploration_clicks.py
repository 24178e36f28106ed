"""Clicks on exploration slots against ranked results, read from stored impressions (a real SQLite database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.db import migrate
from core.db.models import Impression, Interaction
from core.db.session import session_scope
from ltr.events.volumes import exploration_clicks
from storefront.recording import DatabaseImpressionRecorder
from storefront.request import SearchRequest

NOW = datetime.now(timezone.utc)


def test_slots_and_ranked_results_are_counted_apart_per_position_with_their_clicks(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    migrate.upgrade(url)
    record = DatabaseImpressionRecorder(url, "key")
    # Two explored first pages (a deeper product at position 4), one plain one, and a second page that explores
    # nothing; the recorder stores the flag per impression.
    record("s1", SearchRequest(query="drill"), "hybrid-minmax", "m", [("a", 1), ("x", 4)], explored={4})
    record("s2", SearchRequest(query="drill"), "hybrid-minmax", "m", [("a", 1), ("y", 4)], explored={4})
    record("s3", SearchRequest(query="drill"), "hybrid-minmax", "m", [("a", 1), ("b", 4)])
    record("s4", SearchRequest(query="drill", page=2), "hybrid-minmax", "m", [("c", 11)])
    with session_scope(url) as session:
        assert sorted(session.query(Impression.search_id, Impression.explored).filter(Impression.position == 4)) == [
            ("s1", True), ("s2", True), ("s3", False)]
        for search_id, product_id in (("s1", "x"), ("s1", "x"), ("s3", "a"), ("s4", "c"), ("s2", "nothing-shown")):
            session.add(Interaction(type="click", search_id=search_id, product_id=product_id, occurred_at=NOW))
        session.add(Interaction(type="purchase", search_id="s2", product_id="y", occurred_at=NOW))
    with session_scope(url) as session:
        rows = exploration_clicks(session, days=28)
        # The same rows, with nothing stored within the last day: only searches of the window count.
        assert exploration_clicks(session, days=1, now=NOW + timedelta(days=3)) == []
    assert rows == [
        {"position": 1, "explored": False, "impressions": 3, "clicks": 1, "ctr": 1 / 3},
        {"position": 4, "explored": False, "impressions": 1, "clicks": 0, "ctr": 0.0},
        # two clicks on one shown product count once (an impression was clicked or not); a purchase is no click
        {"position": 4, "explored": True, "impressions": 2, "clicks": 1, "ctr": 0.5},
    ]
