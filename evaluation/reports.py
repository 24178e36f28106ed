"""What an evaluation run leaves behind for people: per-query CSVs, a summary and a plot."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evaluation.runner import EvaluationResult


def save_results(results: list[EvaluationResult], folder: Path, split: str) -> Path:
    """Per-query CSVs, summary.json and a comparison bar chart in ``folder`` (shown by the CLI, the
    console and stored by scheduled evaluations alike); returns the folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for result in results:
        with (folder / f"{result.config}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(result.per_query[0]))
            writer.writeheader()
            writer.writerows(result.per_query)
    (folder / "summary.json").write_text(json.dumps({r.config: r.averages for r in results}, indent=2))
    metrics = [k for k in results[0].averages if k != "queries"]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        ax.bar([m + i * width for m in range(len(metrics))], [result.averages[k] for k in metrics], width,
               label=result.config)
    ax.set_xticks([m + width * (len(results) - 1) / 2 for m in range(len(metrics))], metrics)
    ax.set_ylim(0, 1)
    ax.set_title(f"Retrieval configurations on {results[0].averages['queries']} {split} queries")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "comparison.png", dpi=120)
    plt.close(fig)
    return folder
