"""Storefront search latency and throughput: BM25-only against hybrid, in the same run.

Usage: .venv/bin/python bench/search_latency.py [--queries 300] [--clients 1 4 16] [--index products]

Needs the Home Depot catalogue indexed (`make demo` does it). Clients are threads that call the search
service, which is the same code the HTTP API runs, each sending the judged test-split queries in turn.
Every query is unique within a pass, so the query-vector cache is cold on the first pass. The second pass
shows a warm cache, as on a storefront where popular queries repeat.

For each configuration and concurrency level it reports p50, p95 and p99 latency and QPS. The hybrid p50
is also given as a ratio to the BM25 p50 measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(service, queries: list[str], config: str, clients: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []

    def one(query: str) -> None:
        started = time.perf_counter()
        service.search(SearchRequest(query=query, size=10, config=config), record=False)
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, queries))
    elapsed = time.perf_counter() - started
    return {"p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99), "qps": len(queries) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--index", default=None)
    parser.add_argument("--hybrid", default="hybrid-minmax")
    args = parser.parse_args()

    settings = get_settings()
    service = build_search_service(settings, args.index, record=False)
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "test"))[: args.queries]
    run(service, queries[:20], "bm25", 1)  # warm up JIT paths and connections
    print(f"{len(queries)} Home Depot test queries per pass, index {service.index}")
    print(f"{'config':12} {'pass':5} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'QPS':>7} {'p50 / bm25':>11}")
    for clients in args.clients:
        service.encoder._items.clear()  # cold query-vector cache for each concurrency level
        bm25 = run(service, queries, "bm25", clients)
        rows = [("bm25", "-", bm25), (args.hybrid, "cold", run(service, queries, args.hybrid, clients)),
                (args.hybrid, "warm", run(service, queries, args.hybrid, clients))]
        for name, cache, stats in rows:
            print(f"{name:12} {cache:5} {clients:7d} {stats['p50']:8.1f} {stats['p95']:8.1f} {stats['p99']:8.1f} "
                  f"{stats['qps']:7.1f} {stats['p50'] / bm25['p50']:11.2f}")


if __name__ == "__main__":
    main()
