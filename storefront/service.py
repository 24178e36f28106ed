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
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, TransportError

from storefront import fusion
from storefront.rerank_stage import (Candidate, NoopReranker, Reranker, RerankerSource, SearchContext,
                                    current_reranker)
from storefront.request import SearchRequest
from storefront.retrieval import (
    RetrievalConfig,
    bm25_body,
    hit_id,
    knn_body,
    knn_score_to_cosine,
    query_vector_param,
)
from storefront.tuning import ServedTuning

if TYPE_CHECKING:  # the stage loads torch; a service without it never needs the import
    from storefront.cross_encoder_stage import CrossEncoderStage

log = logging.getLogger(__name__)


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


ImpressionRecorder = Callable[[str, SearchRequest, str, str | None, list[tuple[str, int]]], None]


class TuningSource(Protocol):
    def current(self) -> ServedTuning: ...


class SearchService:
    """``configs`` and ``default_config`` are the tuning served unless ``tuning`` (the live, versioned
    tuning of :mod:`storefront.tuning_store`) is given; then each search reads that one.
    ``last_stage`` (off by default) rescores the top of the reranked list with a cross-encoder."""

    def __init__(self, client: OpenSearch, index: str, encoder: QueryEncoder, configs: dict[str, RetrievalConfig],
                 default_config: str, reranker: Reranker | RerankerSource | None = None,
                 recorder: ImpressionRecorder | None = None, tuning: TuningSource | None = None,
                 last_stage: CrossEncoderStage | None = None) -> None:
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
        candidates, facets, total_hits = self._first_stage(request, config, timings)
        mark = time.perf_counter()
        context = SearchContext(request.user_id, request.session_id)
        window = tuning.rerank_window
        if window is not None and len(candidates) > window:
            candidates = self._rerank(reranker, request.query, candidates[:window], context) + candidates[window:]
        else:
            candidates = self._rerank(reranker, request.query, candidates, context)
        timings["rerank_ms"] = (time.perf_counter() - mark) * 1000
        if rerank and self.last_stage is not None:
            mark = time.perf_counter()
            candidates = self.last_stage.rerank(request.query, candidates)
            timings["cross_encoder_ms"] = (time.perf_counter() - mark) * 1000

        page = candidates[request.offset : request.offset + request.size]
        self._fill_missing_titles(page, timings)
        search_id = uuid.uuid4().hex
        results = [{"id": c.product_id, "title": c.fields.get("title"), "score": c.score,
                    "position": request.offset + i + 1} for i, c in enumerate(page)]
        if record and self.recorder is not None:
            mark = time.perf_counter()
            self._record(search_id, request, config.name, reranker.name, [(r["id"], r["position"]) for r in results])
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

    def _record(self, search_id: str, request: SearchRequest, config: str, model: str,
                shown: list[tuple[str, int]]) -> None:
        """Hand the page to the recorder; a failure to record is logged, never the shopper's problem."""
        try:
            self.recorder(search_id, request, config, model, shown)  # type: ignore[misc]
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

    def _first_stage(self, request: SearchRequest, config: RetrievalConfig, timings: dict[str, float]):
        lists, facets, sources, total_hits = self._retrieve(request, config, timings)
        mark = time.perf_counter()
        fused = self._fuse(lists, config)
        candidates = [Candidate(pid, score, {name: scores[pid] for name, scores in lists.items() if pid in scores},
                                sources.get(pid, {}))
                      for pid, score in fusion.ranked(fused)]
        for candidate in candidates:
            candidate.stages["fused"] = candidate.score
        timings["fusion_ms"] = (time.perf_counter() - mark) * 1000
        return candidates, facets, total_hits

    def candidate_lists(self, query: str, config: str = "hybrid-rrf") -> dict[str, dict[str, float]]:
        """The per-retriever candidate scores before fusion (for tuning fusion offline)."""
        lists, _facets, _sources, _total = self._retrieve(SearchRequest(query=query), self.configs[config], {})
        return lists

    def _retrieve(self, request: SearchRequest, config: RetrievalConfig, timings: dict[str, float]):
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
        total_hits = 0
        for (name, _body), part in zip(bodies, response["responses"]):
            if "error" in part:
                error = part["error"]
                reason = error.get("type") if isinstance(error, dict) else str(error)
                if reason == "index_not_found_exception":
                    raise SearchUnavailable(f"index {self.index!r} does not exist")
                raise SearchUnavailable(f"OpenSearch rejected the {name} query: {reason}")
            hits = [(hit_id(hit), hit) for hit in part["hits"]["hits"]]
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
        return lists, facets, sources, total_hits

    @staticmethod
    def _fuse(lists: dict[str, dict[str, float]], config: RetrievalConfig) -> dict[str, float]:
        if config.fusion == "none":
            (scores,) = lists.values()
            return dict(scores)
        return fusion.fuse(lists, config.fusion, {"bm25": config.bm25_weight, "vector": config.vector_weight},
                           config.rrf_k)
