"""Retention: events older than the configured number of days are deleted, users with them.

Deleting is the privacy promise made to shoppers, so it covers every table that holds
behaviour: searches (with their impressions), interactions, the event-id ledger, and users
not seen since the cut-off.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import migrate
from core.db.session import session_scope
from core.db.models import Impression, Interaction, ProcessedEvent, Search, User


@dataclass(frozen=True)
class PurgeReport:
    cutoff: str
    searches: int
    impressions: int
    interactions: int
    ledger: int
    users: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def purge_events(session: Session, retention_days: int, now: datetime | None = None) -> PurgeReport:
    """Delete everything that happened before ``now - retention_days`` (inside the caller's transaction)."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
    old_searches = select(Search.search_id).where(Search.created_at < cutoff)
    impressions = session.execute(delete(Impression).where(Impression.search_id.in_(old_searches)))
    searches = session.execute(delete(Search).where(Search.created_at < cutoff))
    interactions = session.execute(delete(Interaction).where(Interaction.occurred_at < cutoff))
    ledger = session.execute(delete(ProcessedEvent).where(ProcessedEvent.occurred_at < cutoff))
    users = session.execute(delete(User).where(User.last_seen < cutoff))
    return PurgeReport(cutoff=cutoff.isoformat(), searches=searches.rowcount, impressions=impressions.rowcount,
                       interactions=interactions.rowcount, ledger=ledger.rowcount, users=users.rowcount)


def purge_expired(database_url: str, retention_days: int) -> PurgeReport:
    """The retention purge as every face runs it (CLI, worker): one transaction on the configured database."""
    migrate.ensure_current(database_url)
    with session_scope(database_url) as session:
        return purge_events(session, retention_days)
