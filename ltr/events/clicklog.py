"""Read the stored searches, impressions and clicks back as click-model input.

Only the first ``depth`` positions are read (page 1 of a normal storefront): examination is a
property of positions on screen, and deeper pages are too sparse to estimate. Queries are the
normalised text, so "Deck Screws" and "deck screws" share their estimates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, Search

SessionClicks = tuple[str, list[str], set[str]]  # (query, results in displayed order, clicked products)


def iter_click_sessions(session: Session, depth: int = 10, since: datetime | None = None,
                        until: datetime | None = None) -> Iterator[SessionClicks]:
    """One item per stored search with at least one impression in the top ``depth`` positions."""
    window = []
    if since is not None:
        window.append(Search.created_at >= since)
    if until is not None:
        window.append(Search.created_at < until)
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
