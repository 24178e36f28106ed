"""The featureset: one ordered definition of every ranking feature, shared by training and serving.

Every feature is a feature of the LTR plugin's featureset, stored in the catalogue's feature store,
so the engine computes it at query time (``sltr``) exactly as training logs it (``ltr_log``):

- ``text``: a mustache query template scored on each candidate (BM25 per field, phrase match).
- ``stage``: first-stage signals of the hybrid retrieval (each retriever's score and rank, whether
  BM25 found the product, the fused score and rank, query length). Only the search that produced
  the candidates knows them, so they travel as the ``sltr`` param ``stage`` (product id -> values
  in the featureset's stage order) read by a script feature.
- ``product``: behaviour of the product (smoothed CTR, conversion, popularity), document fields
  written by ``shelfrank index behaviour`` and read by script features; the param
  ``product_values`` overrides them with a point-in-time snapshot (training), and
  ``product_priors`` stands in for products without history.
- ``user``: user x product features; the shopper's affinity maps travel as params and script
  features match them against the product's trait fields.
- ``match``: query-title matching that BM25 misses (sizes and units normalised, plurals, typos, the
  query's head noun, its numbers): painless script features over the query text and the title's doc
  values, :mod:`ltr.ranker.title_match` (which also holds the Python reference they are checked against).
- ``history``: the queries that wanted the product (judged or clicked relevant for them), document fields
  written by ``shelfrank index history``: how many, and how well the query matches their words
  (:mod:`ltr.ranker.query_history`). Training passes each row's values with its own query left out as
  the param ``history_values``, which the scripts take over the documents' fields.
- ``vector``: the cosine of the query vector (the param ``query_vector``) and the product's, computed
  by a script feature, so a featureset without ``stage`` features needs nothing the first stage
  alone knows: ``shelfrank-v1-engine`` can rerank inside a plain search (the stored search template,
  :mod:`ltr.search_template`), for storefronts that call OpenSearch directly.

One convention for absent values everywhere: **0.0**. The plugin gives a feature that does not
match a document 0.0 and never routes a ``missing`` branch, so training, the Python reranker and
the engine all use 0.0 (``in_bm25`` says whether a BM25 score of 0 means "not found"). And the
engine refuses negative scores, so signed values get a non-negative representation: the cosine
is sent as ``1 + cosine``, the fused score through ``v + sqrt(v^2 + 1)`` (strictly increasing, so a
tree loses nothing). The featureset hash covers names, order and definitions, so a model can only
ever be served with the exact featureset it was trained on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Literal

from indexer import schema
from ltr.ranker import title_match

Source = Literal["text", "match", "stage", "product", "user", "vector", "history"]

#: Params every stored featureset's features may read (all must be present in each ``sltr``).
PARAMS = ("keywords", "stage", "product_values", "product_priors", "user_brands", "user_departments",
          "user_price_band", "session_departments", "query_vector", "history_values")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    source: Source
    template: dict | None = None  # text: the query with {{keywords}}; others: the painless script source
    doc: str = ""


def _match(field_name: str) -> dict:
    return {"match": {field_name: "{{keywords}}"}}


def _number(expression: str) -> str:
    return f"((Number) {expression}).doubleValue()"


def _stage(name: str, k: int, doc: str) -> FeatureSpec:
    source = (f"def v = params.stage.get(doc['{schema.ID}'].value); "
              f"return v == null ? 0.0 : {_number(f'v[{k}]')};")
    return FeatureSpec(name, "stage", {"source": source}, doc)


def _product(name: str, k: int, doc: str) -> FeatureSpec:
    column = schema.BEHAVIOUR_FIELDS[name]
    source = (f"def o = params.product_values.get(doc['{schema.ID}'].value); "
              f"if (o != null) return {_number(f'o[{k}]')}; "
              f"if (doc.containsKey('{column}') && doc['{column}'].size() != 0) return doc['{column}'].value; "
              f"return {_number(f'params.product_priors[{k}]')};")
    return FeatureSpec(name, "product", {"source": source}, doc)


def _trait(column: str) -> str:
    return f"if (!doc.containsKey('{column}') || doc['{column}'].size() == 0) return 0.0; def t = doc['{column}'].value; "


def _user(name: str, body: str, column: str, doc: str) -> FeatureSpec:
    return FeatureSpec(name, "user", {"source": _trait(column) + body}, doc)


TEXT_FEATURES = (
    FeatureSpec("title_bm25", "text", _match(schema.TITLE), "BM25 of the title (english analyzer)"),
    FeatureSpec("title_exact_bm25", "text", _match(schema.TITLE_EXACT), "BM25 of the unstemmed title"),
    FeatureSpec("title_phrase", "text", {"match_phrase": {schema.TITLE: {"query": "{{keywords}}", "slop": 2}}},
                "phrase match of the query in the title (slop 2)"),
    FeatureSpec("title_shingles_bm25", "text", _match(schema.TITLE_SHINGLES), "BM25 of word pairs/triples"),
    FeatureSpec("brand_bm25", "text", _match(schema.BRAND), "BM25 of the brand"),
    FeatureSpec("category_bm25", "text", _match(schema.CATEGORY_TEXT), "BM25 of the category path"),
    FeatureSpec("description_bm25", "text", _match(schema.DESCRIPTION), "BM25 of the description"),
)
MATCH_FEATURES = (
    FeatureSpec("title_coverage", "match", {"source": title_match.PAINLESS["coverage"]},
                "share of the query's tokens in the title (sizes normalised, typo-tolerant)"),
    FeatureSpec("title_head_match", "match", {"source": title_match.PAINLESS["head_match"]},
                "1 if the query's head noun (its last word) is in the title"),
    FeatureSpec("title_numbers_missing", "match", {"source": title_match.PAINLESS["numbers_missing"]},
                "how many of the query's numbers (sizes, counts) the title lacks"),
    FeatureSpec("title_tokens", "match", {"source": title_match.PAINLESS["title_tokens"]},
                "the title's length in tokens"),
)
#: Version 3: the same four features with the same values, read from the title's codes (long doc values,
#: :mod:`indexer.title_codes`) instead of its keyword tokens, whose dictionary lookups cost most of the
#: rerank (docs/measurements.md). A v2 model keeps its featureset; a v3 one needs an index with codes.
MATCH_FEATURES_V3 = tuple(FeatureSpec(spec.name, "match", {"source": title_match.PAINLESS_CODED[key]}, spec.doc)
                          for spec, key in zip(MATCH_FEATURES, ("coverage", "head_match", "numbers_missing",
                                                                "title_tokens")))
STAGE_FEATURES = (
    _stage("bm25_score", 0, "first-stage multi_match score (0 if BM25 did not find it)"),
    _stage("bm25_rank", 1, "rank in the BM25 list (candidates + 1 if absent)"),
    _stage("vector_cosine", 2, "1 + cosine of query and product vectors (0 if the product has no vector)"),
    _stage("vector_rank", 3, "rank by cosine among the candidates"),
    _stage("in_bm25", 4, "1 if BM25 found the product, else 0"),
    _stage("fused_score", 5, "hybrid fused score v as v + sqrt(v^2 + 1) (increasing, positive)"),
    _stage("fused_rank", 6, "rank after fusion"),
    _stage("query_terms", 7, "number of words in the query"),
)
ENGINE_QUERY_FEATURES = (
    FeatureSpec("query_bm25", "text", {"multi_match": {"query": "{{keywords}}", "fields": list(schema.BM25_FIELDS),
                                                       "type": "best_fields", "tie_breaker": 0.3}},
                "the first stage's BM25 multi_match, recomputed by the engine (0 if it does not match)"),
    FeatureSpec("query_cosine", "vector", {"source": (
        f"if (params.query_vector.size() == 0 || !doc.containsKey('{schema.VECTOR}') "
        f"|| doc['{schema.VECTOR}'].size() == 0) return 0.0; "
        f"return 1.0 + cosineSimilarity(params.query_vector, doc['{schema.VECTOR}']);")},
                "1 + cosine of query and product vectors (0 without a query vector or a product vector)"),
)


def _history_override(k: int) -> str:
    return (f"def o = params.history_values.get(doc['{schema.ID}'].value); "
            f"if (o != null) {{ return {_number(f'o[{k}]')}; }}")


HISTORY_FEATURES = (
    FeatureSpec("history_queries", "history", {"source": (
        _history_override(0) + f" if (!doc.containsKey('{schema.HISTORY_QUERIES}') "
        f"|| doc['{schema.HISTORY_QUERIES}'].size() == 0) {{ return 0.0; }} return doc['{schema.HISTORY_QUERIES}'].value;")},
                "how many queries the product was judged or clicked relevant for"),
    FeatureSpec("history_coverage", "history",
                {"source": title_match.coded_painless(schema.HISTORY_CODES, _history_override(1))["coverage"]},
                "share of the query's tokens found among those queries' tokens (typo-tolerant)"),
    FeatureSpec("history_head_match", "history",
                {"source": title_match.coded_painless(schema.HISTORY_CODES, _history_override(2))["head_match"]},
                "1 if the query's head noun is among those queries' tokens"),
)
PRODUCT_FEATURES = (
    _product("product_ctr", 0, "smoothed CTR over the window before the search"),
    _product("product_purchase_rate", 1, "smoothed purchases per impression"),
    _product("product_popularity", 2, "decayed clicks/carts/purchases"),
)
USER_FEATURES = (
    _user("user_brand_affinity", f"def v = params.user_brands.get(t); return v == null ? 0.0 : {_number('v')};",
          schema.TRAIT_BRAND, "share of the shopper's decayed actions on this brand"),
    _user("user_department_affinity",
          f"def v = params.user_departments.get(t); return v == null ? 0.0 : {_number('v')};",
          schema.TRAIT_DEPARTMENT, "share on this product's department"),
    _user("user_price_band_match", "return t == params.user_price_band ? 1.0 : 0.0;", schema.TRAIT_PRICE_BAND,
          "1 if this is the shopper's preferred price band"),
    _user("session_department_match", "return params.session_departments.contains(t) ? 1.0 : 0.0;",
          schema.TRAIT_DEPARTMENT, "1 if the session clicked this department already"),
)


@dataclass(frozen=True)
class FeatureSet:
    name: str
    features: tuple[FeatureSpec, ...] = field(default_factory=tuple)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def of_source(self, source: Source) -> list[FeatureSpec]:
        return [f for f in self.features if f.source == source]

    @property
    def hash(self) -> str:
        text = json.dumps([asdict(f) for f in self.features], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def store_name(self) -> str:
        """Its name in a feature store: the hash is part of it, so a changed definition is a new featureset."""
        return f"{self.name}-{self.hash[:12]}"

    def restricted_to(self, names: set[str]) -> FeatureSet:
        """The same set with only ``names`` (in its order; its first feature if none is left, since the
        plugin wants at least one): what a model that never reads the others needs computed."""
        kept = tuple(f for f in self.features if f.name in names) or self.features[:1]
        return FeatureSet(self.name, kept)

    def plugin_body(self) -> dict:
        """The LTR plugin's featureset: every feature, in order (text as mustache, the rest as scripts)."""
        return {"featureset": {"name": self.store_name, "features": [plugin_feature(f) for f in self.features]}}


def plugin_feature(spec: FeatureSpec) -> dict:
    """One feature as the plugin stores it."""
    if spec.source == "text":
        return {"name": spec.name, "params": ["keywords"], "template_language": "mustache",
                "template": spec.template}
    params = {"match": ["keywords"], "stage": ["stage"], "product": ["product_values", "product_priors"],
              "vector": ["query_vector"], "history": ["keywords", "history_values"],
              "user": ["user_brands", "user_departments", "user_price_band", "session_departments"]}[spec.source]
    return {"name": spec.name, "params": params, "template_language": "script_feature",
            "template": {"lang": "painless", "source": (spec.template or {})["source"], "params": {}}}


QUERY_FEATURES = FeatureSet("shelfrank-v1-query", TEXT_FEATURES + STAGE_FEATURES)
SHOP_FEATURES = FeatureSet("shelfrank-v1", TEXT_FEATURES + STAGE_FEATURES + PRODUCT_FEATURES)
PERSONAL_FEATURES = FeatureSet("shelfrank-v1-personal", SHOP_FEATURES.features + USER_FEATURES)
#: Everything computed by the engine from the query text, its vector and the documents: servable by a
#: stored search template with no Shelfrank code in the request path.
ENGINE_FEATURES = FeatureSet("shelfrank-v1-engine", TEXT_FEATURES + ENGINE_QUERY_FEATURES + PRODUCT_FEATURES)
#: Version 2 adds the query-title matching features; version 1 stays servable for the models trained on it.
QUERY_FEATURES_V2 = FeatureSet("shelfrank-v2-query", TEXT_FEATURES + MATCH_FEATURES + STAGE_FEATURES)
SHOP_FEATURES_V2 = FeatureSet("shelfrank-v2", QUERY_FEATURES_V2.features + PRODUCT_FEATURES)
PERSONAL_FEATURES_V2 = FeatureSet("shelfrank-v2-personal", SHOP_FEATURES_V2.features + USER_FEATURES)
ENGINE_FEATURES_V2 = FeatureSet("shelfrank-v2-engine",
                                TEXT_FEATURES + MATCH_FEATURES + ENGINE_QUERY_FEATURES + PRODUCT_FEATURES)
QUERY_FEATURES_V3 = FeatureSet("shelfrank-v3-query", TEXT_FEATURES + MATCH_FEATURES_V3 + STAGE_FEATURES)
SHOP_FEATURES_V3 = FeatureSet("shelfrank-v3", QUERY_FEATURES_V3.features + PRODUCT_FEATURES)
PERSONAL_FEATURES_V3 = FeatureSet("shelfrank-v3-personal", SHOP_FEATURES_V3.features + USER_FEATURES)
ENGINE_FEATURES_V3 = FeatureSet("shelfrank-v3-engine",
                                TEXT_FEATURES + MATCH_FEATURES_V3 + ENGINE_QUERY_FEATURES + PRODUCT_FEATURES)
#: Version 4 adds the query history (the queries that wanted the product); it needs `shelfrank index history`.
QUERY_FEATURES_V4 = FeatureSet("shelfrank-v4-query", QUERY_FEATURES_V3.features + HISTORY_FEATURES)
SHOP_FEATURES_V4 = FeatureSet("shelfrank-v4", SHOP_FEATURES_V3.features + HISTORY_FEATURES)
PERSONAL_FEATURES_V4 = FeatureSet("shelfrank-v4-personal", PERSONAL_FEATURES_V3.features + HISTORY_FEATURES)
ENGINE_FEATURES_V4 = FeatureSet("shelfrank-v4-engine", ENGINE_FEATURES_V3.features + HISTORY_FEATURES)
FEATURESETS = {fs.name: fs for fs in (QUERY_FEATURES, SHOP_FEATURES, PERSONAL_FEATURES, ENGINE_FEATURES,
                                      QUERY_FEATURES_V2, SHOP_FEATURES_V2, PERSONAL_FEATURES_V2, ENGINE_FEATURES_V2,
                                      QUERY_FEATURES_V3, SHOP_FEATURES_V3, PERSONAL_FEATURES_V3, ENGINE_FEATURES_V3,
                                      QUERY_FEATURES_V4, SHOP_FEATURES_V4, PERSONAL_FEATURES_V4, ENGINE_FEATURES_V4)}
#: What a retrain trains on unless told otherwise: the query history's features on top of v3's (test nDCG@10
#: 0.5177 served against v3's 0.4296 on Home Depot, docs/measurements.md). Promotion writes its history.
#: The engine-only set, so the stored search template reranks with every default model: on Home Depot's
#: validation slice it ranks within noise of ``shelfrank-v4`` (-0.002 nDCG@10 over three seeds, the paired
#: interval including 0) at the same engine time (docs/measurements.md, 2026-12-07).
DEFAULT_FEATURESET = ENGINE_FEATURES_V4.name
#: Per-search labels (``--labels actions``) cannot leave a search's own clicks out of the history features.
DEFAULT_PER_SEARCH_FEATURESET = ENGINE_FEATURES_V3.name


def default_featureset(labels: str) -> str:
    """The featureset a training run on ``labels`` uses unless told otherwise."""
    return DEFAULT_PER_SEARCH_FEATURESET if labels == "actions" else DEFAULT_FEATURESET


def document_fields(featureset: FeatureSet) -> set[str]:
    """The index fields its script features read (``doc['...']``): an index without one of them would
    give that feature 0.0 on every product, silently."""
    return {name for spec in featureset.features if spec.source != "text"
            for name in re.findall(r"doc\['([^']+)'\]", (spec.template or {}).get("source", ""))}


def engine_only(featureset: FeatureSet) -> bool:
    """Whether a plain search can compute every feature: no first-stage values, no shopper maps."""
    return not featureset.of_source("stage") and not featureset.of_source("user")
