"""Application factory of the admin console (one blueprint per page family)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, jsonify, render_template
from werkzeug.middleware.proxy_fix import ProxyFix

from admin import security
from admin.views import auth, events, judgments, models, overview, people, sandbox, tasks, tuning
from core.secrets import session_secret
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, search_service=None) -> Flask:  # type: ignore[no-untyped-def]
    """``search_service`` (a storefront SearchService with the active model) is built on first use
    unless given; tests and the sandbox share it across requests."""
    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(
        SHELFRANK_SETTINGS=settings,
        SECRET_KEY=session_secret(settings),
        SESSION_COOKIE_NAME="shelfrank_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.admin_cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.admin_session_hours),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=settings.admin_cookie_secure,
        MAX_CONTENT_LENGTH=int(settings.admin_max_upload_mb * 1024 * 1024),
    )
    app.extensions["shelfrank_search"] = search_service
    if settings.admin_proxy_hops:
        hops = settings.admin_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    security.init_app(app)
    for module in (auth, overview, sandbox, tuning, judgments, models, events, tasks, people):
        app.register_blueprint(module.blueprint)

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        """Liveness for the compose file's health check: no login, no database, no template."""
        return jsonify(status="ok")

    @app.errorhandler(400)
    def bad_request(error):  # type: ignore[no-untyped-def]
        return render_template("error.html", title="Bad request", message=error.description), 400

    @app.errorhandler(403)
    def forbidden(error):  # type: ignore[no-untyped-def]
        return render_template("error.html", title="Not allowed", message=error.description), 403

    @app.errorhandler(404)
    def not_found(_error):  # type: ignore[no-untyped-def]
        return render_template("error.html", title="Not found", message="There is no such page."), 404

    @app.errorhandler(413)
    def too_large(_error):  # type: ignore[no-untyped-def]
        return render_template("error.html", title="Upload too large",
                               message=f"Files up to {settings.admin_max_upload_mb:g} MB are accepted."), 413

    return app
