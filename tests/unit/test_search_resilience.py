"""The search path keeps answering when what comes after retrieval fails, and uses one reranker per search.

Retrieval is a recording stand-in (the real engine's behaviour is in the integration tests); what is
tested here is the service's own logic around its rerank stage and its recorder.
"""

from __future__ import annotations

import logging

import pytest

from storefront.rerank_stage import Candidate, SearchContext
from storefront.request import parse_search_request
from storefront.retrieval import default_configs
from storefront.service import SearchService
from tests.unit.test_retrieval_requests import FixedVector, RecordingClient


class NamedReranker:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail = name, fail

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        if self.fail:
            raise RuntimeError("model file vanished")
        return [Candidate(c.product_id, 42.0, {**c.stages, "ltr": 42.0}, c.fields) for c in candidates]

    def explain(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[dict]:
        return [{"model": self.name} for _ in candidates]


class PromotingSource:
    """A live rerank stage whose model changes every time it is asked (a promotion mid-search)."""

    def __init__(self) -> None:
        self.asked = 0

    def current(self) -> NamedReranker:
        self.asked += 1
        return NamedReranker(f"model-{self.asked}")


def service(reranker, recorder=None) -> SearchService:  # type: ignore[no-untyped-def]
    return SearchService(RecordingClient(), "products", FixedVector(), default_configs(), "hybrid-minmax",  # type: ignore[arg-type]
                         reranker=reranker, recorder=recorder)


def test_one_reranker_ranks_explains_and_is_recorded_per_search() -> None:
    source, recorded = PromotingSource(), []
    searcher = service(source, lambda *args, **_flags: recorded.append(args[3]))
    result = searcher.search(parse_search_request({"query": "drill", "debug": True}))
    assert source.asked == 1
    assert result.debug["reranker"] == "model-1" and recorded == ["model-1"]
    assert result.results[0]["explanation"] == {"model": "model-1"} and result.results[0]["score"] == 42.0
    searcher.search(parse_search_request({"query": "drill"}))
    assert recorded == ["model-1", "model-2"]


def test_a_failing_rerank_stage_serves_the_fused_list(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        result = service(NamedReranker("broken", fail=True)).search(parse_search_request({"query": "drill"}))
    assert [r["id"] for r in result.results] == ["p1"] and result.results[0]["score"] != 42.0
    assert "rerank stage broken failed" in caplog.text


def test_a_failing_recorder_does_not_fail_the_search(caplog: pytest.LogCaptureFixture) -> None:
    def locked(*_args, **_kwargs) -> None:  # type: ignore[no-untyped-def]
        raise OSError("database is locked")

    with caplog.at_level(logging.ERROR):
        result = service(NamedReranker("m"), locked).search(parse_search_request({"query": "drill"}))
    assert result.results and f"search {result.search_id} could not be recorded" in caplog.text
