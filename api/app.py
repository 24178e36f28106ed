"""Application factory of the storefront HTTP API."""

from __future__ import annotations

import logging

from flask import Flask, jsonify

from api.events_views import events_blueprint
from api.search_views import search_blueprint, search_service
from core.settings import Settings, get_settings
from storefront.encoder_check import vectors_mismatch
from storefront.service import SearchService

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, service: SearchService | None = None) -> Flask:
    """``service`` is built lazily from settings on the first request unless one is given."""
    app = Flask(__name__)
    app.config["SHELFRANK_SETTINGS"] = settings or get_settings()
    app.extensions["shelfrank_search"] = service
    app.register_blueprint(search_blueprint, url_prefix="/api/v1")
    app.register_blueprint(events_blueprint, url_prefix="/api/v1")

    @app.errorhandler(404)
    def not_found(_error):  # type: ignore[no-untyped-def]
        return jsonify(error="not found"), 404

    @app.errorhandler(405)
    def wrong_method(_error):  # type: ignore[no-untyped-def]
        return jsonify(error="method not allowed"), 405

    return app


def warm_up(app: Flask) -> None:
    """Build the search service and encode one query now, before the first shopper arrives, and say (an error in
    the log) when its query encoder is not the model the live index's vectors came from.

    A node or database that is not reachable yet is logged, not fatal: the service is then built
    by the first request that finds them up (and answers 503 until then).
    """
    try:
        service = search_service(app)
        service.encoder.vector("warm up")
    except Exception as exc:  # noqa: BLE001 - a worker that cannot warm up still serves (and retries)
        app.extensions["shelfrank_search"] = None
        log.warning("the search service could not be built at start (%s: %s); the first request retries",
                    exc.__class__.__name__, exc)
        return
    try:
        problem = vectors_mismatch(service.client, service.index, service.encoder.identity)
    except Exception as exc:  # noqa: BLE001 - only a check: /ready asks again
        problem = None
        log.warning("could not compare the query encoder with the live index's model (%s)", exc)
    if problem:
        log.error("%s (the hybrid's vector half ranks at random until then; /api/v1/ready reports it)", problem)


def shutdown(app: Flask) -> None:
    """Write what the search service's recorder still buffers; called once per worker at exit."""
    service = app.extensions.get("shelfrank_search")
    if service is not None:
        service.close()
        stats = getattr(service.recorder, "stats", None)
        if stats is not None:
            log.info("recorder closed: %s", stats)
