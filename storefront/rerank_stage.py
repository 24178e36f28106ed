"""What the search path and its rerank stage share: candidates, the shopper's context, the protocol.

Kept apart from the service so that learning to rank (which implements the stage) depends on
these few types only, never on the search service itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class Candidate:
    product_id: str
    score: float
    stages: dict[str, float] = field(default_factory=dict)  # per-stage scores, for debug and explanations
    fields: dict[str, Any] = field(default_factory=dict)  # what the hit brought back (its display title)
    features: Mapping[str, float] | None = None  # what a rerank model read for it (debug and explanations)
    #: Its 1-based rank in each retriever's own hits ("bm25", "vector"), before fusion.
    retriever_ranks: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchContext:
    """Who is searching: passed to the reranker so personalised models can use it."""

    user_id: str | None
    session_id: str | None


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]: ...

    def explain(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[dict]:
        """Per-candidate explanations of the rerank score (debug mode), in the order given."""
        ...


def retriever_heads(candidates: list[Candidate], window: int) -> list[Candidate]:
    """The candidates among some retriever's top ``window`` hits, in the order given (the fused one)."""
    return [c for c in candidates if any(rank <= window for rank in c.retriever_ranks.values())]


@dataclass(frozen=True)
class FirstStageRescore:
    """A rerank done inside the first stage's own round trip: each retriever's top ``window`` hits
    rescored by ``rescore_query`` (the ``sltr`` of a model whose features need nothing that only the
    fused list knows), so a reranked search costs one request instead of two."""

    rescore_query: dict[str, Any]
    window: int


@runtime_checkable
class RescoresInFirstStage(Protocol):
    """A reranker that can score inside the first stage (see :class:`FirstStageRescore`)."""

    def first_stage_rescore(self, query: str, context: SearchContext) -> FirstStageRescore | None:
        """The rescore to attach to each retriever's request, or None to rerank afterwards as usual."""
        ...

    def rank_rescored(self, query: str, candidates: list[Candidate], scores: Mapping[str, float],
                      context: SearchContext) -> list[Candidate]:
        """The fused candidates reranked by the scores the first stage's rescore returned (product id ->
        score, for each retriever's top window)."""
        ...


class NoopReranker:
    """The stage after fusion, until a learning-to-rank model is active."""

    name = "none"

    def rerank(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        return candidates

    def explain(self, query: str, candidates: list[Candidate], context: SearchContext) -> list[dict]:
        return [{} for _ in candidates]


@runtime_checkable
class RerankerSource(Protocol):
    """A rerank stage that changes while the storefront runs (the registry's active model)."""

    def current(self) -> Reranker:
        """The reranker to use for one whole search."""
        ...


def current_reranker(stage: Reranker | RerankerSource) -> Reranker:
    """The reranker a search uses from start to finish: the source's current one, or the fixed stage."""
    return stage.current() if isinstance(stage, RerankerSource) else stage
