"""LambdaMART training time and peak memory per 1M impressions.

Usage: .venv/bin/python bench/ltr_training.py [--impressions 1000000 2000000] [--rounds 200]

One training row is one impression (a shown product in a logged search, 10 per search), with
the 22 columns of the personal featureset, click labels drawn from a hidden relevance and a
position bias, and LightGBM's position-aware lambdarank, as `shelfrank train --labels actions`
runs it. Feature logging through OpenSearch is not included (it is per query, not per
impression; see docs/measurements.md for the relevance experiments' end-to-end times).

Each configuration runs in a fresh child process, which reports its own wall time and peak RSS:
- *data only*: the child builds the arrays and exits (the memory baseline);
- *pointwise*: LightGBM `binary` on the same rows and rounds (the time baseline);
- *lambdarank + position*: what production trains. Early stopping is off so rounds are equal.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

import lightgbm as lgb
import numpy as np

from ltr.ranker.featureset import PERSONAL_FEATURES

PER_SEARCH = 10


def synthetic(impressions: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_features = len(PERSONAL_FEATURES.names)
    features = rng.standard_normal(size=(impressions, n_features), dtype=np.float32)
    features[rng.random(features.shape, dtype=np.float32) < 0.05] = np.nan  # missing, as for absent BM25 hits
    relevance = 1 / (1 + np.exp(-(features[:, 0] + 0.5 * np.nan_to_num(features[:, 10]))))
    positions = np.tile(np.arange(PER_SEARCH), impressions // PER_SEARCH)
    examination = 1 / (positions + 1) ** 0.6
    labels = (rng.random(impressions) < relevance * examination).astype(int)
    groups = np.full(impressions // PER_SEARCH, PER_SEARCH)
    return features, labels, groups, positions


def child(mode: str, impressions: int, rounds: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    started = time.perf_counter()
    features, labels, groups, positions = synthetic(impressions)
    built = time.perf_counter() - started
    trained = 0.0
    if mode != "data only":
        mark = time.perf_counter()
        params = {"num_leaves": 31, "learning_rate": 0.05, "min_data_in_leaf": 20, "feature_fraction": 0.9,
                  "bagging_fraction": 0.8, "bagging_freq": 1, "seed": 0, "deterministic": True, "verbose": -1}
        if mode == "pointwise":
            dataset = lgb.Dataset(features, labels, feature_name=PERSONAL_FEATURES.names)
            params["objective"] = "binary"
        else:
            dataset = lgb.Dataset(features, labels, group=groups, position=positions,
                                  feature_name=PERSONAL_FEATURES.names)
            params |= {"objective": "lambdarank", "lambdarank_truncation_level": 20}
        lgb.train(params, dataset, num_boost_round=rounds)
        trained = time.perf_counter() - mark
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
    out.put((built, trained, peak_mb))


def measure(mode: str, impressions: int, rounds: int) -> tuple[float, float, float]:
    queue: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
    process = mp.get_context("spawn").Process(target=child, args=(mode, impressions, rounds, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impressions", type=int, nargs="+", default=[1_000_000, 2_000_000])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"{len(PERSONAL_FEATURES.names)} features, {PER_SEARCH} impressions per search, {args.rounds} rounds")
    print(f"{'impressions':>11} {'mode':24} {'train s':>8} {'s / 1M':>7} {'peak MB':>8} {'vs data':>8} "
          f"{'time vs pointwise':>17}")
    for impressions in args.impressions:
        results = {mode: measure(mode, impressions, args.rounds)
                   for mode in ("data only", "pointwise", "lambdarank + position")}
        base_mb, base_s = results["data only"][2], results["pointwise"][1]
        for mode, (_built, trained, peak) in results.items():
            ratio = f"{trained / base_s:17.2f}" if trained else f"{'-':>17}"
            print(f"{impressions:11,d} {mode:24} {trained:8.1f} {trained / impressions * 1e6:7.1f} {peak:8.0f} "
                  f"{peak / base_mb:8.2f} {ratio}")


if __name__ == "__main__":
    main()
