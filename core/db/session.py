"""Engine and session factory for the configured database URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One pooled engine per URL.

    SQLite gets its folder created, foreign keys enforced, WAL journaling (readers never wait for the
    writer, so a search reading profiles or the registry is not held up by a batch of recorded
    impressions) and a busy timeout (a writer waits for the lock instead of failing at once).
    PostgreSQL connections are checked before use, so a restarted server costs no failed request.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, future=True, pool_pre_ping=True)
    busy_timeout = get_settings().database_busy_timeout_s
    on_disk = parsed.database not in (None, "", ":memory:")
    if on_disk:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if on_disk:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's durable-enough setting: fsync at checkpoints
        cursor.close()

    return engine


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = sessionmaker(engine_for(url), expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
