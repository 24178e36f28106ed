"""Preview a search tuning before it goes live: nDCG@10 before and after on judged *train* queries.

A preview is a choice (go live or not), so the test split never enters it. The sample is fixed (the
queries' order by text) so two previews of the same change agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evaluation.judgments import Judgments, select_split
from evaluation.metrics import ndcg_at

Ranker = Callable[[str], list[str]]


@dataclass(frozen=True)
class Preview:
    queries: int
    before: float
    after: float
    better: list[dict]
    worse: list[dict]
    unchanged: int

    def as_dict(self) -> dict:
        return {"queries": self.queries, "ndcg@10_before": self.before, "ndcg@10_after": self.after,
                "better": self.better, "worse": self.worse, "unchanged": self.unchanged}


def sample(judgments: Judgments, limit: int) -> Judgments:
    """The train-split queries with at least one relevant product, first ``limit`` by text."""
    train = {q: g for q, g in select_split(judgments, "train").items() if any(v > 0 for v in g.values())}
    return {q: train[q] for q in sorted(train)[:limit]}


def preview(before: Ranker, after: Ranker, judgments: Judgments, limit: int, shown: int = 20,
            progress: Callable[[int, int], None] | None = None) -> Preview:
    queries = sample(judgments, limit)
    rows = []
    for done, (query, grades) in enumerate(queries.items(), start=1):
        rows.append({"query": query, "before": ndcg_at(before(query), grades), "after": ndcg_at(after(query), grades)})
        if progress:
            progress(done, len(queries))
    count = len(rows)
    mean_before = sum(r["before"] for r in rows) / count if count else 0.0
    mean_after = sum(r["after"] for r in rows) / count if count else 0.0
    better = sorted((r for r in rows if r["after"] > r["before"] + 1e-9), key=lambda r: r["before"] - r["after"])
    worse = sorted((r for r in rows if r["after"] < r["before"] - 1e-9), key=lambda r: r["after"] - r["before"])
    return Preview(count, mean_before, mean_after, better[:shown], worse[:shown], count - len(better) - len(worse))


def measured_worse(preview: dict | None, live_version: int | None) -> str | None:
    """Why putting a version live needs a second thought, or None: its stored preview compared it with what
    is live now (``against_version``, None for the settings' defaults) and it ranked the judged queries
    worse. A preview against another version says nothing about now, so it never blocks (a rollback in a
    hurry included)."""
    if not preview or preview.get("against_version") != live_version:
        return None
    before, after = preview["ndcg@10_before"], preview["ndcg@10_after"]
    if after >= before - 1e-9:
        return None
    against = f"version {live_version}" if live_version is not None else "the settings' defaults"
    return (f"This version ranked the {preview['queries']} judged train queries worse than the live tuning "
            f"({against}): nDCG@10 {before:.4f} -> {after:.4f}, {len(preview.get('worse', []))} queries worse.")
