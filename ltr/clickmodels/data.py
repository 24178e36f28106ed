"""The click log that click models read: one row per displayed result page, padded to a fixed depth.

Dense (sessions x depth) arrays let every model run its E and M steps as whole-array numpy
operations; ids index into vocabularies kept beside them, so a split or subset shares the
vocabularies (and hence the ids) of the log it came from.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD = -1  # doc id of a position the page did not fill


@dataclass(frozen=True, eq=False)
class ClickLog:
    """``doc_ids[s, r]`` was shown at position r+1 of session s (-1: short page); ``clicks`` marks clicks."""

    query_ids: np.ndarray  # (n,) int32
    doc_ids: np.ndarray  # (n, depth) int32, PAD after the last result of a short page
    clicks: np.ndarray  # (n, depth) bool, False where padded
    queries: list[str]
    docs: list[str]

    def __post_init__(self) -> None:
        query_ids = np.asarray(self.query_ids, dtype=np.int32)
        doc_ids = np.asarray(self.doc_ids, dtype=np.int32)
        clicks = np.asarray(self.clicks, dtype=bool)
        if doc_ids.ndim != 2 or clicks.shape != doc_ids.shape or query_ids.shape != (doc_ids.shape[0],):
            raise ValueError(f"shapes disagree: query_ids {query_ids.shape}, doc_ids {doc_ids.shape}, "
                             f"clicks {clicks.shape}")
        shown = doc_ids != PAD
        if np.any(clicks & ~shown):
            raise ValueError("clicks on padded positions")
        if np.any(shown[:, 1:] & ~shown[:, :-1]):
            raise ValueError("padding must only follow the last result of a page")
        if query_ids.size and (query_ids.min() < 0 or query_ids.max() >= len(self.queries)):
            raise ValueError("query id out of range")
        if shown.any() and (doc_ids.min() < PAD or doc_ids.max() >= len(self.docs)):
            raise ValueError("doc id out of range")
        object.__setattr__(self, "query_ids", query_ids)
        object.__setattr__(self, "doc_ids", doc_ids)
        object.__setattr__(self, "clicks", clicks)

    @classmethod
    def from_sessions(cls, sessions: Iterable[tuple[str, Sequence[str], Collection[str]]],
                      depth: int = 10) -> ClickLog:
        """Build from (query, results in displayed order, clicked products), one row per item.

        Results beyond ``depth`` are cut; clicks on products not shown in the first ``depth``
        are ignored (they cannot be tied to a position). A product listed twice on a page takes
        its click at its first position.
        """
        if depth < 1:
            raise ValueError("depth must be at least 1")
        query_index: dict[str, int] = {}
        doc_index: dict[str, int] = {}
        query_ids: list[int] = []
        rows: list[list[int]] = []
        click_rows: list[list[bool]] = []
        padding = [PAD] * depth
        no_clicks = [False] * depth
        for query, results, clicked in sessions:
            query_ids.append(query_index.setdefault(query, len(query_index)))
            shown = list(results[:depth])
            rows.append([doc_index.setdefault(d, len(doc_index)) for d in shown] + padding[len(shown):])
            if not clicked:
                click_rows.append(no_clicks)
                continue
            clicked = clicked if isinstance(clicked, (set, frozenset)) else set(clicked)
            seen: set[str] = set()
            row = []
            for d in shown:
                row.append(d in clicked and d not in seen)
                seen.add(d)
            click_rows.append(row + no_clicks[len(row):])
        n = len(query_ids)
        return cls(query_ids=np.array(query_ids, dtype=np.int32),
                   doc_ids=np.array(rows, dtype=np.int32).reshape(n, depth),
                   clicks=np.array(click_rows, dtype=bool).reshape(n, depth),
                   queries=list(query_index), docs=list(doc_index))

    @property
    def n_sessions(self) -> int:
        return int(self.doc_ids.shape[0])

    @property
    def depth(self) -> int:
        return int(self.doc_ids.shape[1])

    @property
    def shown(self) -> np.ndarray:
        """(n, depth) bool: the position held a result."""
        return self.doc_ids != PAD

    @property
    def n_impressions(self) -> int:
        return int(np.count_nonzero(self.shown))

    def subset(self, mask: np.ndarray) -> ClickLog:
        """The sessions selected by a boolean mask or an index array; vocabularies are shared."""
        return ClickLog(self.query_ids[mask], self.doc_ids[mask], self.clicks[mask], self.queries, self.docs)

    def split(self, held_out: float, seed: int) -> tuple[ClickLog, ClickLog]:
        """(train, held-out), split by session at random; the same seed gives the same split."""
        if not 0.0 < held_out < 1.0:
            raise ValueError("held_out must be strictly between 0 and 1")
        n_test = round(self.n_sessions * held_out)
        if n_test == 0 or n_test == self.n_sessions:
            raise ValueError(f"cannot hold out {held_out:.0%} of {self.n_sessions} sessions and keep both parts")
        test = np.zeros(self.n_sessions, dtype=bool)
        test[np.random.default_rng(seed).permutation(self.n_sessions)[:n_test]] = True
        return self.subset(~test), self.subset(test)
