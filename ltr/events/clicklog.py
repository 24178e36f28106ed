"""Read the stored searches, impressions and clicks back as click-model input.

Only the first ``depth`` positions are read (page 1 of a normal storefront): examination is a
property of positions on screen, and deeper pages are too sparse to estimate. Queries are the
normalised text, so "Deck Screws" and "deck screws" share their estimates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, Search
from ltr.features.clock import stored_utc

def _search_window(since: datetime | None, until: datetime | None) -> list:
    """SQL conditions for searches made in ``[since, until)`` (None: unbounded)."""
    return [c for c in (None if since is None else Search.created_at >= since,
                        None if until is None else Search.created_at < until) if c is not None]


SessionClicks = tuple[str, list[str], set[str]]  # (query, results in displayed order, clicked products)


def iter_click_sessions(session: Session, depth: int = 10, since: datetime | None = None,
                        until: datetime | None = None) -> Iterator[SessionClicks]:
    """One item per stored search with at least one impression in the top ``depth`` positions."""
    window = _search_window(since, until)
    clicked: dict[str, set[str]] = defaultdict(set)
    click_rows = (select(Interaction.search_id, Interaction.product_id)
                  .join(Search, Search.search_id == Interaction.search_id)
                  .where(Interaction.type == "click", *window))
    for search_id, product in session.execute(click_rows):
        clicked[search_id].add(product)
    rows = (select(Search.search_id, Search.normalized_query, Impression.product_id, Impression.position)
            .join(Impression, Impression.search_id == Search.search_id)
            .where(Impression.position <= depth, *window)
            .order_by(Search.search_id, Impression.position))
    current: str | None = None
    query, results = "", []
    for search_id, normalized_query, product, _position in session.execute(rows).yield_per(10_000):
        if search_id != current:
            if current is not None:
                yield query, results, clicked.get(current, set())
            current, query, results = search_id, normalized_query, []
        results.append(product)
    if current is not None:
        yield query, results, clicked.get(current, set())


#: Label of a shown product in one search: the strongest thing the shopper did with it there.
ACTION_GRADES = {"click": 1, "add_to_cart": 2, "purchase": 3}


@dataclass(frozen=True)
class LoggedSearch:
    """One stored search as a training group: who searched what, what was shown where, what they did."""

    search_id: str
    query: str  # normalised
    user_id: str | None  # pseudonym
    session_id: str | None
    at: datetime  # aware UTC
    shown: tuple[tuple[str, int], ...]  # (product id, 1-based position), displayed order
    grades: Mapping[str, int]  # product id -> ACTION_GRADES value (absent: shown, nothing done)


def iter_logged_searches(session: Session, depth: int = 10, since: datetime | None = None,
                         until: datetime | None = None) -> Iterator[LoggedSearch]:
    """Stored searches in ``[since, until)`` with their top-``depth`` impressions and action grades, by time."""
    window = _search_window(since, until)
    grades: dict[str, dict[str, int]] = defaultdict(dict)
    action_rows = (select(Interaction.search_id, Interaction.product_id, Interaction.type)
                   .join(Search, Search.search_id == Interaction.search_id)
                   .where(Interaction.type.in_(ACTION_GRADES), *window))
    for search_id, product, kind in session.execute(action_rows):
        done = grades[search_id]
        done[product] = max(done.get(product, 0), ACTION_GRADES[kind])
    rows = (select(Search.search_id, Search.normalized_query, Search.user_id, Search.session_id, Search.created_at,
                   Impression.product_id, Impression.position)
            .join(Impression, Impression.search_id == Search.search_id)
            .where(Impression.position <= depth, *window)
            .order_by(Search.created_at, Search.search_id, Impression.position))
    head: tuple | None = None
    shown: list[tuple[str, int]] = []
    for search_id, query, user, session_id, created, product, position in session.execute(rows).yield_per(10_000):
        if head is None or search_id != head[0]:
            if head is not None:
                yield LoggedSearch(*head, tuple(shown), grades.get(head[0], {}))
            head, shown = (search_id, query, user, session_id, stored_utc(created)), []
        shown.append((product, position))
    if head is not None:
        yield LoggedSearch(*head, tuple(shown), grades.get(head[0], {}))
