"""The relevance benches' table: each ranking's mean metrics, and its nDCG@10 against a baseline's, paired."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evaluation.metrics import METRICS
from evaluation.significance import PairedComparison, paired_bootstrap


def print_table(rows: Mapping[str, Sequence[Mapping[str, float]]], baseline: str = "bm25", width: int = 34,
                ) -> tuple[dict[str, dict[str, float]], dict[str, PairedComparison]]:
    """``rows``: ranking -> per-query metrics, the same queries in the same order for every ranking. Prints
    nDCG@10, recall@100, MRR@10, the change against ``baseline`` and the paired bootstrap interval of the
    nDCG@10 difference with the queries helped and hurt; returns (averages, comparisons)."""
    averages = {name: {m: float(np.mean([r[m] for r in rs])) for m in METRICS} for name, rs in rows.items()}
    base = averages[baseline]["ndcg@10"]
    print(f"{'ranking':{width}} {'nDCG@10':>8} {'recall@100':>10} {'MRR@10':>7} {'vs ' + baseline:>8}  "
          f"nDCG@10 - {baseline}, paired bootstrap 95%")
    comparisons = {}
    for name, avg in averages.items():
        comparisons[name] = paired_bootstrap([r["ndcg@10"] for r in rows[name]],
                                             [r["ndcg@10"] for r in rows[baseline]])
        print(f"{name:{width}} {avg['ndcg@10']:8.4f} {avg['recall@100']:10.4f} {avg['mrr@10']:7.4f} "
              f"{100 * (avg['ndcg@10'] / base - 1):+7.1f}%  {comparisons[name].describe()}")
    return averages, comparisons
