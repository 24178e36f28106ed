"""Per-search training groups, point-in-time profiles, debiasing inputs, personal reranking, explanations."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ltr.events.clicklog import LoggedSearch
from ltr.features.records import ActionRecord, BehaviourLog
from tests.unit.fake_engine import FakeEngineLogger
from ltr.ranker.extract import FeatureExtractor
from ltr.ranker.featureset import PERSONAL_FEATURES, SHOP_FEATURES
from ltr.ranker.reranker import LtrReranker
from ltr.ranker.search_dataset import build_search_dataset, ipw_weights, profiles_before
from ltr.ranker.train import TrainParams, train_lambdamart
from ltr.serving import BIAS_TERM
from indexer.traits import ProductTraits
from storefront.rerank_stage import Candidate, SearchContext

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def FakeTextLogger() -> FakeEngineLogger:  # noqa: N802 (reads like the class it stands in for)
    """Every text feature is 0; user features read the pool's traits."""
    return FakeEngineLogger(traits=TRAITS)


def pool_for(query: str) -> list[Candidate]:
    """Ten candidates; even ones are Acme lighting products, odd ones Zeta plumbing products."""
    return [Candidate(f"{query}-{i}", 1.0 - i / 10, {"bm25": 1.0 - i / 10, "vector": 0.5, "fused": 1.0 - i / 10},
                      {"title": f"{'Acme lamp' if i % 2 == 0 else 'Zeta faucet'} {i}"}) for i in range(10)]


TRAITS = {f"q{q}-{i}": ProductTraits("acme" if i % 2 == 0 else "zeta", "lighting" if i % 2 == 0 else "plumbing",
                                     "mid") for q in range(50) for i in range(10)}


def searches_by_tastes(n: int) -> tuple[list[LoggedSearch], BehaviourLog]:
    """Users 'a*' only ever act on Acme lighting, users 'z*' on Zeta plumbing, whatever the position."""
    searches, history = [], []
    for s in range(n):
        user = f"{'a' if s % 2 == 0 else 'z'}{s % 6}"
        query = f"q{s % 50}"
        at = T0 + timedelta(days=10, minutes=s)
        liked = [i for i in range(10) if (i % 2 == 0) == user.startswith("a")]
        grades = {f"{query}-{i}": 1 for i in liked} | {f"{query}-{liked[s % 5]}": 3}
        shown = tuple((f"{query}-{i}", i + 1) for i in range(10))
        searches.append(LoggedSearch(f"s{s}", query, user, f"sess-{s}", at, shown, grades))
    for u in range(6):  # history before the label window: the same tastes
        user = f"{'a' if u % 2 == 0 else 'z'}{u}"
        for k in range(5):
            pid = f"q{k}-{0 if user.startswith('a') else 1}"
            history.append(ActionRecord(T0 + timedelta(hours=u * 10 + k), "click", user, f"old-{u}", pid, None))
    return searches, BehaviourLog(actions=history)


def test_groups_are_searches_with_actions_labelled_by_the_strongest_action() -> None:
    searches, log = searches_by_tastes(8)
    idle = LoggedSearch("idle", "q1", "a0", None, T0 + timedelta(days=11), (("q1-0", 1), ("q1-1", 2)), {})
    unknown = LoggedSearch("gone", "q1", "a0", None, T0 + timedelta(days=11), (("x", 1), ("q1-2", 2)), {"x": 1})
    extractor = FeatureExtractor(SHOP_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    data = build_search_dataset([*searches, idle, unknown], pool_for, extractor, debias="position")
    assert len(data.groups) == 8 and data.groups.tolist() == [10] * 8  # idle and unmatched searches left out
    assert sorted(set(data.labels.tolist())) == [0, 1, 3] and data.labels[:10].tolist().count(3) == 1
    assert data.positions is not None and data.positions[:10].tolist() == list(range(10)) and data.weights is None
    assert build_search_dataset(searches, pool_for, extractor, debias="none").positions is None
    with pytest.raises(ValueError, match="examination"):
        build_search_dataset(searches, pool_for, extractor, debias="ipw")
    with pytest.raises(ValueError, match="unknown debiasing"):
        build_search_dataset(searches, pool_for, extractor, debias="magic")


def test_ipw_weights_only_lift_clicked_rows_and_are_capped() -> None:
    weights = ipw_weights(np.array([1, 0, 2, 1]), np.array([0, 1, 2, 30]), [1.0, 0.5, 0.25])
    assert weights.tolist() == [1.0, 1.0, 4.0, 4.0]  # beyond the fitted depth: the last position's propensity
    assert ipw_weights(np.array([1]), np.array([0]), [0.001]).tolist() == [20.0]


def test_profiles_are_point_in_time() -> None:
    start = T0 + timedelta(days=10)
    log = BehaviourLog(actions=[
        ActionRecord(T0, "click", "u", "old", "q0-0", None),  # lighting, before the window
        ActionRecord(start + timedelta(hours=1), "click", "u", "now", "q0-1", "s1"),  # plumbing, in the session
        ActionRecord(start + timedelta(hours=3), "click", "u", "now", "q0-3", "s2"),  # after the search below
    ])
    profile_of = profiles_before(log, start, TRAITS)
    search = LoggedSearch("s2", "q0", "u", "now", start + timedelta(hours=2), (), {})
    profile = profile_of(search)
    assert profile is not None
    assert dict(profile.department_affinity) == {"lighting": 1.0}  # nothing from inside the label window
    assert profile.recent_departments == ("plumbing",)  # the session's earlier click, not the later one
    assert profile_of(LoggedSearch("s3", "q0", None, None, start, (), {})) is None


def test_personal_model_learns_tastes_and_explanations_add_up_to_its_scores() -> None:
    searches, log = searches_by_tastes(600)
    start = T0 + timedelta(days=10)
    extractor = FeatureExtractor(PERSONAL_FEATURES, FakeTextLogger())  # type: ignore[arg-type]
    data = build_search_dataset(searches, pool_for, extractor, profile_of=profiles_before(log, start, TRAITS))
    user_column = PERSONAL_FEATURES.names.index("user_department_affinity")
    assert not np.isnan(data.features[:, user_column]).any()
    keep = [i % 5 != 0 for i in range(len(data.groups))]
    booster = train_lambdamart(data.select(keep), data.select([not k for k in keep]), PERSONAL_FEATURES.names,
                               TrainParams(max_rounds=60, min_data_in_leaf=5))

    history_profiles = profiles_before(log, start + timedelta(days=30), TRAITS)

    def profiles(context: SearchContext):  # type: ignore[no-untyped-def]
        return history_profiles(LoggedSearch("-", "-", context.user_id, None, start, (), {}))

    reranker = LtrReranker(booster, extractor, name="personal", profiles=profiles)
    for user, department in (("a0", "lighting"), ("z1", "plumbing")):
        ranked = reranker.rerank("q7", pool_for("q7"), SearchContext(user, None))
        top = [TRAITS[c.product_id].department for c in ranked[:5]]
        assert top == [department] * 5, (user, top)
        explanations = reranker.explain("q7", ranked[:3], SearchContext(user, None))
        for candidate, explanation in zip(ranked, explanations):
            total = explanation["bias"] + explanation["other_features"] + sum(
                t["contribution"] for t in explanation["contributions"])
            assert math.isclose(total, candidate.score, abs_tol=1e-6)
            assert explanation["contributions"][0]["feature"].startswith("user_")
            assert BIAS_TERM not in {t["feature"] for t in explanation["contributions"]}
    anonymous = reranker.rerank("q7", pool_for("q7"), SearchContext(None, None))
    assert all(c.features["user_department_affinity"] == 0.0 for c in anonymous)  # absent is 0.0
    assert reranker.explain("q7", pool_for("q7")[:2], SearchContext(None, None)) == [{}, {}]  # not scored by it
