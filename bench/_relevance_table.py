"""The relevance benches' table: each ranking's mean metrics, and each metric against a baseline's, paired."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from evaluation.metrics import METRICS
from evaluation.significance import PairedComparison, paired_bootstrap

#: The metrics the issue reports with intervals, in the table's order.
COMPARED = ("ndcg@10", "recall@100", "mrr@10")


def print_table(rows: Mapping[str, Sequence[Mapping[str, float]]], baseline: str = "bm25", width: int = 34,
                ) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, PairedComparison]]]:
    """``rows``: ranking -> per-query metrics, the same queries in the same order for every ranking. Prints
    nDCG@10, recall@100, MRR@10, the change against ``baseline`` and the paired bootstrap interval of the
    nDCG@10 difference with the queries helped and hurt, then the same interval for recall@100 and MRR@10;
    returns (averages, comparisons: metric -> ranking -> its comparison with ``baseline``)."""
    averages = {name: {m: float(np.mean([r[m] for r in rs])) for m in METRICS} for name, rs in rows.items()}
    comparisons = {metric: {name: paired_bootstrap([r[metric] for r in rows[name]], [r[metric] for r in rows[baseline]])
                            for name in rows} for metric in COMPARED}
    base = averages[baseline]["ndcg@10"]
    print(f"{'ranking':{width}} {'nDCG@10':>8} {'recall@100':>10} {'MRR@10':>7} {'vs ' + baseline:>8}  "
          f"nDCG@10 - {baseline}, paired bootstrap 95%")
    for name, avg in averages.items():
        print(f"{name:{width}} {avg['ndcg@10']:8.4f} {avg['recall@100']:10.4f} {avg['mrr@10']:7.4f} "
              f"{100 * (avg['ndcg@10'] / base - 1):+7.1f}%  {comparisons['ndcg@10'][name].describe()}")
    print(f"{'':{width}} {'recall@100 - ' + baseline + ' [95%]':>32} {'MRR@10 - ' + baseline + ' [95%]':>32}")
    for name in averages:
        cells = [f"{c.mean_difference:+.4f} [{c.low:+.4f}, {c.high:+.4f}]"
                 for c in (comparisons["recall@100"][name], comparisons["mrr@10"][name])]
        print(f"{name:{width}} {cells[0]:>32} {cells[1]:>32}")
    return averages, comparisons
