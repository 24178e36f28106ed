"""What the engine-cost benches share: an ids search over given candidates, a stored featureset as an
``sltr`` rescore (no model: every feature computed), and a timer that reports the second of two rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from indexer import schema


def ids_search(ids: Sequence[str]) -> dict:
    """A search that returns exactly these products, their ids read from doc values."""
    return {"size": len(ids), "stored_fields": "_none_", "docvalue_fields": [schema.ID], "track_total_hits": False,
            "query": {"ids": {"values": list(ids)}}}


def featureset_rescore(featureset: str, store: str, params: Mapping[str, Any], window: int) -> dict:
    """A rescore whose score is the stored featureset's (nothing learned), so its cost is the features'."""
    return {"window_size": window, "query": {
        "rescore_query": {"sltr": {"featureset": featureset, "store": store, "params": dict(params)}},
        "query_weight": 0.0, "rescore_query_weight": 1.0}}


def timed(queries: Sequence[str], run: Callable[[str], Any]) -> tuple[float, float | None]:
    """Median client-side milliseconds per query and the mean server ``took`` (when ``run`` returns a
    search response), of the second of two rounds: the first warms caches up."""
    for _round in range(2):
        wall, took = [], []
        for query in queries:
            started = time.perf_counter()
            response = run(query)
            wall.append((time.perf_counter() - started) * 1000)
            if isinstance(response, dict) and "took" in response:
                took.append(response["took"])
    return statistics.median(wall), statistics.fmean(took) if took else None
