"""Models: the registry with lineage and metrics; promote and roll back (admins, after confirming)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from admin import context
from admin.security import requires
from ltr import promotion, registry
from ltr.registry import RegistryError

blueprint = Blueprint("models", __name__)


@blueprint.get("/models")
def index():  # type: ignore[no-untyped-def]
    db = context.db()
    return render_template("models.html", models=registry.list_models(db), active=registry.active_model(db))


@blueprint.get("/models/<name>")
def show(name: str):  # type: ignore[no-untyped-def]
    db = context.db()
    try:
        model = registry.get_model(db, name)
    except RegistryError as exc:
        return render_template("error.html", title="No such model", message=str(exc)), 404
    return render_template("model.html", model=model, active=registry.active_model(db))


@blueprint.post("/models/<name>/promote")
@requires("admin")
def promote(name: str):  # type: ignore[no-untyped-def]
    db, settings = context.db(), context.settings()
    if request.form.get("confirm") != "yes":
        return render_template("error.html", title="Not promoted",
                               message="Tick the confirmation box to promote this model."), 400
    before = registry.active_model(db)
    reports: list[registry.GateResult] = []
    gate = promotion.settings_gate(settings)

    def recorded_gate(model):  # type: ignore[no-untyped-def]
        reports.append(gate(model))
        return reports[-1]

    try:
        promoted = registry.promote(db, name, by=context.actor(), gate=recorded_gate)
    except RegistryError as exc:
        db.rollback()
        context.audit("model.promote_refused", name, {"reason": str(exc)[:2000]})
        db.commit()
        return render_template("error.html", title="Not promoted", message=str(exc)), 409
    context.audit("model.promote", promoted.name, {"previous": before.name if before else None,
                                                   "gate": reports[-1].summary() if reports else None})
    db.commit()
    promotion.after_switch(db, context.opensearch(), settings.default_index, settings)
    db.commit()
    return redirect(url_for("models.show", name=promoted.name))


@blueprint.post("/models/rollback")
@requires("admin")
def rollback():  # type: ignore[no-untyped-def]
    db, settings = context.db(), context.settings()
    if request.form.get("confirm") != "yes":
        return render_template("error.html", title="Not rolled back",
                               message="Tick the confirmation box to roll back."), 400
    current = registry.active_model(db)
    try:
        restored = promotion.rollback(db, by=context.actor(),
                                      upload=promotion.uploader(context.opensearch(), settings.default_index))
    except RegistryError as exc:
        db.rollback()
        return render_template("error.html", title="Not rolled back", message=str(exc)), 409
    context.audit("model.rollback", current.name if current else "", {"restored": restored.name if restored else None})
    db.commit()
    promotion.after_switch(db, context.opensearch(), settings.default_index, settings)
    db.commit()
    return redirect(url_for("models.index"))
