"""(query, doc) pairs: the unit that carries attractiveness and satisfaction in every click model.

Pairs are found with one ``np.unique`` over an int64 key (query id * number of docs + doc id), so
mapping a whole log to pair indices is vectorised. The table keeps the vocabularies of the log it
was built from; another log (even one built separately, with other ids) is mapped through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ltr.clickmodels.data import PAD, ClickLog

UNSEEN = -1  # pair index of a padded cell or of a pair the table does not hold


@dataclass(frozen=True, eq=False)
class PairIndex:
    """Pair i is (queries[query_ids[i]], docs[doc_ids[i]]); pairs are sorted by their int64 key."""

    queries: list[str]
    docs: list[str]
    query_ids: np.ndarray  # (n_pairs,) int32
    doc_ids: np.ndarray  # (n_pairs,) int32

    @classmethod
    def from_log(cls, log: ClickLog) -> tuple[PairIndex, np.ndarray]:
        """The pairs shown in ``log`` and the (n, depth) int64 pair index of each cell (UNSEEN if padded)."""
        shown, n_docs = log.shown, max(len(log.docs), 1)
        keys = log.query_ids.astype(np.int64)[:, None] * n_docs + log.doc_ids
        unique, inverse = np.unique(keys[shown], return_inverse=True)
        cells = np.full(log.doc_ids.shape, UNSEEN, dtype=np.int64)
        cells[shown] = inverse
        index = cls(queries=log.queries, docs=log.docs,
                    query_ids=(unique // n_docs).astype(np.int32), doc_ids=(unique % n_docs).astype(np.int32))
        return index, cells

    def __len__(self) -> int:
        return int(self.query_ids.shape[0])

    def key(self, i: int) -> tuple[str, str]:
        return self.queries[int(self.query_ids[i])], self.docs[int(self.doc_ids[i])]

    @cached_property
    def _keys(self) -> np.ndarray:
        return self.query_ids.astype(np.int64) * max(len(self.docs), 1) + self.doc_ids

    def lookup(self, log: ClickLog) -> np.ndarray:
        """(n, depth) int64 pair index of each cell of ``log``; UNSEEN where padded or not in the table."""
        cells = np.full(log.doc_ids.shape, UNSEEN, dtype=np.int64)
        if len(self) == 0 or not log.docs:
            return cells
        query_map = self._ids(log.queries, self.queries, "_query_index")
        doc_map = self._ids(log.docs, self.docs, "_doc_index")
        query_ids = query_map[log.query_ids][:, None]
        doc_ids = np.where(log.shown, doc_map[np.maximum(log.doc_ids, 0)], PAD)
        known = (doc_ids != PAD) & (query_ids != PAD)
        keys = query_ids.astype(np.int64) * max(len(self.docs), 1) + doc_ids
        found = np.minimum(np.searchsorted(self._keys, keys), len(self) - 1)
        hit = known & (self._keys[found] == keys)
        cells[hit] = found[hit]
        return cells

    def _ids(self, source: list[str], target: list[str], index_name: str) -> np.ndarray:
        """Map ids of ``source`` to ids of ``target`` (PAD where absent); identity for the same list."""
        if source is target:
            return np.arange(len(source), dtype=np.int32)
        index: dict[str, int] = getattr(self, index_name)
        return np.fromiter((index.get(s, PAD) for s in source), dtype=np.int32, count=len(source))

    @cached_property
    def _query_index(self) -> dict[str, int]:
        return {q: i for i, q in enumerate(self.queries)}

    @cached_property
    def _doc_index(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.docs)}

