"""``POST /api/v1/search``: thin JSON edge over :class:`storefront.service.SearchService`."""

from __future__ import annotations

import threading

from flask import Blueprint, current_app, jsonify, request

from core.db.migrate import DatabaseNotReady
from ltr.ranker.serving import storefront_service
from storefront.request import InvalidRequest, parse_search_request
from storefront.service import SearchService, SearchUnavailable

search_blueprint = Blueprint("search", __name__)
_build_lock = threading.Lock()


def _service() -> SearchService:
    service = current_app.extensions.get("shelfrank_search")
    if service is None:
        with _build_lock:
            service = current_app.extensions.get("shelfrank_search")
            if service is None:
                service = storefront_service(current_app.config["SHELFRANK_SETTINGS"])
                current_app.extensions["shelfrank_search"] = service
    return service


@search_blueprint.post("/search")
def search():  # type: ignore[no-untyped-def]
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify(error="body: must be a JSON object (Content-Type: application/json)", field="body"), 400
    try:
        service = _service()
        search_request = parse_search_request(payload, tuple(service.configs))
        result = service.search(search_request)
    except InvalidRequest as exc:
        return jsonify(error=str(exc), field=exc.field), 400
    except SearchUnavailable as exc:
        return jsonify(error=str(exc)), 503
    except DatabaseNotReady as exc:
        return jsonify(error=str(exc)), 503
    return jsonify(result.as_dict())


@search_blueprint.get("/health")
def health():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")
