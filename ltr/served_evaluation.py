"""The served ranking measured on the shop's stored judgments, recorded over time (``evaluation_runs``).

Run nightly by the workers and on demand (``shelfrank evaluations run``): the storefront's own search
path (live tuning, the active model) against the same retrieval unreranked, on the test split by default.
This is reporting, never a choice: nothing here feeds training, tuning or promotion.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import EvaluationRun, utcnow
from core.db.session import session_scope
from core.settings import Settings
from evaluation import judgment_store
from evaluation.runner import evaluate
from ltr.ranker.serving import storefront_service
from storefront.rerank_stage import current_reranker


class NothingToEvaluate(RuntimeError):
    """No stored judgments in the split: the message says how to add some."""


@dataclass(frozen=True)
class ServedEvaluation:
    served: EvaluationRun
    hybrid: EvaluationRun

    def as_dict(self) -> dict[str, object]:
        return {"queries": self.served.queries, "split": self.served.split, "model": self.served.model,
                "served": self.served.metrics, "hybrid": self.hybrid.metrics}


def evaluate_served(settings: Settings, alias: str, split: str = "test", limit: int | None = None,
                    started_by: str = "unknown", progress: bool = False) -> ServedEvaluation:
    with session_scope(settings.effective_database_url) as session:
        judged = judgment_store.load(session, split)
    if limit:
        judged = {q: judged[q] for q in sorted(judged)[:limit]}
    if not judged:
        raise NothingToEvaluate(f"no judged queries in the {split} split are stored; import some with "
                                "`shelfrank judgments import FILE`")
    service = storefront_service(settings, alias, record=False)
    reranker = current_reranker(service.reranker)
    tuning = service.current_tuning()
    served = evaluate(lambda q: service.ranking(q, None, 100, tuning=tuning), judged, "served", progress)
    hybrid = evaluate(lambda q: service.ranking(q, None, 100, tuning=tuning, rerank=False), judged, "hybrid",
                      progress)
    model = None if reranker.name == "none" else reranker.name
    at = utcnow()  # one moment for both rows: they are one run
    rows = [EvaluationRun(at=at, ranking=name, model=model if name == "served" else None, config=tuning.default_config,
                          tuning_version=tuning.version, split=split, queries=int(result.averages["queries"]),
                          metrics={k: v for k, v in result.averages.items() if k != "queries"},
                          started_by=started_by) for name, result in (("served", served), ("hybrid", hybrid))]
    with session_scope(settings.effective_database_url) as session:
        session.add_all(rows)
    return ServedEvaluation(*rows)


def history(session: Session, limit: int = 200) -> list[EvaluationRun]:
    """Recorded runs, oldest first (the last ``limit``)."""
    rows = list(session.scalars(select(EvaluationRun).order_by(EvaluationRun.at.desc(), EvaluationRun.id.desc())
                                .limit(limit)))
    return rows[::-1]
