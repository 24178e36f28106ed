"""The console's guards: login required everywhere, roles, CSRF on every state-changing request,
security headers. Kept in one module so a reviewer can read the whole policy at once."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable

from flask import Flask, abort, jsonify, redirect, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user

from admin import context
from core.access.users import ROLES, role_allows
from core.db.models import ConsoleUser

#: Endpoints answering anonymous requests: the login form itself and the stylesheet it uses.
PUBLIC_ENDPOINTS = {"auth.login", "static", "health"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")


class SessionUser(UserMixin):
    """The logged-in person as views see them (no ORM object outlives its request's session)."""

    def __init__(self, user: ConsoleUser) -> None:
        self.id, self.username, self.role = str(user.id), user.username, user.role

    def can(self, needed: str) -> bool:
        return role_allows(self.role, needed)


def csrf_token() -> str:
    """This session's token, made on first use; rendered into every form and the page's meta tag."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def rotate_csrf_token() -> None:
    session[CSRF_FIELD] = secrets.token_urlsafe(32)


def _check_csrf() -> None:
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not expected or not hmac.compare_digest(str(expected), sent):
        abort(400, description="The form's security token is missing or out of date: reload the page and try again.")


def _wants_json() -> bool:
    return request.path.startswith("/console-api/") or request.accept_mimetypes.best == "application/json"


def _guard() -> object | None:
    if request.method in UNSAFE_METHODS:
        _check_csrf()  # before anything else, for anonymous requests too (the login form)
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if _wants_json():
        return jsonify(error="log in first"), 401
    return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))


def requires(role: str) -> Callable:
    """A view only users with at least ``role`` may use; others get a 403 that says what is missing."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
            if not current_user.can(role):
                abort(403, description=f"This needs the {role} role; you are a {current_user.role}.")
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]
        return wrapped

    return decorate


def _headers(response):  # type: ignore[no-untyped-def]
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    manager = LoginManager()
    manager.session_protection = "strong"
    manager.login_view = "auth.login"

    @manager.user_loader
    def load_user(user_id: str) -> SessionUser | None:
        user = context.db().get(ConsoleUser, int(user_id)) if user_id.isdigit() else None
        return SessionUser(user) if user is not None and not user.disabled else None

    manager.init_app(app)
    app.before_request(_guard)
    app.after_request(_headers)
    app.teardown_request(context.close_db)
    app.jinja_env.globals["csrf_token"] = csrf_token
