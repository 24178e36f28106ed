"""The served ranking evaluated on the stored judgments and recorded over time, on the real node."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import migrate
from core.db.models import EvaluationRun
from core.db.session import session_scope
from core.settings import Settings
from evaluation import judgment_store
from ltr.served_evaluation import NothingToEvaluate, evaluate_served, history

pytestmark = pytest.mark.integration


def test_each_run_records_the_served_and_the_hybrid_ranking(tmp_path: Path, settings: Settings, sample_index: str,
                                                            judged_queries: dict[str, dict[str, float]]) -> None:
    url = f"sqlite:///{tmp_path / 'eval.db'}"
    migrate.upgrade(url)
    shop = settings.model_copy(update={"database_url": url, "state_dir": tmp_path, "search_candidates": 50})
    with pytest.raises(NothingToEvaluate, match="shelfrank judgments import"):
        evaluate_served(shop, sample_index, "all")
    with session_scope(url) as session:
        judgment_store.import_judgments(session, judged_queries, "test", "test")
    first = evaluate_served(shop, sample_index, "all", limit=30, started_by="test")
    second = evaluate_served(shop, sample_index, "all", limit=30, started_by="beat")
    assert first.served.queries == 30 and first.served.model is None  # no active model: served is the hybrid
    assert first.served.metrics == pytest.approx(first.hybrid.metrics)
    assert 0.3 < first.served.metrics["ndcg@10"] <= 1 and 0 < first.served.metrics["recall@100"] <= 1
    assert second.served.metrics == pytest.approx(first.served.metrics)  # same index, same judgments
    with session_scope(url) as session:
        rows = history(session)
        assert [(r.ranking, r.started_by) for r in rows] == [("served", "test"), ("hybrid", "test"),
                                                             ("served", "beat"), ("hybrid", "beat")]
        assert session.scalars(select(EvaluationRun.at)).all()[0] == rows[1].at  # a run's rows share its moment
