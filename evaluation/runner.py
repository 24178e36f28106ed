"""Run a named retrieval configuration over judged queries and aggregate the metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from evaluation.judgments import Judgments
from evaluation.metrics import METRICS, err_at, evaluate_query

Ranker = Callable[[str], list[str]]


@dataclass
class EvaluationResult:
    config: str
    per_query: list[dict]
    averages: dict[str, float]


def evaluate(ranker: Ranker, judgments: Judgments, config: str, progress: bool = False) -> EvaluationResult:
    max_grade = max((g for grades in judgments.values() for g in grades.values()), default=0.0)
    rows = []
    for query in tqdm(sorted(judgments), desc=f"evaluating {config}", unit="query", disable=not progress):
        grades = judgments[query]
        ranking = ranker(query)
        metrics = evaluate_query(ranking, grades)
        metrics["err@10"] = err_at(ranking, grades, 10, max_grade)
        rows.append({"query": query, **metrics})
    averages = {name: (sum(r[name] for r in rows) / len(rows) if rows else 0.0) for name in METRICS}
    averages["queries"] = len(rows)
    return EvaluationResult(config, rows, averages)
