"""The behaviour the features read: immutable records in time order, cut at a point in time.

Learning to rank trains on past searches, and a feature computed for a search at time ``t`` must
see only what had happened before ``t``: a click that came later is the label, not a feature.
:meth:`BehaviourLog.before` is that guarantee in one place, and every feature goes through it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TypeVar

from ltr.features.clock import require_aware


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """A search as served: who asked, in which session. Counted even when it showed nothing."""

    ts: datetime
    search_id: str
    user_id: str | None
    session_id: str | None


@dataclass(frozen=True, slots=True)
class ShownRecord:
    """One product on one result page; ``ts`` is when the search was served."""

    ts: datetime
    search_id: str
    user_id: str | None
    product_id: str
    position: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """A click, add_to_cart or purchase; ``search_id`` is None when the action came from elsewhere."""

    ts: datetime
    type: str
    user_id: str | None
    session_id: str | None
    product_id: str
    search_id: str | None


R = TypeVar("R", SearchRecord, ShownRecord, ActionRecord)


_STAMPS = {"searches": "_search_ts", "shown": "_shown_ts", "actions": "_action_ts"}


def _sorted(records: Iterable[R]) -> tuple[tuple[R, ...], tuple[datetime, ...]]:
    ordered = tuple(sorted(records, key=attrgetter("ts")))  # stable: equal times keep their order
    return ordered, tuple(r.ts for r in ordered)


def _cut(stamps: tuple[datetime, ...], start: datetime | None, end: datetime | None) -> slice:
    lo = 0 if start is None else bisect_left(stamps, start)
    hi = len(stamps) if end is None else bisect_left(stamps, end)
    return slice(lo, max(lo, hi))


class BehaviourLog:
    """Searches, impressions and actions, each in time order, immutable.

    Every cut is half-open, ``[start, end)``: an event exactly at ``end`` is excluded, because a
    search served at ``t`` must not see the click that happened at the same instant.
    """

    __slots__ = ("searches", "shown", "actions", "_search_ts", "_shown_ts", "_action_ts")

    searches: tuple[SearchRecord, ...]
    shown: tuple[ShownRecord, ...]
    actions: tuple[ActionRecord, ...]

    def __init__(self, searches: Iterable[SearchRecord] = (), shown: Iterable[ShownRecord] = (),
                 actions: Iterable[ActionRecord] = ()) -> None:
        for name, records in (("searches", searches), ("shown", shown), ("actions", actions)):
            ordered, stamps = _sorted(records)
            object.__setattr__(self, name, ordered)
            object.__setattr__(self, _STAMPS[name], stamps)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"BehaviourLog is immutable; cannot set {name}")

    def between(self, start: datetime | None, end: datetime | None) -> BehaviourLog:
        """What happened at or after ``start`` and strictly before ``end`` (None: unbounded)."""
        start = None if start is None else require_aware(start, "start")
        end = None if end is None else require_aware(end, "end")
        cut = BehaviourLog.__new__(BehaviourLog)  # already sorted: slice, do not sort again
        for name, stamps_name in _STAMPS.items():
            stamps: tuple[datetime, ...] = getattr(self, stamps_name)
            part = _cut(stamps, start, end)
            object.__setattr__(cut, name, getattr(self, name)[part])
            object.__setattr__(cut, stamps_name, stamps[part])
        return cut

    def before(self, t: datetime) -> BehaviourLog:
        """Only what happened strictly before ``t``: the point-in-time view of the log."""
        return self.between(None, t)

    def window(self, at: datetime, window_days: float | None) -> BehaviourLog:
        """The last ``window_days`` before ``at`` (``[at - window, at)``); None means all history."""
        if window_days is None:
            return self.before(at)
        if window_days <= 0:
            raise ValueError(f"window_days must be positive, got {window_days}")
        at = require_aware(at)
        return self.between(at - timedelta(days=window_days), at)

    def __len__(self) -> int:
        return len(self.searches) + len(self.shown) + len(self.actions)

    def __repr__(self) -> str:
        return f"BehaviourLog({len(self.searches)} searches, {len(self.shown)} shown, {len(self.actions)} actions)"
