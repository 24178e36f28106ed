"""How much a smaller featureset saves the engine's rerank: models over 5 and 8 of the engine featureset's
features against the served one (all of them), each in the storefront's second request over the fused window.

Usage: .venv/bin/python bench/offline/compact_rerank.py DUMP [--queries 200] [--rounds 3]

DUMP is the served featureset's windows as bench/offline/dump_windows.py wrote them (``--featureset
shelfrank-v4-engine``); the smaller models are trained there on every train query's judgments (180 trees,
the served model's size) over the features kept by split gain in the offline study (docs/measurements.md),
uploaded under the featureset cut to them, timed on train-split queries with warm vectors (first stage, then
the rerank request; the first stage alone is the baseline), and deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import experiments as ex  # noqa: E402
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.labels import judgment_labels  # noqa: E402
from ltr.ranker.reranker import EngineReranker  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from ltr.ranker.train import TrainParams, train_lambdamart  # noqa: E402
from ltr.serving.xgboost_json import lightgbm_to_xgboost_json  # noqa: E402
from storefront.rerank_stage import SearchContext, current_reranker  # noqa: E402

KEPT = {5: ["title_bm25", "title_coverage", "query_bm25", "query_cosine", "history_queries"],
        8: ["title_bm25", "title_exact_bm25", "title_shingles_bm25", "title_coverage", "query_bm25", "query_cosine",
            "history_queries", "history_coverage"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dump = ex.Dump.load(args.dump)
    labels = judgment_labels(dump.train_grades, ex.MAX_GRADE)
    service = storefront_service(get_settings(), record=False)
    live = current_reranker(service.reranker)
    if not isinstance(live, EngineReranker):
        raise SystemExit("no engine model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
    models: dict[str, EngineReranker] = {f"all {len(live.extractor.featureset.names)} (served)": live}
    for count, names in KEPT.items():
        columns = [dump.names.index(n) for n in names]
        data = ex.dataset(dump.train, sorted(dump.train_grades), labels, True, columns)
        valid = [ex.is_validation_query(q) for q in data.queries]
        booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid), names,
                                   TrainParams(max_rounds=180, early_stopping_rounds=0))
        name = f"bench-compact-{count}"
        live.store.delete_model(name)
        live.store.upload_model(name, live.extractor.featureset.restricted_to(set(names)),
                                lightgbm_to_xgboost_json(booster, names))
        models[f"{count} features"] = EngineReranker(live.booster, live.extractor, name=name, client=service.client,
                                                     index=service.index, store=live.store, behaviour=live.behaviour,
                                                     window=live.window)
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(9).shuffle(queries)
    queries = queries[: args.queries]
    for query in queries:
        service.encoder.vector(query)  # warm vectors: the rerank is what differs
    context = SearchContext(None, None)
    times: dict[str, list[float]] = {"first stage alone": [], **{name: [] for name in models}}
    try:
        for _ in range(args.rounds):
            for query in queries:
                started = time.perf_counter()
                service.candidates(query)
                times["first stage alone"].append((time.perf_counter() - started) * 1000)
                for name, model in models.items():
                    started = time.perf_counter()
                    model.engine_scores(query, service.candidates(query)[: live.window], context)
                    times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for count in KEPT:
            live.store.delete_model(f"bench-compact-{count}")
    base = statistics.median(times["first stage alone"])
    print(f"{len(queries)} train queries x {args.rounds} rounds, one client; served model {live.name}")
    for name, values in times.items():
        print(f"{name:22} p50 {statistics.median(values):6.2f} ms  {statistics.median(values) / base:4.2f}x")


if __name__ == "__main__":
    main()
