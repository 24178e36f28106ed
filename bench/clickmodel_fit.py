"""Click-model fitting time and memory on a simulated PBM log, against one-pass position CTR.

Usage: .venv/bin/python bench/clickmodel_fit.py [--impressions 1000000] [--depth 10] [--repeats 3]
       [--prior fixed|empirical|both] [--log default|sparse]

Sessions are simulated from a position-based model (random permutation of a per-query pool on every
page, so examination is identifiable) until they total --impressions. Each model is measured in a
fresh process that simulates the same log (same seed), so ru_maxrss is that model's own high-water
mark and not a previous model's. In that process the fit is timed (best of --repeats) without
tracing, then run once more under tracemalloc for its peak of traced allocations (numpy arrays
included). The baseline, measured the same way in the same run, is the one-pass counting estimate
of examination: clicks per position / impressions per position, normalised to position 1 (unbiased
here only because the rankings are randomised).

--prior picks the attractiveness prior (fixed Beta(1, 1) pseudo-counts, the empirical-Bayes Beta
fitted by marginal likelihood, or both, one row each; DBN only has the fixed one). --log sparse
replaces the simulated log by ltr.clickmodels.synthetic.simulate_sparse_pbm (20,000 sessions over
400 Zipf-distributed queries, ~30 impressions per pair; the size flags are then ignored).

Columns: seconds (best fit), impressions/s, the ratio of seconds to the baseline's, EM iterations,
tracemalloc peak, ru_maxrss of the process (includes the simulated log, reported as "rss before"),
the largest |examination - true theta| over positions, the fitted prior (alpha, beta), and what the
fit does to the LTR labels (ltr.clickmodels.graded_labels, 5 grades, pairs with >= --min-support
impressions): Kendall's tau-b of the labels with the true attractiveness, and the share of labels
equal to the grade of the true attractiveness.
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

from dataclasses import replace

import numpy as np

from ltr.clickmodels import MODELS, ClickLog, ClickModel, graded_labels, make_model
from ltr.clickmodels.synthetic import SyntheticClicks, simulate_pbm, simulate_sparse_pbm

BASELINE = "ctr"


def position_ctr(log: ClickLog) -> np.ndarray:
    """Examination by counting: CTR per position over CTR at position 1."""
    ctr = log.clicks.sum(axis=0) / np.maximum(log.shown.sum(axis=0), 1)
    return ctr / ctr[0]


def kendall_tau_b(x: np.ndarray, y: np.ndarray, block: int = 2048) -> float:
    """Kendall's tau-b (ties in either variable allowed), by blocks of rows of the pair matrix."""
    concordant = discordant = ties_x = ties_y = 0
    for start in range(0, len(x), block):
        dx = np.sign(x[start:start + block, None] - x[None, :])
        dy = np.sign(y[start:start + block, None] - y[None, :])
        concordant += int((dx * dy > 0).sum())
        discordant += int((dx * dy < 0).sum())
        ties_x += int(((dx == 0) & (dy != 0)).sum())
        ties_y += int(((dy == 0) & (dx != 0)).sum())
    return (concordant - discordant) / np.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))


def label_quality(model: ClickModel, sim: SyntheticClicks, min_support: int,
                  sample: int = 20_000) -> tuple[float, float, int]:
    """(tau-b of the graded labels with the true attractiveness, share equal to the true grade, labels)."""
    est = model.estimates()
    truth = sim.attractiveness[est.pairs.doc_ids]
    keep = np.flatnonzero(est.impressions >= min_support)
    labels = graded_labels(est, min_support)
    true_grades = graded_labels(replace(est, relevance=truth), min_support)
    grades = np.array([labels[est.pairs.key(int(i))] for i in keep])
    agree = float(np.mean(grades == np.array([true_grades[est.pairs.key(int(i))] for i in keep])))
    rows = np.random.default_rng(0).permutation(len(keep))[:sample]  # tau-b is quadratic: a sample
    return kendall_tau_b(grades[rows].astype(float), truth[keep][rows]), agree, len(keep)


def simulate(args: argparse.Namespace) -> SyntheticClicks:
    if args.log == "sparse":
        return simulate_sparse_pbm(seed=args.seed)
    return simulate_pbm(args.impressions // args.depth, args.depth, n_queries=args.queries, pool=args.pool,
                        seed=args.seed)


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(name: str, prior: str, args: argparse.Namespace) -> dict[str, Any]:
    """Runs in its own process: simulate, time the fit, trace its memory, then grade the labels."""
    sim = simulate(args)
    log = sim.log
    rss_before = _maxrss_mib()

    def fit() -> tuple[np.ndarray, int, ClickModel | None]:
        if name == BASELINE:
            return position_ctr(log), 1, None
        model = make_model(name, prior=prior).fit(log, max_iter=args.max_iter, tol=args.tol)
        return model.examination, model.n_iter, model

    best = float("inf")
    for _ in range(args.repeats):
        started = time.perf_counter()
        examination, n_iter, model = fit()
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    fit()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = _maxrss_mib()
    tau, agree, n_labels = label_quality(model, sim, args.min_support) if model is not None else (np.nan, np.nan, 0)
    return {"name": name, "prior": prior if model is not None else "-", "seconds": best, "n_iter": n_iter,
            "impressions": log.n_impressions, "sessions": log.n_sessions, "clicks": int(log.clicks.sum()),
            "pairs": len(np.unique(log.doc_ids[log.shown])), "traced_mib": peak / 2**20,
            "rss_before_mib": rss_before, "rss_mib": rss,
            "exam_error": float(np.abs(examination - sim.examination).max()),
            "alpha_beta": None if model is None else model.attractiveness_prior, "tau": tau, "agree": agree,
            "labels": n_labels}


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
    parser.add_argument("--prior", choices=["fixed", "empirical", "both"], default="fixed",
                        help="attractiveness prior of the fits (both: one row per prior)")
    parser.add_argument("--log", choices=["default", "sparse"], default="default",
                        help="sparse: the issue-14 sparse randomised log (ignores the size flags)")
    parser.add_argument("--min-support", type=int, default=10, help="impressions a pair needs for a label")
    args = parser.parse_args()

    priors = ["fixed", "empirical"] if args.prior == "both" else [args.prior]
    runs = [(BASELINE, "-")] + [(name, prior) for name in args.models for prior in priors
                                if prior in MODELS[name].priors]
    results = []
    for name, prior in runs:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            results.append(pool.submit(measure, name, prior, args).result())
    base = results[0]
    shape = ("simulate_sparse_pbm (Zipf queries, Beta(2, 1) attractiveness)" if args.log == "sparse"
             else f"{args.queries} queries x {args.pool} docs")
    print(f"simulated PBM log: {base['sessions']} sessions = {base['impressions']} impressions, "
          f"{base['clicks']} clicks, "
          f"{base['pairs']} pairs ({base['impressions'] / base['pairs']:.1f} impressions each), {shape}; "
          f"max_iter {args.max_iter}, tol {args.tol:g}, best of {args.repeats}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}; rss before fit (log simulated): {base['rss_before_mib']:.0f} MiB")
    print(f"  {'model':8} {'prior':9} {'seconds':>8} {'impr/s':>11} {'x ctr':>8} {'iter':>5} {'traced MiB':>10} "
          f"{'maxrss MiB':>10} {'exam err':>8} {'alpha, beta':>12} {'label tau':>9} {'= true':>7}")
    for r in results:
        prior = "-" if r["alpha_beta"] is None else "{:.2f}, {:.2f}".format(*r["alpha_beta"])
        print(f"  {r['name']:8} {r['prior']:9} {r['seconds']:8.4f} {r['impressions'] / r['seconds']:11.3g} "
              f"{r['seconds'] / base['seconds']:8.0f} {r['n_iter']:5d} {r['traced_mib']:10.1f} "
              f"{r['rss_mib']:10.0f} {r['exam_error']:8.4f} {prior:>12} {r['tau']:9.3f} {r['agree']:7.3f}")
    labelled = next((r["labels"] for r in results if r["labels"]), 0)
    print(f"labels: {labelled} pairs with >= {args.min_support} impressions (tau-b on a sample of up to 20,000)")


if __name__ == "__main__":
    main()
