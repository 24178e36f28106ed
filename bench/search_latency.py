"""Storefront search latency and throughput: BM25-only against hybrid, in the same run.

Usage: .venv/bin/python bench/search_latency.py [--queries 300] [--clients 1 4 16] [--index products]
                                               [--vector-candidates 100 30 0]

Needs the Home Depot catalogue indexed (`make demo` does it). Clients are threads that call the search
service, which is the same code the HTTP API runs, each sending the judged test-split queries in turn.
Every query is unique within a pass, so the query-vector cache is cold on the first pass. Later passes
show a warm cache, as on a storefront where popular queries repeat; BM25 and the warm hybrids then run in
interleaved rounds, so the ratios compare configurations under the same load.

For each configuration and concurrency level it reports p50, p95 and p99 latency and QPS. The hybrid p50
is also given as a ratio to the BM25 p50 measured in the same run. With several ``--vector-candidates``
the warm hybrid is also run at each k-NN depth (k=0: no k-NN query; only BM25's candidates, fused with
their exact cosines).
"""

from __future__ import annotations

import argparse
import dataclasses
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


def timed_pass(service, queries: list[str], config: str | None, clients: int,  # type: ignore[no-untyped-def]
               rerank: bool = True) -> tuple[list[float], float]:
    """Every query once through the search service (``rerank`` False: the fused list as it is); per-query
    latencies (ms) and the wall time (s)."""
    latencies: list[float] = []

    def one(query: str) -> None:
        started = time.perf_counter()
        service.search(SearchRequest(query=query, size=10, config=config), record=False, rerank=rerank)
        latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(one, queries))
    return latencies, time.perf_counter() - started


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    return {"p50": statistics.median(latencies), "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99), "qps": len(latencies) / seconds}


def interleaved(service, queries: list[str], configs: list[str], clients: int, rounds: int,  # type: ignore[no-untyped-def]
                ) -> dict[str, dict[str, float]]:
    """Passes of every configuration in turn, the order rotating each round, so that drift in the
    machine's load (JIT, caches, other processes) falls on all configurations alike."""
    latencies: dict[str, list[float]] = {name: [] for name in configs}
    seconds = dict.fromkeys(configs, 0.0)
    for round_ in range(rounds):
        for name in configs[round_ % len(configs):] + configs[: round_ % len(configs)]:
            lat, secs = timed_pass(service, queries, name, clients)
            latencies[name] += lat
            seconds[name] += secs
    return {name: summary(latencies[name], seconds[name]) for name in configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--index", default=None)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved warm passes per configuration")
    parser.add_argument("--hybrid", default="hybrid-minmax")
    parser.add_argument("--vector-candidates", type=int, nargs="*", default=[],
                        help="extra k-NN depths to time the warm hybrid at (default: the configured one only)")
    args = parser.parse_args()

    settings = get_settings()
    service = build_search_service(settings, args.index, record=False)
    hybrid = service.configs[args.hybrid]
    depths = {}
    for k in args.vector_candidates:
        name = f"{args.hybrid} k={k}"
        service.configs[name] = dataclasses.replace(hybrid, name=name, vector_candidates=k)
        depths[name] = k
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "test"))[: args.queries]
    timed_pass(service, queries[:20], "bm25", 1)  # warm up JIT paths and connections
    print(f"{len(queries)} Home Depot test queries per pass, index {service.index}, "
          f"{args.hybrid} k-NN depth {hybrid.knn_k}")
    print(f"{'config':20} {'pass':5} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'QPS':>7} {'p50 / bm25':>11}")
    for clients in args.clients:
        service.encoder.clear()  # cold query-vector cache for each concurrency level
        cold = summary(*timed_pass(service, queries, args.hybrid, clients))  # encodes every query
        warm = interleaved(service, queries, ["bm25", args.hybrid, *depths], clients, args.rounds)
        bm25 = warm["bm25"]
        rows = [("bm25", "-", bm25), (args.hybrid, "cold", cold), (args.hybrid, "warm", warm[args.hybrid])]
        rows += [(name, "warm", warm[name]) for name in depths]
        for name, cache, stats in rows:
            print(f"{name:20} {cache:5} {clients:7d} {stats['p50']:8.1f} {stats['p95']:8.1f} {stats['p99']:8.1f} "
                  f"{stats['qps']:7.1f} {stats['p50'] / bm25['p50']:11.2f}")


if __name__ == "__main__":
    main()
