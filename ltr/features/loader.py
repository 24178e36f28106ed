"""The one place features touch the database: stored behaviour in, a :class:`BehaviourLog` out.

An impression has no time of its own; it happened when its search was served, so it takes the
search's ``created_at`` (and its user). All timestamps leave here as aware UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, Search, User
from ltr.features.clock import require_aware, stored_utc
from ltr.features.records import ActionRecord, BehaviourLog, SearchRecord, ShownRecord


def load_behaviour(session: Session, since: datetime | None = None, until: datetime | None = None, *,
                   user_id: str | None = None) -> BehaviourLog:
    """Searches, impressions and interactions in ``[since, until)`` (None: unbounded).

    ``user_id`` (a stored pseudonym) narrows everything to one shopper, which is all a user
    profile needs; product features need everyone's behaviour and leave it out.
    """
    since = None if since is None else require_aware(since, "since")
    until = None if until is None else require_aware(until, "until")
    search_filter = []
    action_filter = []
    if since is not None:
        search_filter.append(Search.created_at >= since)
        action_filter.append(Interaction.occurred_at >= since)
    if until is not None:
        search_filter.append(Search.created_at < until)
        action_filter.append(Interaction.occurred_at < until)
    if user_id is not None:
        search_filter.append(Search.user_id == user_id)
        action_filter.append(Interaction.user_id == user_id)

    searches = [SearchRecord(stored_utc(ts), search_id, user, session_id) for search_id, user, session_id, ts in
                session.execute(select(Search.search_id, Search.user_id, Search.session_id, Search.created_at)
                                .where(*search_filter).order_by(Search.created_at))]
    shown = [ShownRecord(stored_utc(ts), search_id, user, product_id, position)
             for ts, search_id, user, product_id, position in session.execute(
                 select(Search.created_at, Search.search_id, Search.user_id, Impression.product_id,
                        Impression.position)
                 .join(Impression, Impression.search_id == Search.search_id)
                 .where(*search_filter).order_by(Search.created_at, Impression.position)).yield_per(10_000)]
    actions = [ActionRecord(stored_utc(ts), kind, user, session_id, product_id, search_id)
               for ts, kind, user, session_id, product_id, search_id in session.execute(
                   select(Interaction.occurred_at, Interaction.type, Interaction.user_id, Interaction.session_id,
                          Interaction.product_id, Interaction.search_id)
                   .where(*action_filter).order_by(Interaction.occurred_at, Interaction.id)).yield_per(10_000)]
    return BehaviourLog(searches, shown, actions)


def search_queries(session: Session, until: datetime | None = None) -> dict[str, str]:
    """Search id -> its normalised query, for the searches before ``until`` (None: all): what lets training
    leave a query's own searches out of the behaviour it reads."""
    query = select(Search.search_id, Search.normalized_query)
    if until is not None:
        query = query.where(Search.created_at < require_aware(until, "until"))
    return {search_id: text for search_id, text in session.execute(query)}


def user_known(session: Session, user_id: str) -> bool:
    """Whether anything is stored for this pseudonym (storefront searches create no user row)."""
    return bool(session.get(User, user_id) is not None
                or session.scalar(select(exists().where(Search.user_id == user_id)))
                or session.scalar(select(exists().where(Interaction.user_id == user_id))))
