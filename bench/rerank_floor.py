"""The least an in-engine rerank can cost: the active model scoring each retriever's top 1 or 10 inside the
first stage's own ``_msearch`` (no second request, no Python), against that ``_msearch`` alone.

Usage: .venv/bin/python bench/rerank_floor.py [--queries 280] [--clients 1 16] [--windows 1 10]

Raw requests through the client, nothing of the search service around them, so the ratios are the engine's
own. Variants per concurrency level, in two interleaved rounds (the second in reverse order):

- ``hybrid``: the storefront's first stage (BM25 top 100 with facets and exact cosines, k-NN top 30);
- ``in place N``: the same two sub-searches, each with an ``sltr`` rescore of its top N by the active model
  (``query_weight`` 0). Only the engine's cost is real here: a rescore with ``query_weight`` 0 zeroes the
  scores of the hits below its window (OpenSearch multiplies them by the query weight and sorts again), so
  a served path cannot use it as it is; it is the floor of any one-trip rerank;
- ``two trips``: the hybrid, then the whole union reranked in a second request (the served default).

With N = 1 the model scores one product per sub-search: what is left is the fixed cost of an ``sltr``
(building every feature's query from its stored template), which no window size removes. Train-split
queries, vectors encoded before timing.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from storefront.rerank_stage import current_reranker  # noqa: E402
from storefront.request import Filters  # noqa: E402
from storefront.retrieval import bm25_body, hit_id, knn_body, query_vector_param  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=280, help="timed queries per pass (20 more warm up)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 10], help="each retriever's top N rescored")
    args = parser.parse_args()
    service = storefront_service(get_settings(), record=False)
    live = current_reranker(service.reranker)
    if not hasattr(live, "_sltr"):
        raise SystemExit("no engine model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
    client, index, filters = service.client, service.index, Filters()
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(11).shuffle(queries)
    queries = queries[: args.queries + 20]
    vectors = {q: query_vector_param(service.encoder.vector(q)) for q in queries}
    sltr = {q: live._sltr(live.extractor.params(q, [], live.behaviour, None)) for q in queries}

    def first_stage(query: str, window: int = 0) -> dict:
        bodies = [bm25_body(query, filters, 100, vector=vectors[query]), knn_body(vectors[query], filters, 30)]
        payload: list[dict] = []
        for body in bodies:
            if window:
                body["rescore"] = {"window_size": window, "query": {
                    "rescore_query": sltr[query], "query_weight": 0.0, "rescore_query_weight": 1.0}}
            payload += [{"index": index}, body]
        return client.msearch(body=payload)

    def two_trips(query: str) -> None:
        response = first_stage(query)
        ids = list(dict.fromkeys(hit_id(h) for part in response["responses"] for h in part["hits"]["hits"]))
        live._engine(ids, live.extractor.params(query, [], live.behaviour, None))

    variants: dict[str, Callable[[str], object]] = {"hybrid": first_stage}
    for window in args.windows:
        variants[f"in place {window}"] = lambda q, w=window: first_stage(q, w)
    variants["two trips"] = two_trips
    warm, timed = queries[:20], queries[20:]
    for query in warm:
        for run in variants.values():
            run(query)
    print(f"model {live.name} ({live.extractor.featureset.name}, {len(live.extractor.featureset.names)} features); "
          f"{len(timed)} train queries, index {index}")
    print(f"{'clients':>7} {'variant':12} {'p50 ms':>7} {'ratio':>6} {'p99 ms':>7} {'QPS':>7}")
    for clients in args.clients:
        latencies: dict[str, list[float]] = {name: [] for name in variants}
        seconds: dict[str, float] = {name: 0.0 for name in variants}
        for round_ in range(2):
            order = list(variants.items()) if round_ == 0 else list(variants.items())[::-1]
            for name, run in order:
                def timed_run(query: str, run=run, name=name) -> None:
                    started = time.perf_counter()
                    run(query)
                    latencies[name].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(timed_run, timed))
                seconds[name] += time.perf_counter() - started
        base = percentile(latencies["hybrid"], 0.5)
        for name, values in latencies.items():
            p50 = percentile(values, 0.5)
            print(f"{clients:7} {name:12} {p50:7.2f} {p50 / base:5.2f}x {percentile(values, 0.99):7.2f} "
                  f"{len(values) / seconds[name]:7.1f}", flush=True)


if __name__ == "__main__":
    main()
