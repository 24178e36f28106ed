"""Writing served searches in bulk: shared by the storefront's recorder and the events API.

Both sides can learn of the same search (the storefront served it, and a shop's backend replays
it as a ``search`` event), and a shopper's click can arrive before the search it belongs to is
written (the storefront writes its searches in batches, off the request path). So writers skip
search ids already stored, and every write of new searches gives the interactions that arrived
early the position their search showed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, Search

CHUNK = 500  # ids per IN (...) clause: well under SQLite's bound-parameter limit


def chunks(values: Sequence[str], size: int = CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def existing(session: Session, column: Any, values: Iterable[str]) -> set[str]:
    """Which of ``values`` the (unique) ``column`` already holds."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(values))):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def insert_searches(session: Session, searches: Sequence[dict[str, Any]],
                    impressions: Sequence[dict[str, Any]]) -> None:
    """Insert ``searches`` rows and their ``impressions`` rows, then attribute early interactions.

    The caller has removed search ids already stored (:func:`existing`); rows are plain dicts of
    column values, so thousands go in a few statements.
    """
    if not searches:
        return
    # Core inserts (executemany) rather than ORM bulk inserts: a third of the CPU per row, which the
    # API's recorder thread would otherwise take from the searches.
    session.execute(insert(Search.__table__), list(searches))
    if impressions:
        session.execute(insert(Impression.__table__), list(impressions))
    attribute_late_interactions(session, [row["search_id"] for row in searches])


def attribute_late_interactions(session: Session, search_ids: Sequence[str]) -> None:
    """Interactions that arrived before their search get the position the search showed."""
    position = (select(Impression.position)
                .where(and_(Impression.search_id == Interaction.search_id,
                            Impression.product_id == Interaction.product_id))
                .order_by(Impression.position).limit(1).scalar_subquery())
    for chunk in chunks(list(search_ids)):
        session.execute(update(Interaction)
                        .where(Interaction.search_id.in_(chunk), Interaction.position.is_(None))
                        .values(position=position))
