"""Rerank overhead: the active LambdaMART model scored inside OpenSearch (sltr) and in Python, against
the hybrid alone, and proof that both engines rank alike.

Usage: .venv/bin/python bench/rerank_latency.py [--queries 300] [--clients 1 4 16] [--train-queries 300]

Needs the Home Depot catalogue indexed (`make demo` does it). A model is trained first on the
judgments of `--train-queries` train-split queries (`--featureset`, the shop featureset by default; the labels do not matter
for speed) and uploaded to the catalogue's feature store. Then the same test-split queries go
through the storefront search service per concurrency level in interleaved passes (hybrid,
engine, python, twice; the first round warms up): without a rerank stage, with the engine
reranker (one search: the window's ids and an ``sltr`` rescore) and with the Python reranker
(one ``ltr_log`` search for the window's features, then LightGBM). Query vectors are encoded
before timing, so every pass sees a warm query-vector cache and the differences are the rerank
stage alone. A model of an ``-engine`` featureset reranks each retriever's top ``--retriever-window``
inside the first stage's own ``_msearch`` (one round trip; its "rerank p50" is then only the ordering by
the returned scores), the Python reference the same candidates afterwards, and the stage ``2-trips`` is
the same model reranking the fused top window in a second request, as other models do. Finally nDCG@10
on those test queries, engine against Python (equal to 4 decimals is the requirement).
"""

from __future__ import annotations

import argparse
import hashlib
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
from ltr.ranker.featureset import FEATURESETS  # noqa: E402
from ltr.ranker.job import is_validation_query  # noqa: E402
from ltr.ranker.labels import judgment_labels  # noqa: E402
from ltr.ranker.query_history import history_from_labels  # noqa: E402
from evaluation.metrics import ndcg_at  # noqa: E402
from ltr.ranker.reranker import EngineReranker, LtrReranker  # noqa: E402
from ltr.ranker.train import TrainParams, train_lambdamart  # noqa: E402
from ltr.serving.xgboost_json import lightgbm_to_xgboost_json  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402
from storefront.rerank_stage import NoopReranker  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--train-queries", type=int, default=300)
    parser.add_argument("--window", type=int, default=None, help="default: SHELFRANK_RERANK_WINDOW")
    parser.add_argument("--index", default=None)
    parser.add_argument("--trees", type=int, default=None,
                        help="train exactly this many trees (default: early stopping on validation, which can keep "
                             "a single tree on 300 queries: too small a model to time)")
    parser.add_argument("--retriever-window", type=int, default=None,
                        help="default: SHELFRANK_RERANK_RETRIEVER_WINDOW (engine-only featuresets; 0: the fused window)")
    parser.add_argument("--featureset", default="shelfrank-v1", choices=sorted(FEATURESETS),
                        help="shelfrank-v3-engine: no first-stage params, only the query vector (what the search "
                             "template can serve)")
    args = parser.parse_args()
    featureset = FEATURESETS[args.featureset]
    settings = get_settings()
    window = args.window or settings.rerank_window
    per_retriever = settings.rerank_retriever_window if args.retriever_window is None else args.retriever_window
    service = build_search_service(settings, args.index, record=False)
    judgments = load_homedepot(HOMEDEPOT)
    train = select_split(judgments, "train")
    train_queries = sorted(random.Random(0).sample(sorted(train), args.train_queries))
    extractor = FeatureExtractor(featureset, EngineFeatureLogger(service.client, service.index), service.encoder.vector)
    labels = judgment_labels(train, 2.0)
    training = extractor
    if featureset.of_source("history"):  # the documents' history holds these labels: rows leave their query out
        training = extractor.with_history(history_from_labels(labels))
    data = build_dataset(train_queries, service.candidates, training, labels,
                         unlabelled_as_zero=True, window=window, progress=True)
    valid = [is_validation_query(q) for q in data.queries]
    params = TrainParams(max_rounds=args.trees, early_stopping_rounds=0) if args.trees else TrainParams()
    booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid), featureset.names, params)
    store = FeatureStore(service.client, service.index)
    name = f"bench-{hashlib.sha256(booster.model_to_string().encode()).hexdigest()[:12]}"
    store.upload_model(name, featureset, lightgbm_to_xgboost_json(booster, featureset.names))
    models = {"python": LtrReranker(booster, extractor, name=name, window=window, retriever_window=per_retriever),
              "engine": EngineReranker(booster, extractor, name=name, window=window, client=service.client,
                                       index=service.index, store=store, retriever_window=per_retriever)}
    if models["engine"].retriever_window:
        models["2-trips"] = EngineReranker(booster, extractor, name=name, window=window, client=service.client,
                                           index=service.index, store=store)
    chosen = (f"each retriever's top {models['engine'].retriever_window}, in the first stage's request"
              if models["engine"].retriever_window else f"the fused top {window}")
    print(f"model: {booster.num_trees()} trees, {len(featureset.names)} features; reranks {chosen}")

    queries = sorted(select_split(judgments, "test"))[: args.queries]
    for query in queries:
        service.encoder.vector(query)  # warm cache for both runs
    noop = NoopReranker()
    rerank_ms: dict[str, list[float]] = {label: [] for label in models}

    class Timed:
        """A reranker, timing its rerank stage alone."""

        def __init__(self, label: str) -> None:
            self.label, self.model, self.name = label, models[label], models[label].name

        def rerank(self, query, candidates, context):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            ranked = self.model.rerank(query, candidates, context)
            rerank_ms[self.label].append((time.perf_counter() - started) * 1000)
            return ranked

        def explain(self, query, candidates, context):  # type: ignore[no-untyped-def]
            return self.model.explain(query, candidates, context)

    class TimedInFirstStage(Timed):
        """The engine reranker scoring inside the first stage; times the ordering by the scores."""

        def first_stage_rescore(self, query, context):  # type: ignore[no-untyped-def]
            return self.model.first_stage_rescore(query, context)

        def rank_rescored(self, query, candidates, scores, context):  # type: ignore[no-untyped-def]
            started = time.perf_counter()
            ranked = self.model.rank_rescored(query, candidates, scores, context)
            rerank_ms[self.label].append((time.perf_counter() - started) * 1000)
            return ranked

    engine = TimedInFirstStage("engine") if models["engine"].retriever_window else Timed("engine")
    stages = {"hybrid": noop, "engine": engine, "python": Timed("python"),
              **({"2-trips": Timed("2-trips")} if "2-trips" in models else {})}
    print(f"{len(queries)} Home Depot test queries, index {service.index}")
    print(f"{'clients':>7} {'stage':8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'QPS':>7} {'rerank p50':>10} "
          f"{'p50 ratio':>9} {'p99 ratio':>9}")
    for clients in args.clients:
        latencies: dict[str, list[float]] = {name: [] for name in stages}
        elapsed = dict.fromkeys(stages, 0.0)

        def one(query: str, name: str) -> None:
            request = SearchRequest(query=query, size=10, config="hybrid-minmax")  # no debug: no explanations
            started = time.perf_counter()
            service.search(request, record=False)
            latencies[name].append((time.perf_counter() - started) * 1000)

        for _round in range(2):  # the first round warms up; the second is reported
            for name, stage in stages.items():
                service.reranker = stage
                latencies[name].clear()
                rerank_ms.get(name, []).clear()
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=clients) as pool:
                    list(pool.map(lambda q, n=name: one(q, n), queries))
                elapsed[name] = time.perf_counter() - started
        base = latencies["hybrid"]
        for name in stages:
            values = latencies[name]
            extra = f"{statistics.median(rerank_ms[name]):10.1f}" if name in rerank_ms else f"{'-':>10}"
            print(f"{clients:7d} {name:8} {statistics.median(values):8.1f} {percentile(values, .95):8.1f} "
                  f"{percentile(values, .99):8.1f} {len(values) / elapsed[name]:7.1f} {extra} "
                  f"{statistics.median(values) / statistics.median(base):9.2f} "
                  f"{percentile(values, .99) / percentile(base, .99):9.2f}")

    test = select_split(judgments, "test")
    scores = {}
    for label in stages:
        service.reranker = stages[label]
        scores[label] = statistics.fmean(
            ndcg_at(service.ranking(q, "hybrid-minmax"), test[q]) for q in queries)
    print("nDCG@10 on these test queries: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
          + f"; engine - python = {scores['engine'] - scores['python']:+.6f}")
    store.delete_model(name)


if __name__ == "__main__":
    main()
