"""Exploration slots: which pages explore, what they show and where, and that only recorded first pages do."""

from __future__ import annotations

import pytest

from storefront.exploration import Exploration, explore_page
from storefront.request import parse_search_request
from storefront.retrieval import default_configs
from storefront.service import SearchService
from tests.unit.test_retrieval_requests import FixedVector

RANKED = [f"p{i}" for i in range(1, 61)]


def test_a_rate_of_zero_never_explores() -> None:
    for i in range(200):
        assert explore_page(RANKED, 10, Exploration(0.0), f"s{i}") == (RANKED[:10], set())


def test_an_exploring_page_keeps_its_top_and_order_and_shows_deeper_candidates_below() -> None:
    for i in range(200):
        page, explored = explore_page(RANKED, 10, Exploration(1.0, slots=3, depth=40), f"s{i}")
        assert len(page) == 10 and len(set(page)) == 10 and len(explored) == 3
        assert page[:3] == RANKED[:3] and min(explored) >= 3
        assert all(page[p] in RANKED[10:40] for p in explored)
        regular = [pid for p, pid in enumerate(page) if p not in explored]
        assert regular == RANKED[:7]  # the others move down in their order; the last three leave the page


def test_the_choice_is_a_function_of_the_search_id() -> None:
    exploration = Exploration(1.0)
    assert explore_page(RANKED, 10, exploration, "s1") == explore_page(RANKED, 10, exploration, "s1")
    assert len({tuple(explore_page(RANKED, 10, exploration, f"s{i}")[0]) for i in range(50)}) > 40


def test_the_rate_is_the_share_of_pages_that_explore() -> None:
    share = sum(bool(explore_page(RANKED, 10, Exploration(0.3), f"s{i}")[1]) for i in range(4000)) / 4000
    assert 0.27 < share < 0.33


def test_nothing_deeper_or_a_short_page_is_the_plain_top() -> None:
    assert explore_page(RANKED[:8], 10, Exploration(1.0), "s1") == (RANKED[:8], set())
    assert explore_page(RANKED, 3, Exploration(1.0, keep_top=3), "s1") == (RANKED[:3], set())
    page, explored = explore_page(RANKED[:12], 10, Exploration(1.0, slots=5), "s1")
    assert len(explored) == 2 and {page[p] for p in explored} == {"p11", "p12"}


@pytest.mark.parametrize("rate, slots", [(-0.1, 3), (1.5, 3), (0.2, 0)])
def test_bad_settings_are_refused(rate: float, slots: int) -> None:
    with pytest.raises(ValueError):
        Exploration(rate, slots=slots)


class ManyHitsClient:
    """Every sub-search finds the same 40 products, best first."""

    def msearch(self, body: list[dict]) -> dict:
        hits = [{"_score": 40.0 - i, "fields": {"id": [f"p{i}"], "title.display": [f"Product {i}"],
                                                "vector_similarity": [1.0 - i / 40]}} for i in range(40)]
        return {"responses": [{"hits": {"total": {"value": 40}, "hits": hits}} for _ in body[1::2]]}


def test_the_service_explores_recorded_first_pages_only_and_records_where_it_showed_them() -> None:
    recorded: list[tuple[list[tuple[str, int]], set[int]]] = []
    service = SearchService(ManyHitsClient(), "products", FixedVector(), default_configs(), "hybrid-minmax",  # type: ignore[arg-type]
                            recorder=lambda *args, explored: recorded.append((args[4], set(explored))),
                            exploration=Exploration(1.0))
    plain = [f"p{i}" for i in range(10)]
    result = service.search(parse_search_request({"query": "drill"}))
    explored = [r for r in result.results if r.get("explored")]
    assert len(explored) == 3 and all(r["id"] not in plain and r["position"] > 3 for r in explored)
    assert recorded == [([(r["id"], r["position"]) for r in result.results], {r["position"] for r in explored})]
    assert [r["id"] for r in service.search(parse_search_request({"query": "drill"}), record=False).results] == plain
    assert [r["id"] for r in service.search(parse_search_request({"query": "drill", "debug": True})).results] == plain
    second = service.search(parse_search_request({"query": "drill", "page": 2}))
    assert [r["id"] for r in second.results] == [f"p{i}" for i in range(10, 20)]
    assert service.ranking("drill", None, 10) == plain
    unrecorded = SearchService(ManyHitsClient(), "products", FixedVector(), default_configs(), "hybrid-minmax",  # type: ignore[arg-type]
                               exploration=Exploration(1.0))
    assert [r["id"] for r in unrecorded.search(parse_search_request({"query": "drill"})).results] == plain
