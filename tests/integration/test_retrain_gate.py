"""Retraining promotes only a candidate that ranks the held-out queries better than what is served.

Real judgments (Home Depot train-split sample), the real node and the project's own retrain job;
the margin decides the outcome here, so that the test says what the gate does, not how good a
120-query model happens to be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.access import audit
from core.db import migrate
from core.db.session import session_scope
from core.settings import Settings
from ltr import registry
from ltr.quality_gate import is_holdout_query
from ltr.ranker.job import TrainingRequest
from ltr.ranker.train import TrainParams
from ltr.retrain import retrain

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(settings: Settings, sample_index: str, tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'retrain.db'}"
    migrate.upgrade(url)
    return settings.model_copy(update={"database_url": url, "default_index": sample_index, "state_dir": tmp_path,
                                       "rerank_window": 50, "search_candidates": 50})


def request(judged: dict[str, dict[str, float]]) -> TrainingRequest:
    return TrainingRequest(labels="judgments", judgments=judged, window=50,
                           params=TrainParams(max_rounds=60, min_data_in_leaf=5))


def test_a_candidate_must_beat_what_is_served_on_held_out_queries(
        shop: Settings, judged_queries: dict[str, dict[str, float]]) -> None:
    held_out = [q for q in judged_queries if is_holdout_query(q)]
    assert len(held_out) >= 10  # enough for the gate to decide

    # Started by the beat schedule, as the workers' retrain task does.
    first = retrain(shop, request(judged_queries), by="beat", min_gain=-1.0)  # any candidate beats "hybrid - 1"
    assert first.promoted and first.served_by == "hybrid" and "parity" not in first.reason
    assert first.holdout_queries == len(held_out) and first.trained_queries <= len(judged_queries) - len(held_out)
    with session_scope(shop.effective_database_url) as session:
        assert registry.active_model(session).name == first.model
        # No person clicked the promotion: the audit log names the job and who started it.
        [entry] = audit.recent(session)
        assert (entry.actor, entry.action, entry.target) == ("retrain:beat", "model.promote", first.model)
        assert entry.detail == {"previous": None, "quality_gate": first.reason}

    second = retrain(shop, request(judged_queries), min_gain=1.0)  # nothing gains a full nDCG point
    assert not second.promoted and second.served_by == first.model  # compared with the active model
    assert f"does not beat {first.model}" in second.reason and "held-out queries" in second.reason
    with session_scope(shop.effective_database_url) as session:
        assert registry.active_model(session).name == first.model  # what was served stays served
        rejected = registry.get_model(session, second.model)
        assert rejected.status == "rejected" and "does not beat" in rejected.notes
        assert [e.target for e in audit.recent(session, action_prefix="model.")] == [first.model]  # none new


def test_the_gate_grades_by_the_shops_stored_judgments_when_it_has_them(
        shop: Settings, judged_queries: dict[str, dict[str, float]]) -> None:
    """Labels can mislead (click-model labels on a sparse log): the stored train-split judgments decide."""
    from evaluation import judgment_store
    from evaluation.judgments import split_of
    from storefront.factory import build_search_service

    held_out_train = [q for q in judged_queries if is_holdout_query(q) and split_of(q) == "train"]
    assert len(held_out_train) >= 10
    by_labels = retrain(shop, request(judged_queries), min_gain=1.0)  # scored, never promoted
    assert "graded by the training labels (judgments)" in by_labels.reason and by_labels.served_by == "hybrid"
    assert by_labels.served_ndcg < 1.0

    # The shop's stored judgments call the hybrid's first candidate the one relevant product of each held-out
    # query: graded by them, the hybrid is perfect, and no candidate can beat it.
    service = build_search_service(shop, record=False)
    stored = {query: {service.candidates(query)[0].product_id: 3.0} for query in held_out_train}
    with session_scope(shop.effective_database_url) as session:
        judgment_store.import_judgments(session, stored, "test", "test")
    by_judgments = retrain(shop, request(judged_queries), min_gain=0.001)
    assert "graded by the shop's judgments (train split)" in by_judgments.reason
    assert by_judgments.holdout_queries == len(held_out_train)
    assert by_judgments.served_ndcg == 1.0 and by_judgments.candidate_ndcg <= 1.0
    assert not by_judgments.promoted and "does not beat hybrid" in by_judgments.reason
    with session_scope(shop.effective_database_url) as session:
        assert registry.active_model(session) is None  # nothing was ever good enough to serve


def test_judgment_labels_without_a_file_learn_from_the_stored_train_split(
        shop: Settings, judged_queries: dict[str, dict[str, float]]) -> None:
    """The nightly task and the console pass no file: ``labels=judgments`` reads the shop's stored judgments,
    the train split only, and says what to do when there are none."""
    from evaluation import judgment_store
    from evaluation.judgments import split_of
    from ltr.ranker.train import TrainingError
    from ltr.retrain import stored_train_judgments

    stored_request = TrainingRequest(labels="judgments", window=50,
                                     params=TrainParams(max_rounds=60, min_data_in_leaf=5))
    with pytest.raises(TrainingError, match="no judgments of the train split are stored"):
        retrain(shop, stored_request, min_gain=-1.0)
    unseen = [q for q in (f"cordless drill {i}" for i in range(200)) if split_of(q) == "test"][:3]
    product = next(iter(next(iter(judged_queries.values()))))
    with session_scope(shop.effective_database_url) as session:
        judgment_store.import_judgments(session, {**judged_queries, **{q: {product: 3.0} for q in unseen}},
                                        "test", "test")
    assert len(unseen) == 3 and set(stored_train_judgments(shop.effective_database_url)) == set(judged_queries)
    # With a limit of one segment, the retrain that promoted merges whatever the writes of its query history
    # left (Lucene may have merged them itself by then: then there is nothing to do).
    report = retrain(shop.model_copy(update={"index_compact_segments": 1}), stored_request, min_gain=-1.0)
    assert report.promoted, report.reason
    assert report.compaction is not None and report.compaction.error is None
    assert report.compaction.after == 1 if report.compaction.before > 1 else not report.compaction.merged
    assert report.compaction.index.startswith(f"{shop.default_index}-v")  # named by the index, not the alias
    held_out = [q for q in judged_queries if is_holdout_query(q)]
    assert report.holdout_queries == len(held_out)
    assert report.trained_queries <= len(judged_queries) - len(held_out)
