"""Shared benchmark input: distinct Home Depot product titles, in file order."""

from __future__ import annotations

import itertools
from pathlib import Path

from indexer.catalog import Product
from indexer.sources import read_catalog

HOMEDEPOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "homedepot" / "train.csv"


def homedepot_products(limit: int | None = None) -> list[Product]:
    return list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), limit))
