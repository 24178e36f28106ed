"""Rerank overhead: storefront latency with an active LambdaMART model against the hybrid alone.

Usage: .venv/bin/python bench/rerank_latency.py [--queries 300] [--clients 1 4] [--train-queries 300]

Needs the Home Depot catalogue indexed (`make demo` does it). A model is trained first on the
judgments of `--train-queries` train-split queries (the shop featureset; the labels do not matter
for speed), then the same test-split queries go through the storefront search service twice per
concurrency level, alternating passes (hybrid, reranked, hybrid, reranked; the first two warm
up): once with the Python reranker over the top `--window` fused candidates, once without a
rerank stage. Query vectors are encoded before timing,
so both runs see a warm query-vector cache and the difference is the rerank stage alone: one
`_msearch` that scores the text features of the window, the other features, and LightGBM.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.dataset import build_dataset  # noqa: E402
from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger  # noqa: E402
from ltr.ranker.featureset import SHOP_FEATURES  # noqa: E402
from ltr.ranker.job import is_validation_query  # noqa: E402
from ltr.ranker.labels import judgment_labels  # noqa: E402
from ltr.ranker.reranker import LtrReranker  # noqa: E402
from ltr.ranker.train import TrainParams, train_lambdamart  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402
from storefront.rerank_stage import NoopReranker  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--train-queries", type=int, default=300)
    parser.add_argument("--window", type=int, default=None, help="default: SHELFRANK_RERANK_WINDOW")
    parser.add_argument("--index", default=None)
    args = parser.parse_args()
    settings = get_settings()
    window = args.window or settings.rerank_window
    service = build_search_service(settings, args.index, record=False)
    judgments = load_homedepot(HOMEDEPOT)
    train = select_split(judgments, "train")
    train_queries = sorted(random.Random(0).sample(sorted(train), args.train_queries))
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    data = build_dataset(train_queries, service.candidates, extractor, judgment_labels(train, 2.0),
                         unlabelled_as_zero=True, window=window, progress=True)
    valid = [is_validation_query(q) for q in data.queries]
    booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid), SHOP_FEATURES.names,
                               TrainParams())
    model = LtrReranker(booster, extractor, name="bench", window=window)
    print(f"model: {booster.num_trees()} trees, {len(SHOP_FEATURES.names)} features; rerank window {window}")

    queries = sorted(select_split(judgments, "test"))[: args.queries]
    for query in queries:
        service.encoder.vector(query)  # warm cache for both runs
    noop = NoopReranker()
    rerank_ms: list[float] = []

    class Timed:
        """The model, timing its rerank stage alone."""

        name = model.name

        def rerank(self, query, candidates, context):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            ranked = model.rerank(query, candidates, context)
            rerank_ms.append((time.perf_counter() - started) * 1000)
            return ranked

        def explain(self, query, candidates, context):  # type: ignore[no-untyped-def]
            return model.explain(query, candidates, context)

    timed = Timed()
    print(f"{len(queries)} Home Depot test queries, index {service.index}")
    print(f"{'clients':>7} {'stage':8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'QPS':>7} {'rerank p50':>10} "
          f"{'p50 ratio':>9} {'p99 ratio':>9}")
    for clients in args.clients:
        latencies: dict[str, list[float]] = {"hybrid": [], "ltr": []}
        elapsed = {"hybrid": 0.0, "ltr": 0.0}

        def one(query: str, name: str) -> None:
            request = SearchRequest(query=query, size=10, config="hybrid-minmax")  # no debug: no explanations
            started = time.perf_counter()
            service.search(request, record=False)
            latencies[name].append((time.perf_counter() - started) * 1000)

        for _round in range(2):  # the first round warms up; the second is reported
            for name in ("hybrid", "ltr"):
                service.reranker = timed if name == "ltr" else noop
                latencies[name].clear()
                if name == "ltr":
                    rerank_ms.clear()
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    list(pool.map(lambda q, n=name: one(q, n), queries))
                elapsed[name] = time.perf_counter() - started
        base = latencies["hybrid"]
        for name in ("hybrid", "ltr"):
            values = latencies[name]
            extra = f"{statistics.median(rerank_ms):10.1f}" if name == "ltr" else f"{'-':>10}"
            print(f"{clients:7d} {name:8} {statistics.median(values):8.1f} {percentile(values, .95):8.1f} "
                  f"{percentile(values, .99):8.1f} {len(values) / elapsed[name]:7.1f} {extra} "
                  f"{statistics.median(values) / statistics.median(base):9.2f} "
                  f"{percentile(values, .99) / percentile(base, .99):9.2f}")


if __name__ == "__main__":
    main()
