"""Query normalisation shared by the storefront (when it records a search), event ingestion and
judgments, so that one query typed differently aggregates into one row for click models,
features and evaluation. Changing it moves queries across the fixed train/test split."""

from __future__ import annotations


def normalize_query(query: str) -> str:
    """Lower case, single spaces, trimmed: ``"  Deck  SCREWS "`` -> ``"deck screws"``."""
    return " ".join(query.lower().split())
