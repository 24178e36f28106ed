"""Daily search and click volumes, CTR and zero-result rate: what the console plots over time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from core.db.models import Impression, Interaction, Search


def _day(session: Session, column) -> ColumnElement:  # type: ignore[no-untyped-def]
    """The calendar day (UTC) of a timestamp column, in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


def daily_volumes(session: Session, days: int = 30, now: datetime | None = None) -> list[dict]:
    """One row per day of the window, oldest first (days without traffic included, as zeros)."""
    end = (now or datetime.now(timezone.utc)).date()
    start = end - timedelta(days=days - 1)
    since = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc)
    search_day = _day(session, Search.created_at)
    no_results = ~exists().where(Impression.search_id == Search.search_id)
    searches = dict(session.execute(select(search_day, func.count()).where(Search.created_at >= since)
                                    .group_by(search_day)).all())
    empty = dict(session.execute(select(search_day, func.count()).where(Search.created_at >= since, no_results)
                                 .group_by(search_day)).all())
    click_day = _day(session, Interaction.occurred_at)
    clicks = dict(session.execute(select(click_day, func.count()).where(
        Interaction.occurred_at >= since, Interaction.type == "click").group_by(click_day)).all())
    rows = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        n, c = searches.get(day, 0), clicks.get(day, 0)
        rows.append({"day": day, "searches": n, "clicks": c, "ctr": c / n if n else None,
                     "zero_result_rate": empty.get(day, 0) / n if n else None})
    return rows


def totals(session: Session) -> dict[str, int]:
    return {"searches": session.scalar(select(func.count()).select_from(Search)) or 0,
            "interactions": session.scalar(select(func.count()).select_from(Interaction)) or 0,
            "impressions": session.scalar(select(func.count()).select_from(Impression)) or 0}


def as_dates(rows: list[dict]) -> list[date]:
    return [date.fromisoformat(r["day"]) for r in rows]
