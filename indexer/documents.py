"""Product <-> OpenSearch document conversion (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer import schema
from indexer.catalog import Product, text_hash
from indexer.title_codes import title_codes
from indexer.title_terms import tokens
from indexer.traits import traits_of


def to_document(product: Product, vector: np.ndarray | Sequence[float]) -> dict:
    doc = product.model_dump(mode="json", exclude_none=True)
    doc["category"] = list(product.category)
    if product.category:
        doc["category_leaf"] = product.category[-1]
    if not product.attributes:
        doc.pop("attributes", None)
    doc["text_sha256"] = text_hash(product.embedding_text())
    traits = traits_of(product.id, product.title, product.brand, product.category)
    doc[schema.TRAIT_BRAND], doc[schema.TRAIT_DEPARTMENT] = traits.brand, traits.department
    doc[schema.TRAIT_PRICE_BAND] = traits.price_band
    words = tokens(product.title)
    doc[schema.TITLE_TERMS], doc[schema.TITLE_LENGTH] = sorted(set(words)), len(words)
    doc[schema.TITLE_CODES] = title_codes(words)
    doc[schema.VECTOR] = [float(x) for x in vector]
    return doc


def from_document(source: dict) -> Product:
    derived = {schema.VECTOR, "text_sha256", schema.TITLE_TERMS, schema.TITLE_LENGTH, schema.TITLE_CODES,
               schema.CATEGORY_LEAF, schema.TRAIT_BRAND, schema.TRAIT_DEPARTMENT,
               schema.TRAIT_PRICE_BAND, *schema.DERIVED_FIELDS}
    fields = {k: v for k, v in source.items() if k not in derived}
    return Product.model_validate(fields)
