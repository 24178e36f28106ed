"""The sandbox: one query, BM25 / hybrid / learned ranking side by side, and why each result is where it is."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from admin import context
from storefront.request import InvalidRequest, SearchRequest, parse_search_request
from storefront.service import SearchUnavailable

blueprint = Blueprint("sandbox", __name__)
SHOWN = 10


def _movement(position: int, before: dict[str, int], product_id: str) -> str:
    """How a result moved against the list it came from: ``+3`` up, ``-2`` down, ``=``, or ``new``."""
    if product_id not in before:
        return "new"
    delta = before[product_id] - position
    return "=" if delta == 0 else f"{delta:+d}"


def compare(query: str, user_id: str | None) -> dict:
    """The three lists for one query; the learned list carries each result's top feature contributions."""
    service = context.search_service()
    base = SearchRequest(query=query, size=SHOWN, user_id=user_id)
    bm25 = service.search(SearchRequest(query=query, size=SHOWN, config="bm25"), record=False, rerank=False)
    hybrid = service.search(base, record=False, rerank=False)
    learned = service.search(SearchRequest(query=query, size=SHOWN, user_id=user_id, debug=True), record=False)
    bm25_at = {r["id"]: r["position"] for r in bm25.results}
    hybrid_at = {r["id"]: r["position"] for r in hybrid.results}
    for row in hybrid.results:
        row["moved"] = _movement(row["position"], bm25_at, row["id"])
    for row in learned.results:
        row["moved"] = _movement(row["position"], hybrid_at, row["id"])
    dropped = [r for r in hybrid.results if r["id"] not in {x["id"] for x in learned.results}]
    return {"bm25": bm25, "hybrid": hybrid, "learned": learned, "model": learned.debug["reranker"],
            "dropped": dropped}


@blueprint.get("/sandbox")
def sandbox():  # type: ignore[no-untyped-def]
    query, user = request.args.get("q", ""), request.args.get("user", "").strip()
    if not query:
        return render_template("sandbox.html", query="", user=user)
    try:
        parsed = parse_search_request({"query": query, **({"user_id": user} if user else {})})
    except InvalidRequest as exc:
        return render_template("sandbox.html", query=query[:500], user=user[:200],
                               errors={exc.field: exc.message}), 400
    try:
        lists = compare(parsed.query, parsed.user_id)
    except SearchUnavailable as exc:
        return render_template("sandbox.html", query=query, user=user, unavailable=str(exc)), 503
    return render_template("sandbox.html", query=parsed.query, user=user, **lists)
