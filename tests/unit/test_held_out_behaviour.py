"""Training's product behaviour leaves each query's own searches out: the values equal a snapshot of the log
without them (pure; a random log of three queries, attributed and unattributed actions)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ltr.features.records import ActionRecord, BehaviourLog, SearchRecord, ShownRecord
from ltr.ranker.extract import behaviour_snapshot
from ltr.ranker.held_out_behaviour import HeldOutBehaviour

AT = datetime(2026, 3, 1, tzinfo=timezone.utc)
NAMES = ("product_ctr", "product_purchase_rate", "product_popularity")


def _log(seed: int = 0) -> tuple[BehaviourLog, dict[str, str]]:
    rng = random.Random(seed)
    searches, shown, actions, query_of = [], [], [], {}
    for i in range(300):
        sid, query = f"s{i}", rng.choice(["drill", "deck screws", "paint"])
        ts = AT - timedelta(days=rng.uniform(0, 40))  # some outside the 30-day window
        query_of[sid] = query
        searches.append(SearchRecord(ts, sid, "u", "x"))
        # "only-paint" is shown for paint alone: without paint it is a product nobody saw
        pool = ["a", "b", "c", "d"] + (["only-paint"] if query == "paint" else [])
        for position, product in enumerate(rng.sample(pool, 3)):
            shown.append(ShownRecord(ts, sid, "u", product, position))
            for kind, p in (("click", 0.3), ("add_to_cart", 0.1), ("purchase", 0.1)):
                if rng.random() < p:
                    actions.append(ActionRecord(ts + timedelta(minutes=1), kind, "u", "x", product, sid))
    for _ in range(20):  # from a product page: no search, counted in popularity only
        actions.append(ActionRecord(AT - timedelta(days=rng.uniform(0, 20)), "purchase", "u", "x", "e", None))
    return BehaviourLog(searches, shown, actions), query_of


def _without(log: BehaviourLog, query_of: dict[str, str], query: str) -> BehaviourLog:
    own = {sid for sid, q in query_of.items() if q == query}
    return BehaviourLog([s for s in log.searches if s.search_id not in own],
                        [r for r in log.shown if r.search_id not in own],
                        [a for a in log.actions if a.search_id not in own])


@pytest.mark.parametrize("query", ["drill", "deck screws", "paint", "never searched"])
def test_each_query_reads_the_log_without_its_own_searches(query: str) -> None:
    log, query_of = _log()
    held_out = HeldOutBehaviour(log, query_of, AT)(query)
    expected = behaviour_snapshot(_without(log, query_of, query), AT)
    assert dict(held_out.defaults) == pytest.approx(dict(expected.defaults))
    for product in ["a", "b", "c", "d", "e", "only-paint", "unknown"]:
        for name in NAMES:
            assert held_out.get(product, name) == pytest.approx(expected.get(product, name), abs=1e-12), (product, name)


def test_a_product_only_this_query_showed_reads_as_never_seen() -> None:
    log, query_of = _log()
    behaviour = HeldOutBehaviour(log, query_of, AT)
    paint, drill = behaviour("  Paint "), behaviour("drill")  # queries are normalised
    assert paint.get("only-paint", "product_popularity") == 0.0
    assert paint.get("only-paint", "product_ctr") == paint.defaults["product_ctr"]
    assert drill.get("only-paint", "product_ctr") != drill.defaults["product_ctr"]  # other queries' view keeps it
    whole = behaviour_snapshot(log, AT)
    assert behaviour("never searched").get("a", "product_ctr") == pytest.approx(whole.get("a", "product_ctr"))
    assert paint.get("a", "product_ctr") != pytest.approx(whole.get("a", "product_ctr"))


def test_the_dataset_reads_each_querys_own_held_out_behaviour() -> None:
    from ltr.ranker.dataset import build_dataset
    from ltr.ranker.featureset import SHOP_FEATURES
    from storefront.rerank_stage import Candidate

    log, query_of = _log()
    behaviour = HeldOutBehaviour(log, query_of, AT)
    seen: dict[str, float] = {}

    class Extractor:  # records the behaviour each query's matrix was built with
        featureset = SHOP_FEATURES

        def matrix(self, query, candidates, snapshot):  # type: ignore[no-untyped-def]
            seen[query] = snapshot.get("a", "product_ctr")
            return np.zeros((len(candidates), len(SHOP_FEATURES.names)), np.float32)

    pool = [Candidate(p, 1.0, {}) for p in "abcd"]
    labels = {q: {"a": 1, "b": 0} for q in ("drill", "paint")}
    build_dataset(sorted(labels), lambda _q: pool, Extractor(), labels, behaviour=behaviour)  # type: ignore[arg-type]
    assert seen == {q: pytest.approx(behaviour(q).get("a", "product_ctr")) for q in ("drill", "paint")}
    assert seen["drill"] != pytest.approx(seen["paint"])
