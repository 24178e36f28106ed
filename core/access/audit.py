"""The audit log: an append-only record of every change a person or a key made."""

from __future__ import annotations

import getpass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import AuditEntry, utcnow


def record(session: Session, actor: str, action: str, target: str = "", detail: dict | None = None,
           remote_addr: str | None = None, at: datetime | None = None) -> AuditEntry:
    """Add one entry to the caller's transaction, so a change and its record commit (or fail) together."""
    entry = AuditEntry(actor=actor[:100], action=action, target=target[:300], detail=detail or {},
                       remote_addr=remote_addr, at=at or utcnow())
    session.add(entry)
    return entry


def command_line_actor(user: str | None = None) -> str:
    """Who an entry made by the ``shelfrank`` command names: ``cli:<user>`` (the login name unless given),
    beside the console's plain usernames; just ``cli`` where the system names no one (some containers)."""
    if not (user and user.strip()):
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name at all
            user = ""
    return f"cli:{user.strip()}" if user.strip() else "cli"


def recent(session: Session, limit: int = 200, action_prefix: str | None = None) -> list[AuditEntry]:
    statement = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action_prefix:
        statement = statement.where(AuditEntry.action.startswith(action_prefix))
    return list(session.scalars(statement))
