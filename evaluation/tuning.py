"""Choose fusion parameters on the train split without re-querying OpenSearch for every setting.

Each judged query's BM25 and vector candidate lists are fetched once. Every (method, weight) pair is
then fused offline with the same pure functions the storefront uses, and scored by mean nDCG@10.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tqdm import tqdm

from evaluation.judgments import Judgments
from evaluation.metrics import ndcg_at
from storefront import fusion

CandidateLists = dict[str, dict[str, float]]  # retriever -> {product_id: score}


@dataclass(frozen=True)
class FusionScore:
    method: str
    vector_weight: float
    ndcg_at_10: float


def fuse(lists: CandidateLists, method: str, vector_weight: float, rrf_k: float = 60.0) -> list[str]:
    """The ranking the storefront would serve for these lists (same fusion code path)."""
    scores = fusion.fuse(lists, method, {"bm25": 1.0 - vector_weight, "vector": vector_weight}, rrf_k)
    return [pid for pid, _ in fusion.ranked(scores)]


def grid_search(candidates: dict[str, CandidateLists], judgments: Judgments,
                methods: Iterable[str] = ("rrf", "minmax", "zscore"),
                weights: Iterable[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)) -> list[FusionScore]:
    results = []
    weights = list(weights)
    for method in methods:
        for weight in weights:
            total = sum(ndcg_at(fuse(candidates[q], method, weight), judgments[q], 10) for q in candidates)
            results.append(FusionScore(method, weight, total / max(len(candidates), 1)))
    return sorted(results, key=lambda r: -r.ndcg_at_10)


def collect(fetch: Callable[[str], CandidateLists], queries: list[str], progress: bool = False) -> dict[str, CandidateLists]:
    return {q: fetch(q) for q in tqdm(queries, desc="fetching candidates", unit="query", disable=not progress)}
