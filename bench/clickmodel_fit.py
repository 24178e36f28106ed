"""Click-model fitting time and memory on a simulated PBM log, against one-pass position CTR.

Usage: .venv/bin/python bench/clickmodel_fit.py [--impressions 1000000] [--depth 10] [--repeats 3]

Sessions are simulated from a position-based model (random permutation of a per-query pool on every
page, so examination is identifiable) until they total --impressions. Each model is measured in a
fresh process that simulates the same log (same seed), so ru_maxrss is that model's own high-water
mark and not a previous model's. In that process the fit is timed (best of --repeats) without
tracing, then run once more under tracemalloc for its peak of traced allocations (numpy arrays
included). The baseline, measured the same way in the same run, is the one-pass counting estimate
of examination: clicks per position / impressions per position, normalised to position 1 (unbiased
here only because the rankings are randomised).

Columns: seconds (best fit), impressions/s, the ratio of seconds to the baseline's, EM iterations,
tracemalloc peak, ru_maxrss of the process (includes the simulated log, reported as "rss before"),
and the largest |examination - true theta| over positions.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np

from ltr.clickmodels import ClickLog, make_model
from ltr.clickmodels.synthetic import simulate_pbm

BASELINE = "ctr"


def position_ctr(log: ClickLog) -> np.ndarray:
    """Examination by counting: CTR per position over CTR at position 1."""
    ctr = log.clicks.sum(axis=0) / np.maximum(log.shown.sum(axis=0), 1)
    return ctr / ctr[0]


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Runs in its own process: simulate, time the fit, trace its memory."""
    sim = simulate_pbm(args.impressions // args.depth, args.depth, n_queries=args.queries, pool=args.pool,
                       seed=args.seed)
    log = sim.log
    rss_before = _maxrss_mib()

    def fit() -> tuple[np.ndarray, int]:
        if name == BASELINE:
            return position_ctr(log), 1
        model = make_model(name).fit(log, max_iter=args.max_iter, tol=args.tol)
        return model.examination, model.n_iter

    best = float("inf")
    for _ in range(args.repeats):
        started = time.perf_counter()
        examination, n_iter = fit()
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    fit()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"name": name, "seconds": best, "n_iter": n_iter, "impressions": log.n_impressions,
            "sessions": log.n_sessions, "clicks": int(log.clicks.sum()), "traced_mib": peak / 2**20,
            "rss_before_mib": rss_before, "rss_mib": _maxrss_mib(),
            "exam_error": float(np.abs(examination - sim.examination).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impressions", type=int, default=1_000_000, help="total impressions to simulate")
    parser.add_argument("--depth", type=int, default=10, help="results per page")
    parser.add_argument("--queries", type=int, default=2000, help="distinct queries")
    parser.add_argument("--pool", type=int, default=30, help="candidate docs per query (>= depth)")
    parser.add_argument("--models", nargs="+", default=["pbm", "cascade", "dbn", "ubm"])
    parser.add_argument("--max-iter", type=int, default=50, help="EM iterations at most (fit's default)")
    parser.add_argument("--tol", type=float, default=1e-6, help="EM stops when LL/session gains less")
    parser.add_argument("--repeats", type=int, default=3, help="timed fits per model; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    results = []
    for name in [BASELINE, *args.models]:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(measure, name, args).result())
    base = results[0]
    print(f"simulated PBM log: {base['sessions']} sessions x depth {args.depth} = {base['impressions']} impressions, "
          f"{base['clicks']} clicks, {args.queries} queries x {args.pool} docs; max_iter {args.max_iter}, "
          f"tol {args.tol:g}, best of {args.repeats}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}; rss before fit (log simulated): {base['rss_before_mib']:.0f} MiB")
    print(f"  {'model':8} {'seconds':>8} {'impr/s':>11} {'x ctr':>8} {'iter':>5} {'traced MiB':>10} "
          f"{'maxrss MiB':>10} {'exam err':>8}")
    for r in results:
        print(f"  {r['name']:8} {r['seconds']:8.4f} {r['impressions'] / r['seconds']:11.3g} "
              f"{r['seconds'] / base['seconds']:8.0f} {r['n_iter']:5d} {r['traced_mib']:10.1f} "
              f"{r['rss_mib']:10.0f} {r['exam_error']:8.4f}")


if __name__ == "__main__":
    main()
