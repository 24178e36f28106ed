"""The featureset: one ordered definition of every ranking feature, shared by training and serving.

Features come from four sources, and the source says where a value is computed:

- ``text``: a query template scored by OpenSearch on each candidate (BM25 per field, phrase match).
  The same template is a feature of the LTR plugin's featureset, so training (logged through an
  ``_msearch``, or ``ltr_log`` where the plugin is installed) and serving compute it alike.
- ``stage``: first-stage signals of the hybrid retrieval (each retriever's score and rank, whether
  BM25 found the product, the fused score and rank).
- ``product``: behaviour of the product before the search (smoothed CTR, conversion, popularity).
- ``user``: user x product features (affinity of this shopper for the product's brand and
  department, price-band match, current-session department match). In the plugin they travel as
  ``sltr`` params (the shopper's affinity maps) read by script features.

The featureset hash covers names, order and definitions, so a model can only ever be served with
the exact featureset it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Source = Literal["text", "stage", "product", "user"]


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    source: Source
    template: dict | None = None  # text features: the query, with {{keywords}} for the query text
    doc: str = ""


def _match(field_name: str) -> dict:
    return {"match": {field_name: "{{keywords}}"}}


TEXT_FEATURES = (
    FeatureSpec("title_bm25", "text", _match("title"), "BM25 of the title (english analyzer)"),
    FeatureSpec("title_exact_bm25", "text", _match("title.exact"), "BM25 of the unstemmed title"),
    FeatureSpec("title_phrase", "text", {"match_phrase": {"title": {"query": "{{keywords}}", "slop": 2}}},
                "phrase match of the query in the title (slop 2)"),
    FeatureSpec("title_shingles_bm25", "text", _match("title.shingles"), "BM25 of word pairs/triples"),
    FeatureSpec("brand_bm25", "text", _match("brand"), "BM25 of the brand"),
    FeatureSpec("category_bm25", "text", _match("category.text"), "BM25 of the category path"),
    FeatureSpec("description_bm25", "text", _match("description"), "BM25 of the description"),
)
STAGE_FEATURES = (
    FeatureSpec("bm25_score", "stage", doc="first-stage multi_match score (NaN if BM25 did not find it)"),
    FeatureSpec("bm25_rank", "stage", doc="rank in the BM25 list (candidates + 1 if absent)"),
    FeatureSpec("vector_cosine", "stage", doc="cosine of query and product vectors"),
    FeatureSpec("vector_rank", "stage", doc="rank by cosine among the candidates"),
    FeatureSpec("in_bm25", "stage", doc="1 if BM25 found the product, else 0"),
    FeatureSpec("fused_score", "stage", doc="hybrid fused score"),
    FeatureSpec("fused_rank", "stage", doc="rank after fusion"),
    FeatureSpec("query_terms", "stage", doc="number of words in the query"),
)
PRODUCT_FEATURES = (
    FeatureSpec("product_ctr", "product", doc="smoothed CTR over the window before the search"),
    FeatureSpec("product_purchase_rate", "product", doc="smoothed purchases per impression"),
    FeatureSpec("product_popularity", "product", doc="decayed clicks/carts/purchases"),
)
USER_FEATURES = (
    FeatureSpec("user_brand_affinity", "user", doc="share of the shopper's decayed actions on this brand"),
    FeatureSpec("user_department_affinity", "user", doc="share on this product's department"),
    FeatureSpec("user_price_band_match", "user", doc="1 if this is the shopper's preferred price band"),
    FeatureSpec("session_department_match", "user", doc="1 if the session clicked this department already"),
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

    def plugin_body(self) -> dict:
        """The LTR plugin's featureset (text features; the others are script features fed by params)."""
        return {"featureset": {"name": self.name, "features": [
            {"name": f.name, "params": ["keywords"], "template_language": "mustache", "template": f.template}
            for f in self.of_source("text")]}}


QUERY_FEATURES = FeatureSet("shelfrank-v1-query", TEXT_FEATURES + STAGE_FEATURES)
SHOP_FEATURES = FeatureSet("shelfrank-v1", TEXT_FEATURES + STAGE_FEATURES + PRODUCT_FEATURES)
PERSONAL_FEATURES = FeatureSet("shelfrank-v1-personal", SHOP_FEATURES.features + USER_FEATURES)
FEATURESETS = {fs.name: fs for fs in (QUERY_FEATURES, SHOP_FEATURES, PERSONAL_FEATURES)}
