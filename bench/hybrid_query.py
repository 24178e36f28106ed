"""Storefront fusion (one _msearch + min-max in Python) against OpenSearch's own `hybrid` query.

Usage: .venv/bin/python bench/hybrid_query.py [--queries N] [--latency-queries 300] [--clients 1 4]
                                               [--index products] [--no-aggs]

Needs the Home Depot catalogue indexed (`make demo` does it). Why: neural-search can fuse BM25 and k-NN
inside the node (a `hybrid` query plus a search pipeline with a normalization-processor), which would
save the Python fusion step. This puts numbers on what that changes.

The pipeline `shelfrank-hybrid-minmax` is (re)created with min_max normalisation and arithmetic_mean
combination, weighted like the storefront's hybrid-minmax config. Its two sub-queries are the storefront's
own BM25 bool/multi_match and k-NN clauses, as deep as the storefront's (the figures in docs/measurements.md
predate the k-NN depth setting: SHELFRANK_HYBRID_VECTOR_CANDIDATES=100 repeats them); query vectors come from the service's
cache, encoded once up front, so encoding is in neither measurement.

Relevance (test split, `--queries` of them, default all): nDCG@10, recall@100 and MRR@10 of
  bm25            the storefront's BM25 config
  msearch-minmax  the storefront's hybrid-minmax (BM25 hits also carry their exact cosine)
  python-replica  the same _msearch lists fused in Python without that exact cosine, i.e. what the
                  hybrid query does; its overlap with the hybrid query shows where differences come from
  hybrid-query    the `hybrid` query through the pipeline
plus the mean overlap@10 between rankings.

Latency (the first `--latency-queries` of the same queries, warm vector cache): p50/p95/p99 and QPS of
the storefront's BM25 and hybrid-minmax searches, the python-replica (its _msearch with facets) and the
hybrid query (size = candidates, and size 10 with pagination_depth = candidates), each returning a page of
10 and the facets. The paths run interleaved in blocks of 50 queries, in rotating order, so background
load hits them alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from evaluation.metrics import evaluate_query  # noqa: E402
from storefront import fusion  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import Filters, SearchRequest  # noqa: E402
from storefront.retrieval import (  # noqa: E402
    FACETS,
    HIT_FIELDS,
    bm25_body,
    hit_id,
    knn_body,
    knn_score_to_cosine,
    query_vector_param,
)

PIPELINE = "shelfrank-hybrid-minmax"
CONFIG = "hybrid-minmax"
BLOCK = 50


def put_pipeline(client, bm25_weight: float, vector_weight: float) -> None:  # type: ignore[no-untyped-def]
    client.transport.perform_request("PUT", f"/_search/pipeline/{PIPELINE}", body={
        "description": "Shelfrank bench: hybrid query fused like the storefront's hybrid-minmax",
        "phase_results_processors": [{"normalization-processor": {
            "normalization": {"technique": "min_max"},
            "combination": {"technique": "arithmetic_mean", "parameters": {"weights": [bm25_weight, vector_weight]}},
        }}],
    })


def hybrid_body(query: str, vector: list[float], candidates: int, knn_k: int, size: int, aggs: bool) -> dict:
    """The storefront's BM25 and k-NN clauses as the two sub-queries of one `hybrid` query."""
    hybrid: dict = {"queries": [bm25_body(query, Filters(), candidates)["query"],
                                knn_body(vector, Filters(), knn_k)["query"]]}
    if size < candidates:  # otherwise each sub-query is cut at from + size per shard
        hybrid["pagination_depth"] = candidates
    body: dict = {"size": size, "stored_fields": "_none_", "docvalue_fields": list(HIT_FIELDS),
                  "query": {"hybrid": hybrid}}
    if aggs:
        body["aggs"] = FACETS
    return body


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def overlap(a: list[str], b: list[str], k: int = 10) -> float:
    depth = max(len(a[:k]), len(b[:k]))
    return len(set(a[:k]) & set(b[:k])) / depth if depth else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=None, help="test queries for relevance (default: all)")
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--index", default=None)
    parser.add_argument("--no-aggs", action="store_true", help="leave the facet aggregations off the hybrid query")
    args = parser.parse_args()

    settings = get_settings()
    service = build_search_service(settings, args.index, record=False)
    client, config = service.client, service.configs[CONFIG]
    weights = {"bm25": config.bm25_weight, "vector": config.vector_weight}
    put_pipeline(client, config.bm25_weight, config.vector_weight)
    test = select_split(load_homedepot(HOMEDEPOT), "test")
    queries = sorted(test)[: args.queries]
    for query in tqdm(queries, desc="encoding", unit="query"):
        service.encoder.vector(query)
    print(f"index {service.index}; pipeline {PIPELINE}: min_max + arithmetic_mean, weights "
          f"bm25 {config.bm25_weight:g} / vector {config.vector_weight:g}; {config.candidates} BM25 and "
          f"{max(1, config.knn_k)} k-NN candidates (SHELFRANK_HYBRID_VECTOR_CANDIDATES)")

    def parse_facets(response: dict) -> dict[str, list[dict]]:
        return {key: [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"] if b["doc_count"]]
                for key, agg in response.get("aggregations", {}).items()}

    def hybrid_search(query: str, size: int, aggs: bool) -> tuple[list[str], dict]:
        vector = query_vector_param(service.encoder.vector(query))
        body = hybrid_body(query, vector, config.candidates, max(1, config.knn_k), size, aggs)
        response = client.search(index=service.index, body=body, params={"search_pipeline": PIPELINE})
        hits = response["hits"]["hits"]
        page = [{"id": hit_id(h), "title": h["fields"].get("title.display", [None])[0], "score": h["_score"]}
                for h in hits[:10]]
        return [hit_id(h) for h in hits], {"page": page, "facets": parse_facets(response)}

    def python_replica(query: str, aggs: bool = False) -> tuple[list[str], dict]:
        """Both lists as the hybrid query sees them (no exact cosine on BM25 hits), min-max fused here."""
        vector = query_vector_param(service.encoder.vector(query))
        bodies = [bm25_body(query, Filters(), config.candidates, facets=aggs),
                  knn_body(vector, Filters(), max(1, config.knn_k))]
        bm25, knn = client.msearch(body=[part for b in bodies for part in ({"index": service.index}, b)])["responses"]

        lists = {"bm25": {hit_id(h): h["_score"] for h in bm25["hits"]["hits"]},
                 "vector": {hit_id(h): knn_score_to_cosine(h["_score"]) for h in knn["hits"]["hits"]}}
        titles = {hit_id(h): h["fields"].get("title.display", [None])[0] for part in (bm25, knn)
                  for h in part["hits"]["hits"]}
        ranked = fusion.ranked(fusion.fuse(lists, "minmax", weights))
        page = [{"id": pid, "title": titles[pid], "score": score} for pid, score in ranked[:10]]
        return [pid for pid, _ in ranked], {"page": page, "facets": parse_facets(bm25)}

    # relevance
    names = ["bm25", "msearch-minmax", "python-replica", "hybrid-query"]
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    overlaps: dict[str, list[float]] = {"msearch vs hybrid": [], "replica vs hybrid": [], "msearch vs replica": []}
    for query in tqdm(queries, desc="relevance", unit="query"):
        rankings = {"bm25": service.ranking(query, "bm25", config.candidates),
                    "msearch-minmax": service.ranking(query, CONFIG, config.candidates),
                    "python-replica": python_replica(query)[0][: config.candidates],
                    "hybrid-query": hybrid_search(query, config.candidates, aggs=False)[0]}
        for name, ranking in rankings.items():
            rows[name].append(evaluate_query(ranking, test[query]))
        overlaps["msearch vs hybrid"].append(overlap(rankings["msearch-minmax"], rankings["hybrid-query"]))
        overlaps["replica vs hybrid"].append(overlap(rankings["python-replica"], rankings["hybrid-query"]))
        overlaps["msearch vs replica"].append(overlap(rankings["msearch-minmax"], rankings["python-replica"]))
    print(f"\nrelevance: {len(queries)} Home Depot test queries")
    print(f"{'ranker':16} {'nDCG@10':>8} {'recall@100':>10} {'MRR@10':>7}")
    for name in names:
        avg = {m: float(np.mean([r[m] for r in rows[name]])) for m in ("ndcg@10", "recall@100", "mrr@10")}
        print(f"{name:16} {avg['ndcg@10']:8.4f} {avg['recall@100']:10.4f} {avg['mrr@10']:7.4f}")
    for a, b in (("msearch-minmax", "hybrid-query"), ("hybrid-query", "bm25")):
        diff = np.array([x["ndcg@10"] - y["ndcg@10"] for x, y in zip(rows[a], rows[b])])
        print(f"nDCG@10 {a} - {b}: {diff.mean():+.4f} +- {1.96 * diff.std(ddof=1) / np.sqrt(len(diff)):.4f} "
              "(paired, 95%)")
    for pair, values in overlaps.items():
        same = sum(v == 1.0 for v in values) / len(values)
        print(f"overlap@10 {pair:20} mean {np.mean(values):.3f}; identical top-10 sets {100 * same:.0f}%")

    # latency
    aggs = not args.no_aggs
    paths = {
        "bm25": lambda q: service.search(SearchRequest(query=q, size=10, config="bm25"), record=False),
        "msearch-minmax": lambda q: service.search(SearchRequest(query=q, size=10, config=CONFIG), record=False),
        "python-replica": lambda q: python_replica(q, aggs),
        f"hybrid size {config.candidates}": lambda q: hybrid_search(q, config.candidates, aggs),
        "hybrid size 10": lambda q: hybrid_search(q, 10, aggs),
    }
    timed = queries[: args.latency_queries]
    for path in paths.values():  # warm up connections and caches
        for query in timed[:20]:
            path(query)
    print(f"\nlatency: {len(timed)} queries per path, interleaved in blocks of {BLOCK}; warm vector cache")
    print("every path returns a page of 10 with titles and the facets "
          + ("(brand, category, availability, price); " if aggs
             else "(except python-replica and the hybrid query: --no-aggs); ")
          + f"msearch-minmax also computes exact cosines for its {config.candidates} BM25 hits; both msearch paths "
          "count all BM25 hits and take facets over BM25 matches, hybrid-query facets count BM25 matches plus "
          "the k-NN top-k")
    print(f"{'path':16} {'clients':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'QPS':>7} {'p50/bm25':>9} "
          f"{'p50/msearch':>12}")
    for clients in args.clients:
        latencies: dict[str, list[float]] = {name: [] for name in paths}
        busy = dict.fromkeys(paths, 0.0)
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for number, start in enumerate(range(0, len(timed), BLOCK)):
                block = timed[start : start + BLOCK]
                order = list(paths)[number % len(paths):] + list(paths)[: number % len(paths)]
                for name in order:
                    def one(query: str, name: str = name) -> None:
                        began = time.perf_counter()
                        paths[name](query)
                        latencies[name].append((time.perf_counter() - began) * 1000)

                    began = time.perf_counter()
                    list(pool.map(one, block))
                    busy[name] += time.perf_counter() - began
        p50 = {name: statistics.median(values) for name, values in latencies.items()}
        for name, values in latencies.items():
            print(f"{name:16} {clients:7d} {p50[name]:8.1f} {percentile(values, 0.95):8.1f} "
                  f"{percentile(values, 0.99):8.1f} {len(values) / busy[name]:7.1f} {p50[name] / p50['bm25']:9.2f} "
                  f"{p50[name] / p50['msearch-minmax']:12.2f}")


if __name__ == "__main__":
    main()
