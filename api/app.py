"""Application factory of the storefront HTTP API."""

from __future__ import annotations

from flask import Flask, jsonify

from api.events_views import events_blueprint
from api.search_views import search_blueprint
from core.settings import Settings, get_settings
from storefront.service import SearchService


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
