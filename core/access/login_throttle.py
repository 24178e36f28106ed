"""Login rate limiting from the audit log, so every server process and restart sees the same count."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.db.models import AuditEntry, utcnow

FAILED_LOGIN = "login.failed"


def recent_failures(session: Session, username: str, remote_addr: str | None, window_s: float,
                    now: datetime | None = None) -> int:
    """Failed logins in the window for this username or from this address (either is throttled)."""
    since = (now or utcnow()) - timedelta(seconds=window_s)
    who = []
    if username.strip():
        who.append(AuditEntry.target == username.strip().lower())
    if remote_addr:
        who.append(AuditEntry.remote_addr == remote_addr)
    if not who:
        return 0
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == FAILED_LOGIN, AuditEntry.at >= since, or_(*who))) or 0


def is_throttled(failures: int, limit: int) -> bool:
    return failures >= limit
