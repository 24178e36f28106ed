"""The stored search template ``shelfrank-search``: the shop's ranking for storefronts that call OpenSearch
directly, with no Shelfrank process in the request path.

One ``GET /<alias>/_search/template`` with ``{"id": "shelfrank-search", "params": {"keywords": ...,
"query_vector": [...]}}`` runs the first stage (the BM25 multi_match, plus a k-NN clause when the caller
passes the query vector; without one it is BM25 alone) and rescores the top window with ``sltr`` and the
active model. Only a model whose every feature the engine can compute from the query text, its vector and
the documents can run there (an ``-engine`` featureset such as the default ``shelfrank-v4-engine``, see
:func:`ltr.ranker.featureset.engine_only`): a model reading first-stage values or a shopper's maps needs
the storefront. Then the template serves the first stage alone and :func:`sync_template` says why.

The template is rewritten whenever the served model changes (promotion, rollback, ``shelfrank models
sync``), so it is versioned with the model: its ``stats`` group names the model it reranks with, and every
search made through it is counted under that name in ``_stats``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from indexer import schema
from ltr.ranker.featureset import DEFAULT_FEATURESET, FeatureSet, engine_only

TEMPLATE_ID = "shelfrank-search"
NO_MODEL = "none"


def template_id(alias: str, default_alias: str) -> str:
    """``shelfrank-search`` for the shop's default catalogue, ``shelfrank-search-<alias>`` for the others
    (stored scripts are cluster-wide; each catalogue has its own feature store and model)."""
    return TEMPLATE_ID if alias == default_alias else f"{TEMPLATE_ID}-{alias.lower()}"


@dataclass(frozen=True)
class TemplatePlan:
    """What the template serves: the model name (or None: the first stage alone) and why."""

    model: str | None
    store: str
    window: int
    knn_k: int
    knn_boost: float
    priors: tuple[float, ...] = ()
    reason: str = ""


def plan(model: str | None, featureset: FeatureSet | None, store: str, window: int, knn_k: int,
         knn_boost: float, priors: tuple[float, ...] = ()) -> TemplatePlan:
    """Pure: the template for the served ``model`` trained on ``featureset``."""
    if model is None or featureset is None:
        return TemplatePlan(None, store, window, knn_k, knn_boost, (), "no model is active")
    if not engine_only(featureset):
        return TemplatePlan(None, store, window, knn_k, knn_boost, (), (
            f"the active model {model} reads {featureset.name} features only the storefront knows (first-stage "
            f"values or a shopper's maps); train one with --featureset {DEFAULT_FEATURESET} (the default) to rerank here"))
    return TemplatePlan(model, store, window, knn_k, knn_boost, priors, f"reranks with {model}")


def source(p: TemplatePlan) -> str:
    """The mustache source. ``{{#query_vector.0}}`` renders its section only when a vector was passed (a
    mustache section over the list itself would repeat once per element); ``size`` defaults to 10, and
    ``from + size`` must stay within the window, the part the model ranks."""
    text_clause = json.dumps({"multi_match": {"query": "@KEYWORDS@", "fields": list(schema.BM25_FIELDS),
                                              "type": "best_fields", "tie_breaker": 0.3}})
    knn = ('{{#query_vector.0}}, {"knn": {"%s": {"vector": {{#toJson}}query_vector{{/toJson}}, "k": %d, '
           '"boost": %s}}}{{/query_vector.0}}') % (schema.VECTOR, p.knn_k, json.dumps(p.knn_boost))
    body = ('{"from": {{from}}{{^from}}0{{/from}}, "size": {{size}}{{^size}}10{{/size}}, '
            f'"_source": {{"excludes": ["{schema.VECTOR}"]}}, "track_total_hits": false, '
            f'"stats": ["{TEMPLATE_ID}:{p.model or NO_MODEL}"], '
            f'"query": {{"bool": {{"should": [{text_clause}{knn}], "minimum_should_match": 1}}}}')
    if p.model is not None:
        params = ('{"keywords": "{{keywords}}", "query_vector": {{#query_vector.0}}{{#toJson}}query_vector'
                  '{{/toJson}}{{/query_vector.0}}{{^query_vector}}[]{{/query_vector}}, "product_values": {}, '
                  f'"history_values": {{}}, "product_priors": {json.dumps(list(p.priors))}}}')
        body += (f', "rescore": {{"window_size": {p.window}, "query": {{"rescore_query": {{"sltr": {{'
                 f'"store": "{p.store}", "model": "{p.model}", "params": {params}}}}}, '
                 '"query_weight": 0.0, "rescore_query_weight": 1.0}}')
    return (body + "}").replace("@KEYWORDS@", "{{keywords}}")


def install(client: OpenSearch, name: str, p: TemplatePlan) -> None:
    client.transport.perform_request("PUT", f"/_scripts/{name}",
                                     body={"script": {"lang": "mustache", "source": source(p)}})


def served_model(client: OpenSearch, name: str) -> str | None:
    """The model the stored template reranks with (None: first stage only, or no template stored)."""
    try:
        stored = client.transport.perform_request("GET", f"/_scripts/{name}")
    except NotFoundError:
        return None
    text = (stored.get("script") or {}).get("source", "")
    marker = f'"{TEMPLATE_ID}:'
    if marker not in text:
        return None
    model = text.split(marker, 1)[1].split('"', 1)[0]
    return None if model == NO_MODEL else model


def render(client: OpenSearch, name: str, params: dict[str, Any]) -> dict:
    """What the template expands to for ``params`` (``_render/template``), for debugging and tests."""
    return client.transport.perform_request("POST", f"/_render/template/{name}", body={"params": params})
