"""Exploration slots on the real node: the service a shop configures shows deeper products on its recorded
first pages, and the database holds them at the positions shoppers saw them (what the click models read)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import migrate
from core.db.models import Impression
from core.db.session import session_scope
from core.settings import Settings
from storefront.factory import build_search_service
from storefront.request import parse_search_request

pytestmark = pytest.mark.integration
QUERIES = ["cordless drill", "paint brush", "led light bulb", "garden hose", "wood screws"]


def test_a_shop_with_exploration_on_records_deeper_products_where_it_showed_them_and_flags_them(
        settings: Settings, sample_index: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'explore.db'}"
    migrate.upgrade(url)
    shop = settings.model_copy(update={"database_url": url, "default_index": sample_index, "exploration_rate": 1.0,
                                       "exploration_slots": 2})
    service = build_search_service(shop)
    plain = build_search_service(shop, record=False)
    shown: dict[str, list[tuple[str, int, bool]]] = {}
    try:
        for query in QUERIES:
            top = plain.ranking(query, None, 10)
            result = service.search(parse_search_request({"query": query, "size": 10}))
            explored = [r for r in result.results if r.get("explored")]
            assert len(explored) == 2, result.results
            assert all(r["id"] not in top and r["position"] > 3 for r in explored)
            assert [r["id"] for r in result.results[:3]] == top[:3]
            shown[result.search_id] = [(r["id"], r["position"], bool(r.get("explored"))) for r in result.results]
    finally:
        service.close()
    with session_scope(url) as session:
        for search_id, page in shown.items():
            stored = session.execute(select(Impression.product_id, Impression.position, Impression.explored)
                                     .where(Impression.search_id == search_id).order_by(Impression.position)).all()
            assert [tuple(row) for row in stored] == page  # where each was shown, and which were exploration slots
