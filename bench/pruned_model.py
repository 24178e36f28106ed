"""What storing a model with only the features it splits on saves the engine's rerank.

Usage: .venv/bin/python bench/pruned_model.py [--queries 200] [--rounds 3]

The active model (``make demo`` trains one) is uploaded twice to the catalogue's feature store: as
``upload_model`` stores every model now (its featureset cut to the features its trees split on), and, as it
was stored before, under its whole featureset. Both then score the served hybrid's fused candidates of the
same train-split queries in the storefront's own ``sltr`` request, a whole pass per variant, ``--rounds`` times
in turn. It prints the median milliseconds of one rerank request per variant, the features each computes, and
the largest score difference between the two (0: the features left out never mattered). Store entries are
named ``bench-pruned-*`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.reranker import EngineReranker  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from ltr.serving.xgboost_json import features_used, lightgbm_to_xgboost_json, to_plugin_model_body  # noqa: E402
from storefront.rerank_stage import SearchContext, current_reranker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    service = storefront_service(get_settings(), record=False)
    live = current_reranker(service.reranker)
    if not isinstance(live, EngineReranker):
        raise SystemExit("no engine model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
    featureset, store = live.extractor.featureset, live.store
    trees = lightgbm_to_xgboost_json(live.booster, featureset.names)
    used = features_used(trees)
    pruned_name, whole_name = f"bench-pruned-{live.name}", f"bench-pruned-whole-{live.name}"
    for name in (pruned_name, whole_name):
        store.delete_model(name)
    store.upload_model(pruned_name, featureset, trees)
    store.ensure_featureset(featureset)  # as models were stored before: every feature of the set
    store._request("POST", f"/_ltr/{store.name}/_featureset/{featureset.store_name}/_createmodel",
                   to_plugin_model_body(whole_name, featureset.store_name, trees))
    variants = {name: EngineReranker(live.booster, live.extractor, name=name, client=service.client, index=service.index,
                                     store=store, behaviour=live.behaviour, window=live.window)
                for name in (pruned_name, whole_name)}
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(5).shuffle(queries)
    queries = queries[: args.queries]
    windows = {q: service.candidates(q)[: live.window] for q in queries}
    context = SearchContext(None, None)
    times: dict[str, list[float]] = {name: [] for name in variants}
    scores: dict[str, dict[str, np.ndarray]] = {name: {} for name in variants}
    try:
        for reranker in variants.values():  # warm up
            for query in queries[:20]:
                reranker.engine_scores(query, windows[query], context)
        for round_ in range(args.rounds):
            order = list(variants.items()) if round_ % 2 == 0 else list(variants.items())[::-1]
            for name, reranker in order:
                for query in queries:
                    started = time.perf_counter()
                    scores[name][query] = reranker.engine_scores(query, windows[query], context)
                    times[name].append((time.perf_counter() - started) * 1000)
    finally:
        for name in variants:
            store.delete_model(name)
    difference = max(float(np.max(np.abs(scores[pruned_name][q] - scores[whole_name][q]))) for q in queries
                     if len(windows[q]))
    mean_window = statistics.mean(len(w) for w in windows.values())
    print(f"model {live.name} ({featureset.name}); {len(queries)} train queries, {mean_window:.0f} candidates on "
          f"average, {args.rounds} rounds")
    print(f"{'stored with':34} {'features':>8} {'p50 ms':>7} {'p90 ms':>7}")
    for name, label, count in ((whole_name, "its whole featureset (before)", len(featureset.names)),
                               (pruned_name, "the features its trees split on", len(used))):
        values = sorted(times[name])
        print(f"{label:34} {count:8} {statistics.median(values):7.2f} {values[int(len(values) * 0.9)]:7.2f}")
    print(f"left out: {', '.join(n for n in featureset.names if n not in used) or 'nothing'}")
    print(f"largest score difference: {difference:.3g}")


if __name__ == "__main__":
    main()
