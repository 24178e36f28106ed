"""Daily search and click volumes, CTR and zero-result rate: what the console plots over time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import ColumnElement, case, exists, func, select
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


def exploration_clicks(session: Session, days: int = 28, now: datetime | None = None) -> list[dict]:
    """First-page impressions and their clicks per position, ranked results apart from exploration slots.

    What exploring costs the shoppers (the slots' CTR against the ranked results' at the same positions) and
    what it finds (clicks on products the ranking had left deeper), read from what was stored, not simulated.
    """
    since = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    clicked = exists().where(Interaction.search_id == Impression.search_id,
                             Interaction.product_id == Impression.product_id, Interaction.type == "click")
    rows = session.execute(
        select(Impression.position, Impression.explored, func.count(), func.sum(case((clicked, 1), else_=0)))
        .join(Search, Search.search_id == Impression.search_id)
        .where(Search.created_at >= since, Impression.page == 1)
        .group_by(Impression.position, Impression.explored).order_by(Impression.position, Impression.explored)).all()
    return [{"position": position, "explored": bool(explored), "impressions": n, "clicks": int(c or 0),
             "ctr": (c or 0) / n if n else None} for position, explored, n, c in rows]
