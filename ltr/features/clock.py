"""Time helpers shared by the features: one notion of "UTC" and one decay curve.

Point-in-time correctness depends on comparing timestamps that mean the same thing, so every
timestamp entering the features is an aware UTC datetime; a naive one is refused rather than
guessed, because a guess would silently shift every window by the server's offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

SECONDS_PER_DAY = 86_400.0


def stored_utc(value: datetime) -> datetime:
    """A timestamp read from the database as aware UTC (SQLite hands back naive UTC values)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def require_aware(value: datetime, what: str = "at") -> datetime:
    """``value`` in UTC; a naive datetime is an error, not a guess."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{what} must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc)), got {value!r}")
    return value.astimezone(timezone.utc)


def decay(age: timedelta, half_life_days: float) -> float:
    """Weight of something ``age`` old: 1 now, 1/2 after one half-life, 1/4 after two."""
    return 0.5 ** ((age.total_seconds() / SECONDS_PER_DAY) / half_life_days)
