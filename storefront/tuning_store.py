"""Versioned search tunings in SQL, and the live one as a running storefront sees it.

Versions are immutable: saving a change adds a version (a draft), going live marks it ``live`` and
the previous live one ``retired``; a rollback is going live with an older version. The storefront
polls for the live version, so a change is served within seconds and without a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import SearchTuningVersion, utcnow
from core.db.session import session_scope
from core.throttled_log import ThrottledWarning
from storefront.tuning import SearchTuning, ServedTuning, parse_tuning, served

log = logging.getLogger(__name__)


def save_version(session: Session, tuning: SearchTuning, by: str, note: str = "",
                 preview: dict | None = None) -> SearchTuningVersion:
    version = SearchTuningVersion(values=tuning.as_dict(), created_by=by, note=note[:2000], preview=preview,
                                  status="draft")
    session.add(version)
    session.flush()
    return version


def live_version(session: Session) -> SearchTuningVersion | None:
    return session.scalar(select(SearchTuningVersion).where(SearchTuningVersion.status == "live"))


def list_versions(session: Session, limit: int = 100) -> list[SearchTuningVersion]:
    return list(session.scalars(select(SearchTuningVersion).order_by(SearchTuningVersion.id.desc()).limit(limit)))


def get_version(session: Session, version_id: int) -> SearchTuningVersion:
    version = session.get(SearchTuningVersion, version_id)
    if version is None:
        raise LookupError(f"no tuning version {version_id}")
    return version


def activate(session: Session, version_id: int, by: str) -> tuple[SearchTuningVersion, SearchTuningVersion | None]:
    """Make a version live (the new one, or an older one: a rollback); returns (live, previous live)."""
    version = get_version(session, version_id)
    parse_tuning(version.values)  # a stored version that no longer validates never goes live
    previous = live_version(session)
    if previous is not None and previous.id == version.id:
        return version, None
    if previous is not None:
        previous.status = "retired"
        session.flush()  # the one-live index sees the old row leave before the new one arrives
    version.status, version.activated_at, version.activated_by = "live", utcnow(), by
    session.flush()
    return version, previous


def tuning_of(version: SearchTuningVersion) -> SearchTuning:
    return parse_tuning(version.values)


class LiveTuning:
    """The live tuning for a running storefront, re-read at most every ``refresh_s`` seconds.

    Until a version is live, the settings' tuning is served. A database that cannot be read keeps the
    tuning already served (logged), so a database outage never changes or stops the ranking.
    """

    def __init__(self, database_url: str, fallback: SearchTuning, refresh_s: float = 5.0) -> None:
        self.database_url, self.refresh_s = database_url, refresh_s
        self._served = served(fallback)
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self._warn = ThrottledWarning(log, 300.0)

    def current(self) -> ServedTuning:
        if time.monotonic() - self._checked_at < self.refresh_s:
            return self._served
        with self._lock:
            if time.monotonic() - self._checked_at >= self.refresh_s:
                self._refresh()
                self._checked_at = time.monotonic()
        return self._served

    def _refresh(self) -> None:
        try:
            with session_scope(self.database_url) as session:
                version = live_version(session)
                if version is None or version.id == self._served.version:
                    return
                self._served = served(tuning_of(version), version.id)
                log.info("serving search tuning version %s", version.id)
        except Exception as exc:  # noqa: BLE001 - keep serving what we have
            self._warn("live search tuning not readable (%s: %s); serving version %s", exc.__class__.__name__,
                       str(exc)[:200], self._served.version)
