"""Users, shop API keys (admins only) and the audit log."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from admin import context
from admin.security import requires
from core.access import api_keys, audit, users
from core.access.users import ROLES, AccountError
from core.db.models import ConsoleUser

blueprint = Blueprint("people", __name__)


def _users_page(errors: dict | None = None, form: dict | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("users.html", users=users.list_users(context.db()), roles=ROLES, errors=errors or {},
                           form=form or {}), status


@blueprint.get("/users")
@requires("admin")
def user_list():  # type: ignore[no-untyped-def]
    return _users_page()


@blueprint.post("/users")
@requires("admin")
def create_user():  # type: ignore[no-untyped-def]
    form = {"username": request.form.get("username", "")[:200], "role": request.form.get("role", "")}
    db = context.db()
    try:
        user = users.create_user(db, form["username"], request.form.get("password", ""), form["role"])
    except AccountError as exc:
        db.rollback()
        return _users_page({exc.field: exc.message}, form, 400)
    context.audit("user.create", user.username, {"role": user.role})
    db.commit()
    return redirect(url_for("people.user_list"))


@blueprint.post("/users/<int:user_id>")
@requires("admin")
def change_user(user_id: int):  # type: ignore[no-untyped-def]
    db = context.db()
    user = db.get(ConsoleUser, user_id)
    if user is None:
        return _users_page({"form": "no such user"}, status=404)
    try:
        if "role" in request.form:
            users.set_role(db, user, request.form["role"])
            context.audit("user.role", user.username, {"role": user.role})
        if "disabled" in request.form:
            users.set_disabled(db, user, request.form["disabled"] == "yes")
            context.audit("user.disable" if user.disabled else "user.enable", user.username)
    except AccountError as exc:
        db.rollback()
        return _users_page({"form": exc.message}, status=400)
    db.commit()
    return redirect(url_for("people.user_list"))


def _keys_page(issued: api_keys.IssuedKey | None = None, errors: dict | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("keys.html", keys=api_keys.list_keys(context.db()), issued=issued,
                           errors=errors or {}), status


@blueprint.get("/keys")
@requires("admin")
def key_list():  # type: ignore[no-untyped-def]
    return _keys_page()


@blueprint.post("/keys")
@requires("admin")
def create_key():  # type: ignore[no-untyped-def]
    db = context.db()
    try:
        issued = api_keys.create_key(db, request.form.get("name", ""), context.actor())
    except ValueError as exc:
        return _keys_page(errors={"name": str(exc).split(": ", 1)[-1]}, status=400)
    context.audit("api_key.create", issued.record.name, {"prefix": issued.record.prefix})
    db.commit()
    return _keys_page(issued)  # the only time the key is shown


@blueprint.post("/keys/<int:key_id>/revoke")
@requires("admin")
def revoke_key(key_id: int):  # type: ignore[no-untyped-def]
    db = context.db()
    try:
        record = api_keys.revoke_key(db, key_id, context.actor())
    except LookupError as exc:
        return _keys_page(errors={"form": str(exc)}, status=404)
    context.audit("api_key.revoke", record.name, {"prefix": record.prefix})
    db.commit()
    return redirect(url_for("people.key_list"))


@blueprint.get("/audit")
def audit_log():  # type: ignore[no-untyped-def]
    prefix = request.args.get("action", "")[:100]
    return render_template("audit.html", entries=audit.recent(context.db(), 300, prefix or None), action=prefix)
