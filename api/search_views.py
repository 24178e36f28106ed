"""``POST /api/v1/search``: thin JSON edge over :class:`storefront.service.SearchService`."""

from __future__ import annotations

import logging
import threading

from flask import Blueprint, Flask, current_app, jsonify, request
from opensearchpy.exceptions import OpenSearchException

from core import readiness
from core.db.migrate import DatabaseNotReady
from core.opensearch_client import make_client
from core.throttled_log import ThrottledWarning
from ltr.ranker.serving import storefront_service
from indexer.versions import IndexerError
from storefront.encoder_check import vectors_mismatch
from storefront.request import InvalidRequest, parse_search_request
from storefront.service import SearchService, SearchUnavailable

search_blueprint = Blueprint("search", __name__)
_build_lock = threading.Lock()
_warn_unavailable = ThrottledWarning(logging.getLogger(__name__))


def search_service(app: Flask) -> SearchService:
    """The app's search service, built on first use (or at worker start, see :mod:`api.server`)."""
    service = app.extensions.get("shelfrank_search")
    if service is None:
        with _build_lock:
            service = app.extensions.get("shelfrank_search")
            if service is None:
                service = storefront_service(app.config["SHELFRANK_SETTINGS"], serving=True)
                app.extensions["shelfrank_search"] = service
    return service


def _unavailable(message: str):  # type: ignore[no-untyped-def]
    """503 with a retry hint: the shop's frontend (or a load balancer) may try again shortly.

    Logged once per 10 s with the count since, not once per search: a node restarting under load
    would otherwise write thousands of lines a second."""
    _warn_unavailable("answering 503: %s", message)
    retry_after = current_app.config["SHELFRANK_SETTINGS"].search_retry_after_s
    response = jsonify(error=message, retry_after_s=retry_after)
    response.status_code = 503
    response.headers["Retry-After"] = str(retry_after)
    return response


@search_blueprint.post("/search")
def search():  # type: ignore[no-untyped-def]
    payload = request.get_json(silent=True)
    if payload is None:
        return jsonify(error="body: must be a JSON object (Content-Type: application/json)", field="body"), 400
    try:
        service = search_service(current_app)
        search_request = parse_search_request(payload, tuple(service.configs))
        result = service.search(search_request)
    except InvalidRequest as exc:
        return jsonify(error=str(exc), field=exc.field), 400
    except (SearchUnavailable, DatabaseNotReady) as exc:
        return _unavailable(str(exc))
    return jsonify(result.as_dict())


@search_blueprint.get("/health")
def health():  # type: ignore[no-untyped-def]
    """Liveness: the process answers (what the compose file's health check asks)."""
    return jsonify(status="ok")


@search_blueprint.get("/ready")
def ready():  # type: ignore[no-untyped-def]
    """Readiness: the database and the node answer (for a load balancer); 503 with a retry hint if not.
    Once the search service is built, ``query_encoder`` says whether it encodes queries with the model the
    live index's vectors came from: reported, not a reason to be unready (every API of the shop would leave
    the load balancer at once, and a worse hybrid is better than no search)."""
    settings = current_app.config["SHELFRANK_SETTINGS"]
    client = current_app.extensions.setdefault("shelfrank_ready_client", make_client(settings, storefront=True))
    status = readiness.check(settings.effective_database_url, client)
    extra: dict[str, str] = {}
    service = current_app.extensions.get("shelfrank_search")
    if service is not None and status.get("opensearch") == "ok":
        try:
            extra["query_encoder"] = vectors_mismatch(client, service.index, service.encoder.identity) or "ok"
        except (OpenSearchException, IndexerError) as exc:
            extra["query_encoder"] = f"not checked ({exc.__class__.__name__})"
    if readiness.ready(status):
        return jsonify(status="ok", **status, **extra)
    response = jsonify(status="unavailable", **status, **extra)
    response.status_code = 503
    response.headers["Retry-After"] = str(int(settings.search_retry_after_s))
    return response
