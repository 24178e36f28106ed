"""The storefront search path: query -> vector -> one OpenSearch round trip -> fusion -> rerank
(-> the optional cross-encoder stage) -> page.

I/O is kept at the edges (the OpenSearch call and the impression recorder); the steps in
between are the pure functions of :mod:`storefront.fusion` and :mod:`storefront.retrieval`.
"""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from storefront import fusion
from storefront.exploration import Exploration, explore_page
from storefront.rerank_stage import (Candidate, FirstStageRescore, NoopReranker, Reranker, RerankerSource,
                                    RescoresInFirstStage, SearchContext, current_reranker)
from storefront.request import SearchRequest
from storefront.retrieval import (
    RetrievalConfig,
    bm25_body,
    hit_id,
    knn_body,
    knn_score_to_cosine,
    query_vector_param,
    rescored_body,
)
from storefront.tuning import ServedTuning

if TYPE_CHECKING:  # the stage loads torch; a service without it never needs the import
    from storefront.cross_encoder_stage import CrossEncoderStage

log = logging.getLogger(__name__)
RESCORED = "rescored:"  # the name prefix of a first-stage rescore's sub-requests


class SearchUnavailable(RuntimeError):
    """OpenSearch cannot answer (down, timing out, or the index is missing)."""


class QueryEncoder(Protocol):
    def vector(self, query: str): ...  # returns a 1-D numpy array


@dataclass
class SearchResult:
    search_id: str
    query: str
    config: str
    total_candidates: int
    results: list[dict]
    facets: dict[str, list[dict]]
    page: int
    size: int
    debug: dict | None = None

    def as_dict(self) -> dict:
        body = {"search_id": self.search_id, "query": self.query, "config": self.config, "page": self.page,
                "size": self.size, "total_candidates": self.total_candidates, "results": self.results,
                "facets": self.facets}
        if self.debug is not None:
            body["debug"] = self.debug
        return body


class ImpressionRecorder(Protocol):
    """Stores a served page: the search, and each product shown at its 1-based position (``explored``: the
    positions that were exploration slots)."""

    def __call__(self, search_id: str, request: SearchRequest, config: str, model_version: str | None,
                 shown: list[tuple[str, int]], *, explored: Collection[int] = ()) -> None: ...


class TuningSource(Protocol):
    def current(self) -> ServedTuning: ...


class SearchService:
    """``configs`` and ``default_config`` are the tuning served unless ``tuning`` (the live, versioned
    tuning of :mod:`storefront.tuning_store`) is given; then each search reads that one.
    ``last_stage`` (off by default) rescores the top of the reranked list with a cross-encoder;
    ``exploration`` (off by default) shows a few deeper candidates on some recorded first pages."""

    def __init__(self, client: OpenSearch, index: str, encoder: QueryEncoder, configs: dict[str, RetrievalConfig],
                 default_config: str, reranker: Reranker | RerankerSource | None = None,
                 recorder: ImpressionRecorder | None = None, tuning: TuningSource | None = None,
                 last_stage: CrossEncoderStage | None = None, exploration: Exploration | None = None) -> None:
        if default_config not in configs:
            raise ValueError(f"unknown default retrieval config {default_config!r}")
        self.client = client
        self.index = index
        self.encoder = encoder
        self._static_tuning = ServedTuning(configs, default_config)
        self.tuning_source = tuning
        self.reranker: Reranker | RerankerSource = reranker or NoopReranker()
        self.recorder = recorder
        self.last_stage = last_stage
        self.exploration = exploration

    def current_tuning(self) -> ServedTuning:
        return self.tuning_source.current() if self.tuning_source is not None else self._static_tuning

    @property
    def configs(self) -> dict[str, RetrievalConfig]:
        return self.current_tuning().configs  # type: ignore[return-value]

    @property
    def default_config(self) -> str:
        return self.current_tuning().default_config

    def search(self, request: SearchRequest, record: bool = True, tuning: ServedTuning | None = None,
               rerank: bool = True) -> SearchResult:
        """``tuning`` overrides the served one for this search (previews of a tuning not yet live);
        ``rerank`` False serves the fused list as it is (the console's side-by-side comparison)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        # Resolved once, like the reranker: a change going live mid-search cannot mix two tunings.
        tuning = tuning or self.current_tuning()
        config = tuning.configs[request.config or tuning.default_config]
        # Resolved once: a promotion during this search cannot rank with one model and record another.
        reranker = current_reranker(self.reranker) if rerank else NoopReranker()
        context = SearchContext(request.user_id, request.session_id)
        plan = self._rescore_plan(reranker, request.query, context)
        candidates, facets, total_hits, rescored = self._first_stage(request, config, timings, plan)
        mark = time.perf_counter()
        window = tuning.rerank_window
        head, rest = (candidates[:window], candidates[window:]) if window is not None else (candidates, [])
        if rescored is not None:  # the engine scored them inside the first stage's request
            candidates = self._rank_rescored(reranker, request.query, head, rescored, context) + rest
        else:
            candidates = self._rerank(reranker, request.query, head, context) + rest
        timings["rerank_ms"] = (time.perf_counter() - mark) * 1000
        if rerank and self.last_stage is not None:
            mark = time.perf_counter()
            candidates = self.last_stage.rerank(request.query, candidates)
            timings["cross_encoder_ms"] = (time.perf_counter() - mark) * 1000

        search_id = uuid.uuid4().hex
        explored: set[int] = set()
        # Only pages whose impressions are stored explore: the labels are the point, and nobody else should pay.
        if (self.exploration is not None and record and self.recorder is not None and request.offset == 0
                and not request.debug):
            page, explored = explore_page(candidates, request.size, self.exploration, search_id)
        else:
            page = candidates[request.offset : request.offset + request.size]
        self._fill_missing_titles(page, timings)
        results = [{"id": c.product_id, "title": c.fields.get("title"), "score": c.score,
                    "position": request.offset + i + 1} for i, c in enumerate(page)]
        for position in explored:  # the frontend may want to know; the impressions record where it was shown
            results[position]["explored"] = True
        if record and self.recorder is not None:
            mark = time.perf_counter()
            self._record(search_id, request, config.name, reranker.name, [(r["id"], r["position"]) for r in results],
                         {results[i]["position"] for i in explored})
            timings["record_ms"] = (time.perf_counter() - mark) * 1000
        timings["total_ms"] = (time.perf_counter() - started) * 1000

        debug = None
        if request.debug:
            mark = time.perf_counter()
            explanations = reranker.explain(request.query, page, context) if page else []
            for result, candidate, explanation in zip(results, page, explanations):
                result["stages"] = candidate.stages
                if candidate.features is not None:
                    result["features"] = {k: None if math.isnan(v) else v for k, v in candidate.features.items()}
                if explanation:
                    result["explanation"] = explanation
            timings["explain_ms"] = (time.perf_counter() - mark) * 1000
            debug = {"latency_ms": {k: round(v, 2) for k, v in timings.items()}, "reranker": reranker.name,
                     "last_stage": None if not rerank or self.last_stage is None else self.last_stage.name,
                     "bm25_total_hits": total_hits, "tuning_version": tuning.version}
        return SearchResult(search_id, request.query, config.name, len(candidates), results, facets,
                            request.page, request.size, debug)

    @staticmethod
    def _rerank(reranker: Reranker, query: str, candidates: list[Candidate], context: SearchContext) -> list[Candidate]:
        """The reranked list; if the stage fails unexpectedly, the fused list (logged): the shopper still
        gets results. (OpenSearch errors are already handled inside the LTR stage the same way.)"""
        try:
            return reranker.rerank(query, candidates, context)
        except Exception:  # noqa: BLE001 - a failing rerank stage must not fail the search
            log.exception("rerank stage %s failed; serving the fused ranking", reranker.name)
            return candidates

    @staticmethod
    def _rescore_plan(reranker: Reranker, query: str, context: SearchContext) -> FirstStageRescore | None:
        if not isinstance(reranker, RescoresInFirstStage):
            return None
        try:
            return reranker.first_stage_rescore(query, context)
        except Exception:  # noqa: BLE001 - then it reranks afterwards, the usual way
            log.exception("rerank stage %s could not plan a first-stage rescore", reranker.name)
            return None

    @classmethod
    def _rank_rescored(cls, reranker: Reranker, query: str, candidates: list[Candidate],
                       scores: dict[str, float], context: SearchContext) -> list[Candidate]:
        try:
            return reranker.rank_rescored(query, candidates, scores, context)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a failing rerank stage must not fail the search
            log.exception("rerank stage %s failed; serving the fused ranking", reranker.name)
            return candidates

    def _record(self, search_id: str, request: SearchRequest, config: str, model: str,
                shown: list[tuple[str, int]], explored: set[int]) -> None:
        """Hand the page to the recorder; a failure to record is logged, never the shopper's problem."""
        try:
            self.recorder(search_id, request, config, model, shown, explored=explored)  # type: ignore[misc]
        except Exception:  # noqa: BLE001
            log.exception("search %s could not be recorded", search_id)

    def close(self) -> None:
        """Write what the recorder still buffers (a clean shutdown loses no impression)."""
        close = getattr(self.recorder, "close", None)
        if close is not None:
            close()

    def _fill_missing_titles(self, page: list[Candidate], timings: dict[str, float]) -> None:
        """Titles doc values could not give (an index built before ``title.display`` existed, or a
        title longer than its ``ignore_above``) come from the stored documents, for the page only."""
        missing = [c for c in page if "title" not in c.fields]
        if not missing:
            return
        mark = time.perf_counter()
        try:
            response = self.client.mget(index=self.index, body={"ids": [c.product_id for c in missing]},
                                        _source="title")
        except (OpenSearchConnectionError, ConnectionTimeout, TransportError) as exc:
            raise SearchUnavailable(f"OpenSearch is unavailable: {exc.__class__.__name__}") from exc
        titles = {d["_id"]: d["_source"].get("title") for d in response["docs"] if d.get("found")}
        for candidate in missing:
            candidate.fields["title"] = titles.get(candidate.product_id)
        timings["titles_ms"] = (time.perf_counter() - mark) * 1000

    def ranking(self, query: str, config: str | None, depth: int = 100, tuning: ServedTuning | None = None,
                rerank: bool = True) -> list[str]:
        """Product ids best first, without recording impressions (for evaluation); ``config`` None is
        the tuning's default."""
        request = SearchRequest(query=query, size=min(depth, 100), config=config)
        return [r["id"] for r in self.search(request, record=False, tuning=tuning, rerank=rerank).results]

    def candidates(self, query: str, config: str | None = None) -> list[Candidate]:
        """The fused candidates best first, before the rerank stage (training data, offline reranking)."""
        request = SearchRequest(query=query, config=config)
        return self._first_stage(request, self.configs[config or self.default_config], {})[0]

    def _first_stage(self, request: SearchRequest, config: RetrievalConfig, timings: dict[str, float],
                     plan: FirstStageRescore | None = None):
        """The fused candidates, the facets, BM25's total hits, and (with ``plan``) the rescore's scores
        of each retriever's top window, or None when there is no plan or the rescore failed."""
        lists, facets, sources, total_hits, ranks, rescored = self._retrieve(request, config, timings, plan)
        mark = time.perf_counter()
        fused = self._fuse(lists, config)
        candidates = [Candidate(pid, score, {name: scores[pid] for name, scores in lists.items() if pid in scores},
                                sources.get(pid, {}),
                                retriever_ranks={name: r[pid] for name, r in ranks.items() if pid in r})
                      for pid, score in fusion.ranked(fused)]
        for candidate in candidates:
            candidate.stages["fused"] = candidate.score
        timings["fusion_ms"] = (time.perf_counter() - mark) * 1000
        return candidates, facets, total_hits, rescored

    def candidate_lists(self, query: str, config: str = "hybrid-rrf") -> dict[str, dict[str, float]]:
        """The per-retriever candidate scores before fusion (for tuning fusion offline)."""
        return self._retrieve(SearchRequest(query=query), self.configs[config], {})[0]

    def _retrieve(self, request: SearchRequest, config: RetrievalConfig, timings: dict[str, float],
                  plan: FirstStageRescore | None = None):
        bodies: list[tuple[str, dict]] = []
        vector = None
        if config.vector:
            mark = time.perf_counter()
            vector = query_vector_param(self.encoder.vector(request.query))
            timings["encode_ms"] = (time.perf_counter() - mark) * 1000
        if config.bm25:
            bodies.append(("bm25", bm25_body(request.query, request.filters, config.candidates, vector=vector,
                                             fields=config.fields, synonyms=config.synonyms)))
        if vector is not None and config.knn_k > 0:
            bodies.append(("vector", knn_body(vector, request.filters, config.knn_k, config.ef_search)))
        if not config.bm25:  # facets still come from a (cheap) filtered BM25 aggregation
            facet_body = bm25_body(request.query, request.filters, 0, fields=config.fields,
                                   synonyms=config.synonyms)
            bodies.append(("facets", facet_body))
        if plan is not None:  # each retriever's top window again, scored by the rerank model
            bodies += [(RESCORED + name, rescored_body(body, plan.rescore_query, plan.window))
                       for name, body in list(bodies) if name in ("bm25", "vector")]
        payload: list[dict] = []
        for _name, body in bodies:
            payload.extend([{"index": self.index}, body])
        mark = time.perf_counter()
        try:
            response = self.client.msearch(body=payload)
        except (OpenSearchConnectionError, ConnectionTimeout) as exc:
            raise SearchUnavailable(f"OpenSearch is unavailable: {exc.__class__.__name__}") from exc
        except NotFoundError as exc:
            raise SearchUnavailable(f"index {self.index!r} does not exist") from exc
        except TransportError as exc:
            raise SearchUnavailable(f"OpenSearch error {exc.status_code}: {exc.error}") from exc
        timings["opensearch_ms"] = (time.perf_counter() - mark) * 1000

        lists: dict[str, dict[str, float]] = {}
        sources: dict[str, dict[str, Any]] = {}
        facets: dict[str, list[dict]] = {}
        ranks: dict[str, dict[str, int]] = {}
        rescored: dict[str, float] | None = {} if plan is not None else None
        total_hits = 0
        for (name, _body), part in zip(bodies, response["responses"]):
            if name.startswith(RESCORED):
                rescored = self._rescored_scores(name, part, rescored)
                continue
            if "error" in part:
                error = part["error"]
                reason = error.get("type") if isinstance(error, dict) else str(error)
                if reason == "index_not_found_exception":
                    raise SearchUnavailable(f"index {self.index!r} does not exist")
                raise SearchUnavailable(f"OpenSearch rejected the {name} query: {reason}")
            hits = [(hit_id(hit), hit) for hit in part["hits"]["hits"]]
            if name in ("bm25", "vector"):
                ranks[name] = {pid: rank for rank, (pid, _hit) in enumerate(hits, 1)}
            if name == "bm25":
                lists["bm25"] = {pid: hit["_score"] for pid, hit in hits}
                exact = {pid: hit["fields"]["vector_similarity"][0] for pid, hit in hits
                         if "vector_similarity" in hit["fields"]}
                if exact:
                    lists.setdefault("vector", {}).update(exact)
            elif name == "vector":
                knn = {pid: knn_score_to_cosine(hit["_score"]) for pid, hit in hits}
                lists["vector"] = {**knn, **lists.get("vector", {})}
            for pid, hit in hits:
                title = hit["fields"].get("title.display")
                if title:
                    sources[pid] = {"title": title[0]}
            if "aggregations" in part:
                total_hits = part["hits"]["total"]["value"]
                facets = {key: [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"] if b["doc_count"]]
                          for key, agg in part["aggregations"].items()}
        return lists, facets, sources, total_hits, ranks, rescored

    @staticmethod
    def _rescored_scores(name: str, part: dict, scores: dict[str, float] | None) -> dict[str, float] | None:
        """Add one rescored sub-request's scores; a failed one (a model the store lost, a script error)
        drops them all, logged, and the search reranks the usual way, which reports it properly."""
        if scores is None:
            return None
        if "error" in part:
            error = part["error"]
            log.warning("the first-stage rescore (%s) failed: %s; reranking afterwards instead", name,
                        error.get("reason") or error.get("type") if isinstance(error, dict) else error)
            return None
        scores.update((hit_id(hit), hit["_score"]) for hit in part["hits"]["hits"])
        return scores

    @staticmethod
    def _fuse(lists: dict[str, dict[str, float]], config: RetrievalConfig) -> dict[str, float]:
        if config.fusion == "none":
            (scores,) = lists.values()
            return dict(scores)
        return fusion.fuse(lists, config.fusion, {"bm25": config.bm25_weight, "vector": config.vector_weight},
                           config.rrf_k)
