"""Simulated shoppers as a shop's frontend would be: every search and event through the HTTP API.

The simulation itself (:mod:`ltr.simulation`) knows nothing of HTTP; this wires it to the API's
Python client, for ``shelfrank simulate``, the demo and the tests alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api import client as api_client
from indexer.sources import read_catalog
from ltr.simulation.runner import Page, ShopperSimulator, SimQuery
from indexer.traits import common_brands


def http_simulator(base_url: str, queries: dict[str, dict[str, float]], homedepot_catalog: Path | None,
                   api_key: str | None = None, **options: Any) -> ShopperSimulator:
    """A simulator whose shoppers use the search and events APIs at ``base_url`` (events sent with
    ``api_key``, the shop's key)."""
    brands = common_brands(p.title for p in read_catalog(homedepot_catalog, "homedepot")) if homedepot_catalog else []

    def search(query: str, user_id: str, session_id: str, ranker: str) -> Page:
        response = api_client.search(base_url, query, user_id=user_id, session_id=session_id, config=ranker, size=10)
        return Page(response["search_id"], [(r["id"], r["title"]) for r in response["results"]])

    def send(events: list[dict]) -> dict:
        return api_client.send_events(base_url, events, api_key=api_key)

    return ShopperSimulator([SimQuery(q, g) for q, g in queries.items()], brands, search, send, **options)
