"""Where one default search spends its time at one client, on never-seen queries.

Usage: .venv/bin/python bench/default_path_breakdown.py [--queries 300] [--explain]

The storefront's default path (the served tuning, the active model) ranks distinct Home Depot train-split
queries one at a time with ``debug`` on, and the bench prints the median of each stage the service times:
encoding the query, the first stage's ``_msearch``, fusion, the rerank (the engine's ``sltr`` request), and
the total; then the wall time of the same path without debug on as many other queries. Explanations
(LightGBM TreeSHAP on the page) are left out unless ``--explain``: they are not on the storefront's path.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from storefront.rerank_stage import current_reranker  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300, help="distinct queries per pass")
    parser.add_argument("--explain", action="store_true", help="keep the debug explanations (TreeSHAP)")
    parser.add_argument("--seed", type=int, default=7, help="shuffles which train queries are timed")
    args = parser.parse_args()
    service = storefront_service(get_settings(), record=False)
    live = current_reranker(service.reranker)
    if live.name == "none":
        raise SystemExit("no model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
    if not args.explain:
        live.explain = lambda query, page, context: []  # type: ignore[method-assign]
    train = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(args.seed).shuffle(train)
    warm, timed, plain = train[:30], train[30:30 + args.queries], train[30 + args.queries:30 + 2 * args.queries]
    for query in warm:
        service.search(SearchRequest(query=query, debug=True), record=False)
    stages: dict[str, list[float]] = {}
    for query in timed:
        result = service.search(SearchRequest(query=query, debug=True), record=False)
        for stage, ms in result.debug["latency_ms"].items():
            stages.setdefault(stage, []).append(ms)
    walls = []
    for query in plain:
        started = time.perf_counter()
        service.search(SearchRequest(query=query), record=False)
        walls.append((time.perf_counter() - started) * 1000)
    walls.sort()
    print(f"model {live.name}; {len(timed)} + {len(plain)} never-seen train queries, one client")
    for stage, values in stages.items():
        print(f"  {stage:16} p50 {statistics.median(values):6.2f} ms  mean {statistics.fmean(values):6.2f}")
    print(f"  {'wall, no debug':16} p50 {statistics.median(walls):6.2f} ms  p99 {walls[int(0.99 * len(walls))]:6.2f}")


if __name__ == "__main__":
    main()
