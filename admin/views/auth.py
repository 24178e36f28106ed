"""Log in (rate-limited, audited) and log out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from admin import context
from admin.security import SessionUser, rotate_csrf_token
from core.access import login_throttle, users

blueprint = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never another host: an open redirect would help phishing)."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("overview.index")


@blueprint.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    settings = context.settings()
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")[:1000]
    db = context.db()
    limit, window = settings.admin_login_max_failures, settings.admin_login_window_s
    by_user = login_throttle.recent_failures(db, username, None, window) if username else 0
    by_addr = login_throttle.recent_failures(db, "", request.remote_addr, window)
    if login_throttle.is_throttled(by_user, limit) or login_throttle.is_throttled(by_addr, 4 * limit):
        return render_template("login.html", next=request.form.get("next", ""), username=username,
                               error=f"Too many failed logins: try again in {window / 60:.0f} minutes."), 429
    user = users.authenticate(db, username, password) if username and password else None
    if user is None:
        context.audit_as(username or "(empty)", login_throttle.FAILED_LOGIN, username.lower())
        db.commit()
        return render_template("login.html", next=request.form.get("next", ""), username=username,
                               error="Wrong username or password."), 401
    context.audit_as(user.username, "login", user.username)
    db.commit()
    session.clear()  # a fresh session: no fixation of one set before login
    login_user(SessionUser(user))
    session.permanent = True
    rotate_csrf_token()
    return redirect(_safe_next(request.form.get("next")))


@blueprint.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    context.audit("logout")
    context.db().commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
