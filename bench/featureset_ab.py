"""One model, two featuresets with the same values: what the v3 match codes save the engine's ``sltr``.

Usage: .venv/bin/python bench/featureset_ab.py [--a shelfrank-v2-engine] [--b shelfrank-v3-engine]
                                               [--trees 100] [--queries 150] [--rounds 3]

Needs the Home Depot catalogue indexed with the title's match codes (`make demo`, or `shelfrank index
rebuild` on an older index). Featuresets ``a`` and ``b`` must have the same feature names (v2 and v3 compute
the same values, v3 from long doc values instead of keyword tokens). A LambdaMART model of exactly
``--trees`` trees is trained on 300 train-split queries' judgments (logged through ``b``), uploaded under
both featuresets, and each scores the served hybrid's fused candidates of the first ``--queries`` test
queries (speed only: no relevance is read), a whole pass per featureset, ``--rounds`` times in turn. It
prints the median milliseconds of one ``sltr`` search per query and the largest score difference between
the two (0 when the values are equal). Store entries are named ``bench-ab-*`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.dataset import build_dataset  # noqa: E402
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor  # noqa: E402
from ltr.ranker.featureset import FEATURESETS  # noqa: E402
from ltr.ranker.labels import judgment_labels  # noqa: E402
from ltr.ranker.reranker import EngineReranker  # noqa: E402
from ltr.ranker.train import TrainParams  # noqa: E402
from ltr.serving.xgboost_json import lightgbm_to_xgboost_json  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", default="shelfrank-v2-engine", choices=sorted(FEATURESETS))
    parser.add_argument("--b", default="shelfrank-v3-engine", choices=sorted(FEATURESETS))
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--index", default=None)
    args = parser.parse_args()
    first, second = FEATURESETS[args.a], FEATURESETS[args.b]
    if first.names != second.names:
        raise SystemExit(f"{first.name} and {second.name} have different features; one model cannot serve both")
    service = build_search_service(get_settings(), args.index, record=False)
    judgments = load_homedepot(HOMEDEPOT)
    train = select_split(judgments, "train")
    logged_by = FeatureExtractor(second, EngineFeatureLogger(service.client, service.index), service.encoder.vector)
    data = build_dataset(sorted(random.Random(0).sample(sorted(train), 300)), service.candidates, logged_by,
                         judgment_labels(train, 2.0), unlabelled_as_zero=True, window=200, progress=True)
    booster = lgb.train(TrainParams().lightgbm(second.names),
                        lgb.Dataset(data.features, data.labels, group=data.groups, feature_name=second.names),
                        num_boost_round=args.trees)
    store = FeatureStore(service.client, service.index)
    rerankers = {}
    for featureset in (first, second):
        name = f"bench-ab-{featureset.name}-{args.trees}"
        store.upload_model(name, featureset, lightgbm_to_xgboost_json(booster, featureset.names))
        extractor = FeatureExtractor(featureset, EngineFeatureLogger(service.client, service.index),
                                     service.encoder.vector)
        rerankers[featureset.name] = EngineReranker(booster, extractor, name=name, client=service.client,
                                                    index=service.index, store=store)
    queries = sorted(select_split(judgments, "test"))[: args.queries]
    pools = {q: service.candidates(q) for q in queries}
    print(f"{booster.num_trees()} trees; {len(queries)} test queries, "
          f"{statistics.fmean(len(p) for p in pools.values()):.0f} fused candidates on average, index {service.index}")
    print(f"{'round':>5} {'featureset':24} {'sltr p50 ms':>11}")
    for round_ in range(args.rounds):
        for label, reranker in rerankers.items():
            times = []
            for query in queries:
                started = time.perf_counter()
                reranker.engine_scores(query, pools[query])
                times.append((time.perf_counter() - started) * 1000)
            print(f"{round_:5d} {label:24} {statistics.median(times):11.2f}", flush=True)
    difference = max(float(np.max(np.abs(rerankers[first.name].engine_scores(q, pools[q])
                                          - rerankers[second.name].engine_scores(q, pools[q]))))
                     for q in queries[:30])
    print(f"largest score difference over 30 queries: {difference:.3g}")
    for reranker in rerankers.values():
        store.delete_model(reranker.store_model)


if __name__ == "__main__":
    main()
