"""The relevance table of issue 14: what a shop gets from Shelfrank's own pipeline, measured as served.

Usage: .venv/bin/python bench/relevance.py [--train-queries 3000] [--sessions 60000] [--out DIR]
       .venv/bin/python bench/relevance.py --served-only [--windows 200 100 50]   # what the shop serves now

Needs the running local node with the Home Depot catalogue indexed (`make demo` does it). Everything runs
against a scratch SQLite database, so the shop's own registry, events and judgments are never touched:

1. The Home Depot judgments are stored (train and test, as `shelfrank judgments import` does; the test
   split is only ever read by step 4). Simulated PBM shoppers search `--train-queries` train-split
   queries through the storefront and send their events, spread over `--days` days; then the behaviour
   refresh writes what they did onto the documents (the nightly task).
2. The retrain pipeline (`shelfrank retrain`, the nightly task: labels, the default featureset, LambdaMART,
   the quality gate on a held-out slice graded by the train split's judgments, the engine parity gate,
   promotion with the query history the model was trained on) runs three times:
   *clicks* (the click model's labels of the shoppers' clicks), *judgments, same queries* (the human
   grades of the same simulated queries: the ceiling the clicks are compared with) and *judgments, all
   train queries* (what a shop with a judged train split serves).
   Every model is promoted (through the parity gate) so that it can be measured; the table says which
   the configured quality gate (`SHELFRANK_RETRAIN_MIN_GAIN`) would have refused.
3. After each promotion the storefront's own search path (hybrid + the active model reranked in
   OpenSearch by ``sltr``) ranks every test-split query; BM25 and the unreranked hybrid come from the same
   service. nDCG@10 / recall@100 / MRR@10, the paired bootstrap 95% interval of nDCG@10 against BM25, and
   the queries helped and hurt.
4. The latency of the default path (the last model active) at 1, 4 and 16 client threads, in-process,
   on distinct never-seen queries (every search encodes its query), against BM25 on the same queries; and
   the rerank window (`--windows`) compared on the train queries the last retrain held out: nDCG@10 and
   latency per window, the evidence for the default `SHELFRANK_RERANK_WINDOW` (no test query involved).

At the end the documents get back the behaviour and query history of the shop's real active model and
the search template is rewritten for it; the bench's models are removed from the feature store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _relevance_table import print_table  # noqa: E402
from _simulated_shop import recording_service, simulator  # noqa: E402
from search_latency import percentile, summary, timed_pass  # noqa: E402

from core.db.session import session_scope  # noqa: E402
from core.opensearch_client import make_client  # noqa: E402
from core.settings import Settings, get_settings  # noqa: E402
from evaluation import judgment_store  # noqa: E402
from evaluation.judgments import Judgments, load_homedepot, select_split  # noqa: E402
from evaluation.metrics import evaluate_query  # noqa: E402
from ltr import promotion, registry  # noqa: E402
from ltr.behaviour_sync import refresh_behaviour  # noqa: E402
from ltr.history_sync import sync_history  # noqa: E402
from ltr.maintenance import refresh_served_behaviour  # noqa: E402
from ltr.quality_gate import is_holdout_query  # noqa: E402
from ltr.ranker.artifacts import load_artifact  # noqa: E402
from ltr.ranker.featureset import DEFAULT_FEATURESET, FEATURESETS  # noqa: E402
from ltr.ranker.job import TrainingRequest  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from ltr.ranker.train import TrainParams  # noqa: E402
from ltr.retrain import retrain  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402

Rows = list[dict[str, float]]


def scratch_settings(settings: Settings, folder: Path) -> Settings:
    """The configured shop, but with its metadata in a fresh SQLite file of ``folder``."""
    return settings.model_copy(update={"database_url": f"sqlite:///{folder / 'shop.db'}"})


def measure(test: Judgments, rank: Callable[[str], list[str]], what: str) -> Rows:
    from tqdm import tqdm

    return [evaluate_query(rank(q), test[q]) for q in tqdm(sorted(test), desc=what, unit="query")]


def served_rows(settings: Settings, index: str, test: Judgments, what: str) -> Rows:
    """The storefront's default search path (the active model in the engine) on every test query."""
    service = storefront_service(settings, index, record=False)
    return measure(test, lambda q: service.ranking(q, None, 100), what)


def pipeline_model(settings: Settings, index: str, request: TrainingRequest, featureset: str,
                   notes: dict[str, str]) -> str:
    """``shelfrank retrain`` as the nightly task runs it, but promoting whatever it trains (through the engine
    parity gate) so that every model is measured; ``notes`` says which the configured quality gate would have
    refused, and why."""
    report = retrain(settings, request, featureset=featureset, index=index, by="bench", min_gain=-1.0)
    if not report.promoted:
        raise SystemExit(f"{request.name} could not be served: {report.reason}")
    gain, needed = report.candidate_ndcg - report.served_ndcg, settings.retrain_min_gain
    passes = report.gain_low is not None and report.gain_low >= needed
    low = float("nan") if report.gain_low is None else report.gain_low
    print(f"{request.name}: held-out nDCG@10 {report.candidate_ndcg:.4f} against {report.served_by} "
          f"{report.served_ndcg:.4f} on {report.holdout_queries} queries (gain {gain:+.4f}, at least "
          f"{low:+.4f} with 95% confidence): the quality gate (min gain {needed:+.4f}) "
          f"{'passes' if passes else 'would refuse it'}")
    if not passes:
        notes[report.model] = (f"the quality gate would refuse it (held-out gain {gain:+.4f} over {report.served_by}, "
                               f"at least {low:+.4f}); promoted here only to measure it")
    return report.model


def latency(settings: Settings, index: str, queries: list[str], clients: list[int],
            per_level: int) -> dict[str, dict[str, float]]:
    """The default path (hybrid + the active model), the hybrid unreranked and BM25 alone, on the same distinct
    queries per level, in that order. Every query is new to the service when the default path sees it, so it
    pays for encoding the query (the long tail's cold queries); the hybrid, which follows, finds the vector
    cached: default - hybrid is the encoding plus the rerank stage."""
    service = storefront_service(settings, index, record=False)
    for query in queries[:30]:  # warm-up: connections, JIT, the model's first load
        service.search(SearchRequest(query=query, size=10), record=False)
    figures: dict[str, dict[str, float]] = {}
    offset = 30
    for level in clients:
        chunk = queries[offset: offset + per_level]
        offset += per_level
        for name, config, rerank in (("default", None, True), ("hybrid", None, False), ("bm25", "bm25", False)):
            figures[f"{name}@{level}"] = summary(*timed_pass(service, chunk, config, level, rerank))
    return figures


def window_sweep(settings: Settings, index: str, judged: Judgments, windows: list[int]) -> dict[int, dict[str, float]]:
    """The rerank window, chosen on the train split: nDCG@10 of the served ranking on ``judged`` (the retrain's
    held-out queries, which no model trained on) and its latency at one client, per window. Every query runs
    every window in turn, the order rotating from query to query, so drift in the machine's load falls on all
    alike; its vector is encoded before. A window above ``SHELFRANK_RERANK_WINDOW`` (the model's own) is cut
    to it: run with that setting at the largest window compared."""
    service = storefront_service(settings, index, record=False)
    base = service.current_tuning()
    for query in sorted(judged)[:30]:
        service.search(SearchRequest(query=query, size=10), record=False)
    tunings = {window: dataclasses.replace(base, rerank_window=window) for window in windows}
    latencies: dict[int, list[float]] = {window: [] for window in windows}
    scores: dict[int, list[float]] = {window: [] for window in windows}
    for i, query in enumerate(sorted(judged)):
        service.encoder.vector(query)
        for window in windows[i % len(windows):] + windows[: i % len(windows)]:
            started = time.perf_counter()
            ranking = service.ranking(query, None, 100, tuning=tunings[window])
            latencies[window].append((time.perf_counter() - started) * 1000)
            scores[window].append(evaluate_query(ranking, judged[query])["ndcg@10"])
    return {window: {"ndcg@10": float(np.mean(scores[window])), "p50": statistics.median(latencies[window]),
                     "p99": percentile(latencies[window], 0.99)} for window in windows}


def restore(settings: Settings, index: str, bench_models: list[str]) -> None:
    """The shop's own served state back on the documents: behaviour, the active model's history, the template."""
    client = make_client(settings)
    refresh_served_behaviour(settings, index)
    with session_scope(settings.effective_database_url) as session:
        active = registry.active_model(session)
        artifact = load_artifact(Path(active.artifact_path)) if active is not None else None
    if artifact is None or promotion.serve_history(client, index, artifact) is None:
        sync_history(client, index, {})  # the shop serves no history: the bench's must not linger
    store = FeatureStore(client, index)
    for name in bench_models:
        store.delete_model(name)


def served(shop: Settings, index: str, args: argparse.Namespace) -> None:
    """``--served-only``: what the shop serves now on the test split (BM25, the hybrid, the default path with
    the active model), timed; the windows on the train queries a retrain holds out."""
    judgments = load_homedepot(HOMEDEPOT)
    train_all, test = select_split(judgments, "train"), select_split(judgments, "test")
    if args.test_limit:
        test = {q: test[q] for q in sorted(test)[: args.test_limit]}
    service = storefront_service(shop, index, record=False)
    rows = {"bm25": measure(test, lambda q: service.ranking(q, "bm25", 100, rerank=False), "bm25"),
            "hybrid": measure(test, lambda q: service.ranking(q, None, 100, rerank=False), "hybrid"),
            f"served ({service.reranker.name})": measure(test, lambda q: service.ranking(q, None, 100), "served")}
    print(f"\n{len(test)} Home Depot test queries, as the shop serves them now")
    print_table(rows)
    queries = sorted(train_all)
    random.Random(args.seed + 1).shuffle(queries)
    model = service.reranker.name
    print_latency(latency(shop, index, queries, args.clients, args.latency_queries), args.clients, model)
    held_out = {q: train_all[q] for q in sorted(train_all) if is_holdout_query(q)}
    if args.windows:
        print_windows(window_sweep(shop, index, held_out, args.windows), len(held_out), model)


def print_latency(speed: dict[str, dict[str, float]], clients: list[int], model: str) -> None:
    print(f"\nlatency in-process, ms: the default path (the hybrid reranked by {model}; each query new, so it "
          "encodes it), then the hybrid unreranked (vector cached) and BM25 on the same queries")
    print(f"{'clients':>7} {'BM25 p50':>9} {'p99':>7} {'hybrid p50':>11} {'p99':>7} {'default p50':>12} {'p99':>7} "
          f"{'QPS':>6} {'p50 / BM25':>10}")
    for level in clients:
        bm25, hybrid, default = (speed[f"{name}@{level}"] for name in ("bm25", "hybrid", "default"))
        print(f"{level:7d} {bm25['p50']:9.1f} {bm25['p99']:7.1f} {hybrid['p50']:11.1f} {hybrid['p99']:7.1f} "
              f"{default['p50']:12.1f} {default['p99']:7.1f} {default['qps']:6.1f} "
              f"{default['p50'] / bm25['p50']:10.2f}")


def print_windows(sweep: dict[int, dict[str, float]], queries: int, model: str) -> None:
    print(f"\nrerank window of {model} on the {queries} train queries its retrain held out (never trained on), "
          "one client, warm vectors")
    for window, figure in sweep.items():
        print(f"  window {window:4d}: held-out nDCG@10 {figure['ndcg@10']:.4f}, p50 {figure['p50']:.1f} ms, "
              f"p99 {figure['p99']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-queries", type=int, default=3000, help="train-split queries the shoppers type")
    parser.add_argument("--sessions", type=int, default=60_000, help="simulated shopping sessions")
    parser.add_argument("--days", type=float, default=28.0, help="the simulated sessions span the last N days")
    parser.add_argument("--label-days", type=float, default=21.0,
                        help="the retrain's label window; behaviour features come from the days before it")
    parser.add_argument("--featureset", default=DEFAULT_FEATURESET, choices=sorted(FEATURESETS),
                        help="default: the pipeline's own default")
    parser.add_argument("--skip-all-judgments", action="store_true",
                        help="leave out the model on every train query's judgments (saves ~10 minutes)")
    parser.add_argument("--test-limit", type=int, default=None, help="only the first N test queries (sorted)")
    parser.add_argument("--latency-queries", type=int, default=300, help="distinct queries per latency level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--windows", type=int, nargs="*", default=[200, 100, 50],
                        help="rerank windows compared on the retrain's held-out train queries (none: skip)")
    parser.add_argument("--served-only", action="store_true",
                        help="skip the pipeline: only the latency table and the window comparison of what the "
                             "configured shop serves now (its database, its active model)")
    parser.add_argument("--index", default=None, help="catalogue alias (default: SHELFRANK_DEFAULT_INDEX)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="folder for the JSON and the plot")
    args = parser.parse_args()
    started = time.perf_counter()
    shop = get_settings()
    index = args.index or shop.default_index
    if args.served_only:
        served(shop, index, args)
        return
    folder = Path(tempfile.mkdtemp(prefix="shelfrank-relevance-"))
    settings = scratch_settings(shop, folder)
    service, url = recording_service(settings, folder / "shop.db", index)

    judgments = load_homedepot(HOMEDEPOT)
    train_all, test = select_split(judgments, "train"), select_split(judgments, "test")
    if args.test_limit:
        test = {q: test[q] for q in sorted(test)[: args.test_limit]}
    with session_scope(url) as session:
        judgment_store.import_judgments(session, judgments, f"file:{HOMEDEPOT.name}", "bench")
    rng = random.Random(args.seed)
    train_queries = sorted(rng.sample(sorted(train_all), args.train_queries))

    # 1. shoppers, then the behaviour refresh
    run = simulator(service, url, train_queries, train_all, rankers=["hybrid-minmax", "bm25"], click_model="pbm",
                    seed=args.seed, shoppers=5000, reuse_pages=True, days=args.days)
    summary = run.run(args.sessions, progress=True).summary()
    print(f"simulated {summary['events']} in {time.perf_counter() - started:.0f}s into {url}")
    refresh_behaviour(settings, index)

    # 2. the pipeline, three ways; 3. each served on the test split
    rows: dict[str, Rows] = {}
    baseline = storefront_service(settings, index, record=False)
    rows["bm25"] = measure(test, lambda q: baseline.ranking(q, "bm25", 100, rerank=False), "bm25")
    rows["hybrid"] = measure(test, lambda q: baseline.ranking(q, None, 100, rerank=False), "hybrid")
    params = TrainParams.from_settings(shop)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    runs = {"ltr clicks": TrainingRequest(labels="clickmodel", days=args.label_days,
                                          min_support=shop.click_model_min_support, window=shop.rerank_window,
                                          params=params, name=f"bench-clicks-{stamp}",
                                          unlabelled_weight=shop.ltr_unlabelled_weight),
            "ltr judgments, same queries": TrainingRequest(
                labels="judgments", days=args.label_days, window=shop.rerank_window, params=params,
                judgments={q: train_all[q] for q in train_queries}, name=f"bench-judged-{stamp}")}
    if not args.skip_all_judgments:
        runs["ltr judgments, all train queries"] = TrainingRequest(
            labels="judgments", days=args.label_days, window=shop.rerank_window, params=params,
            judgments=train_all, name=f"bench-judged-all-{stamp}")
    notes: dict[str, str] = {}
    models: dict[str, str] = {}
    try:
        for label, request in runs.items():
            models[label] = pipeline_model(settings, index, request, args.featureset, notes)
            rows[label] = served_rows(settings, index, test, label)
        queries = [q for q in sorted(train_all) if q not in set(train_queries)]
        random.Random(args.seed + 1).shuffle(queries)
        speed = latency(settings, index, queries, args.clients, args.latency_queries)
        trained_on = set(train_queries) if args.skip_all_judgments else set(train_all)  # the last model's queries
        held_out = {q: train_all[q] for q in sorted(trained_on) if is_holdout_query(q)}
        sweep = window_sweep(settings, index, held_out, args.windows) if args.windows else {}
    finally:
        restore(shop, index, list(models.values()))

    print(f"\n{len(test)} Home Depot test queries; featureset {args.featureset}; {args.train_queries} simulated "
          f"train queries, {args.sessions} sessions")
    averages, comparisons = print_table(rows)
    base = averages["bm25"]["ndcg@10"]
    for label, model in models.items():
        if model in notes:
            print(f"  {label}: {notes[model]}")
    ceiling = averages["ltr judgments, same queries"]["ndcg@10"] - base
    if ceiling > 0:
        share = (averages["ltr clicks"]["ndcg@10"] - base) / ceiling
        print(f"clicks recover {100 * share:.0f}% of the gain over BM25 of the same pipeline on the same queries' "
              "judgments (target >= 90%)")
    print_latency(speed, args.clients, list(models.values())[-1])
    if sweep:
        print_windows(sweep, len(held_out), list(models.values())[-1])

    out = args.out or folder
    out.mkdir(parents=True, exist_ok=True)
    (out / "relevance.json").write_text(json.dumps({
        "averages": averages, "vs_bm25": {metric: {name: vars(c) for name, c in by_name.items()} for metric, by_name in comparisons.items()},
        "models": models,
        "notes": notes, "latency_ms": speed, "windows": sweep, "args": vars(args) | {"out": str(out)}},
        indent=2, default=str))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    names = list(averages)
    ndcg = comparisons["ndcg@10"]
    means = [ndcg[n].mean_difference + base for n in names]
    errors = [[m - (ndcg[n].low + base) for n, m in zip(names, means)],
              [(ndcg[n].high + base) - m for n, m in zip(names, means)]]
    ax.bar(names, means, yerr=errors, capsize=4, color="#4c72b0")
    ax.axhline(base * 1.15, color="#c44e52", linestyle="--", label="BM25 +15%")
    ax.set_ylabel("nDCG@10")
    ax.set_title(f"Served rankings, Home Depot test split ({len(test)} queries)")
    ax.legend()
    plt.setp(ax.get_xticklabels(), rotation=15, ha="right")
    fig.tight_layout()
    fig.savefig(out / "relevance.png", dpi=120)
    print(f"saved {out}; total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
