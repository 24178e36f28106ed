"""Personalised learning to rank on simulated shoppers with tastes, and position debiasing compared.

Usage: .venv/bin/python bench/ltr_personalisation.py [--queries 300] [--shoppers 300] [--sessions 30000]

Needs the running local node with the Home Depot catalogue indexed (`make demo` does it).
1. Simulated PBM shoppers, each with a department, a brand and a price band they prefer (their
   click probability is raised on matching products), search `--queries` judged train-split
   queries over the real hybrid-minmax pages for `--days` days. Events go into a fresh SQLite
   database through the same store as the events API.
2. One training group per logged search of the last `--label-days` days, labelled by the shopper's
   own clicks (1), carts (2) and purchases (3); features are the personal featureset, the shopper's
   profile as of the start of the label window plus their session's earlier clicks.
3. Models, all LightGBM lambdarank on the same rows:
   *personal* (with user x product features) and *shop* (the same without them), both with
   position-aware lambdarank; and *personal* with inverse-propensity weights or no debiasing.
4. Fresh test searches (a random shopper, a random query) rerank the top `--window` fused
   candidates; nDCG@10 is measured against **that shopper's own relevance**: the simulator's
   click probability for this shopper, given the product's human grade and the shopper's tastes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _simulated_shop import KEY, recording_service, simulator  # noqa: E402

from core.db.session import session_scope  # noqa: E402
from core.privacy import pseudonymise  # noqa: E402
from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from evaluation.metrics import dcg  # noqa: E402
from ltr.clickmodels import ClickLog, make_model  # noqa: E402
from ltr.events.clicklog import iter_click_sessions, iter_logged_searches  # noqa: E402
from ltr.features.loader import load_behaviour  # noqa: E402
from ltr.features.user import UserProfile, user_product_features  # noqa: E402
from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger, behaviour_snapshot  # noqa: E402
from ltr.ranker.featureset import PERSONAL_FEATURES, SHOP_FEATURES  # noqa: E402
from ltr.ranker.job import is_validation_query  # noqa: E402
from ltr.ranker.profiles import CatalogTraits  # noqa: E402
from ltr.ranker.reranker import candidate_traits  # noqa: E402
from ltr.ranker.search_dataset import build_search_dataset, ipw_weights, profiles_before  # noqa: E402
from ltr.ranker.train import TrainParams, train_lambdamart  # noqa: E402
from ltr.simulation.behaviour import attractiveness, relevance_of_grade  # noqa: E402


def ndcg_gains(order: np.ndarray, gains: np.ndarray, k: int = 10) -> float:
    """nDCG@k with linear gains (the shopper's own click probabilities), ideal over the same pool."""
    best = dcg(sorted(gains.tolist(), reverse=True)[:k])
    return dcg(gains[order[:k]].tolist()) / best if best > 0 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--shoppers", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--days", type=float, default=28.0)
    parser.add_argument("--label-days", type=float, default=14.0)
    parser.add_argument("--test-searches", type=int, default=3000)
    parser.add_argument("--window", type=int, default=100, help="fused candidates per query for features")
    parser.add_argument("--test-windows", type=int, nargs="+", default=[10, 100],
                        help="rerank the top N fused candidates at test time (10 = only what shoppers were shown)")
    parser.add_argument("--index", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    settings = get_settings()
    folder = Path(tempfile.mkdtemp(prefix="shelfrank-personal-"))
    service, url = recording_service(settings, folder / "events.db", args.index)
    client, index = service.client, service.index

    train_all = select_split(load_homedepot(HOMEDEPOT), "train")
    eligible = sorted(q for q, grades in train_all.items() if len(grades) >= 4)
    queries = sorted(random.Random(args.seed).sample(eligible, args.queries))

    # 1. shoppers with tastes, on real pages
    simulation_run = simulator(service, url, queries, train_all, rankers=["hybrid-minmax"], click_model="pbm",
                               seed=args.seed, shoppers=args.shoppers, reuse_pages=True, days=args.days)
    simulation = simulation_run.run(args.sessions, progress=True)
    print(f"simulated {simulation.summary()['events']} in {time.perf_counter() - started:.0f}s")

    # 2. one group per search of the label window, with point-in-time profiles
    now = datetime.now(timezone.utc)
    label_start = now - timedelta(days=args.label_days)
    traits_lookup = CatalogTraits(client, index)
    with session_scope(url) as session:
        history = load_behaviour(session)
        searches = list(iter_logged_searches(session, since=label_start))
        click_log = ClickLog.from_sessions(iter_click_sessions(session, 10, since=label_start), depth=10)
    traits = traits_lookup(a.product_id for a in history.actions)
    pbm = make_model("pbm").fit(click_log, max_iter=100)
    print(f"label window: {len(searches)} searches; PBM examination " + " ".join(f"{x:.2f}" for x in pbm.examination))
    extractor = FeatureExtractor(PERSONAL_FEATURES, EngineFeatureLogger(client, index))
    pools: dict[str, list] = {}

    def candidates(query: str):  # type: ignore[no-untyped-def]
        if query not in pools:
            pools[query] = service.candidates(query, "hybrid-minmax")[: args.window]
        return pools[query]

    train_behaviour = behaviour_snapshot(history.before(label_start), label_start)
    position_data = build_search_dataset(searches, candidates, extractor, behaviour=train_behaviour,
                                         profile_of=profiles_before(history, label_start, traits),
                                         debias="position", window=args.window, progress=True)
    positions = position_data.positions
    assert positions is not None
    variants = {
        "personal (position-aware)": (PERSONAL_FEATURES, position_data),
        "shop, no user features (position-aware)": (SHOP_FEATURES, position_data),
        "personal (IPW)": (PERSONAL_FEATURES, dataclasses.replace(
            position_data, positions=None, weights=ipw_weights(position_data.labels, positions, pbm.examination))),
        "personal (no debiasing)": (PERSONAL_FEATURES, dataclasses.replace(position_data, positions=None)),
        "shop, no user features (no debiasing)": (SHOP_FEATURES, dataclasses.replace(position_data, positions=None)),
    }
    models = {}
    for name, (featureset, data) in variants.items():
        columns = [PERSONAL_FEATURES.names.index(n) for n in featureset.names]
        data = dataclasses.replace(data, features=data.features[:, columns])
        valid = [is_validation_query(q) for q in data.queries]
        mark = time.perf_counter()
        booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid), featureset.names,
                                   TrainParams(seed=args.seed))
        models[name] = (booster, columns)
        print(f"{name}: {len(data.groups)} searches, {len(data)} rows, {booster.best_iteration} trees, "
              f"{time.perf_counter() - mark:.1f}s")

    # 3. fresh searches by known shoppers, judged by each shopper's own relevance
    serving_behaviour = behaviour_snapshot(history, now)
    rng = random.Random(args.seed + 1)
    shoppers = simulation_run.shoppers
    profiles: dict[str, UserProfile] = {}
    user_columns = [PERSONAL_FEATURES.names.index(s.name) for s in PERSONAL_FEATURES.of_source("user")]
    base_matrix: dict[str, np.ndarray] = {}
    scores: dict[str, list[float]] = {f"{name} @{w}": [] for w in args.test_windows for name in models}
    scores = {"hybrid-minmax": [], **scores}
    for _ in tqdm(range(args.test_searches), desc="test searches", unit="search"):
        shopper, query = rng.choice(shoppers), rng.choice(queries)
        pool = candidates(query)
        if len(pool) < 2:
            continue
        if query not in base_matrix:
            base_matrix[query] = extractor.matrix(query, pool, serving_behaviour)
        user = pseudonymise(shopper.user_id, KEY)
        if user not in profiles:
            profiles[user] = UserProfile.build(history, user, now, traits)
        pool_traits = [candidate_traits(c) for c in pool]
        matrix = base_matrix[query].copy()
        for r, product_traits in enumerate(pool_traits):
            values = user_product_features(profiles[user], product_traits)
            for j, spec in zip(user_columns, PERSONAL_FEATURES.of_source("user")):
                matrix[r, j] = values[spec.name]
        grades = train_all[query]
        own = np.array([attractiveness(relevance_of_grade(grades.get(c.product_id), simulation_run.max_grade), shopper, t)
                        for c, t in zip(pool, pool_traits)])
        scores["hybrid-minmax"].append(ndcg_gains(np.arange(len(pool)), own))
        for name, (booster, columns) in models.items():
            predicted = booster.predict(matrix[:, columns])
            for w in args.test_windows:
                head = np.argsort(-predicted[:w], kind="stable")
                order = np.concatenate([head, np.arange(min(w, len(pool)), len(pool))])
                scores[f"{name} @{w}"].append(ndcg_gains(order, own))

    averages = {name: float(np.mean(values)) for name, values in scores.items()}
    hybrid = averages["hybrid-minmax"]
    print(f"\n{len(scores['hybrid-minmax'])} test searches by {args.shoppers} shoppers over {args.queries} queries; "
          "nDCG@10 against each shopper's own relevance; @N: the model reranks the top N")
    for name, value in averages.items():
        spread = 1.96 * float(np.std(scores[name])) / math.sqrt(len(scores[name]))
        print(f"{name:46} {value:.4f} ±{spread:.4f}  {100 * (value / hybrid - 1):+6.1f}% vs hybrid")
    out = args.out or folder
    out.mkdir(parents=True, exist_ok=True)
    (out / "ltr_personalisation.json").write_text(json.dumps(
        {"averages": averages, "args": vars(args) | {"out": str(out)},
         "examination_fitted": pbm.examination.tolist(), "simulation": simulation.summary()}, indent=2, default=str))
    print(f"saved {out}; total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
