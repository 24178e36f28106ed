"""Product <-> OpenSearch document conversion (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from indexer.catalog import Product, text_hash


def to_document(product: Product, vector: np.ndarray | Sequence[float]) -> dict:
    doc = product.model_dump(mode="json", exclude_none=True)
    doc["category"] = list(product.category)
    if product.category:
        doc["category_leaf"] = product.category[-1]
    if not product.attributes:
        doc.pop("attributes", None)
    doc["text_sha256"] = text_hash(product.embedding_text())
    doc["embedding"] = [float(x) for x in vector]
    return doc


def from_document(source: dict) -> Product:
    fields = {k: v for k, v in source.items() if k not in ("embedding", "text_sha256", "category_leaf")}
    return Product.model_validate(fields)
