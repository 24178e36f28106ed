"""Tuning: change fusion, boosts, depths and synonyms as a new version, previewed on judged train
queries before it goes live; roll back to any earlier version."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from admin import context
from admin.security import requires
from evaluation import judgment_store
from evaluation.tuning_preview import measured_worse, preview
from storefront import tuning_store
from storefront.service import SearchUnavailable
from storefront.tuning import DEFAULT_BOOSTS, SERVED_CONFIGS, SearchTuning, TuningError, from_settings, \
    parse_tuning, served

blueprint = Blueprint("tuning", __name__)
NUMBERS = ("vector_weight", "rrf_k", "candidates", "vector_candidates", "rerank_window")


def live_tuning() -> tuple[SearchTuning, int | None]:
    version = tuning_store.live_version(context.db())
    if version is None:
        return from_settings(context.settings()), None
    return tuning_store.tuning_of(version), version.id


def _from_form(form, base: SearchTuning) -> SearchTuning:  # type: ignore[no-untyped-def]
    values: dict = {name: form.get(name, "").strip() or None for name in ("config", *NUMBERS)}
    values["boosts"] = {name: form.get(f"boosts.{name}", "").strip() or base.boosts[name] for name in DEFAULT_BOOSTS}
    values["synonyms"] = form.get("synonyms")  # absent: kept; empty: cleared
    values["vector_ef_search"] = form.get("vector_ef_search")  # absent: kept; empty: the engine's default
    return parse_tuning(values, base)


def _page(form_values: dict, errors: dict | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    live, live_id = live_tuning()
    versions = tuning_store.list_versions(context.db())
    return render_template("tuning.html", values=form_values, errors=errors or {}, live_id=live_id,
                           versions=versions, configs=SERVED_CONFIGS, boosts=list(DEFAULT_BOOSTS),
                           judged=judgment_store.totals(context.db())), status


def _form_values(tuning: SearchTuning) -> dict:
    values = tuning.as_dict()
    values["synonyms"] = "\n".join(", ".join(group) for group in tuning.synonyms)
    values["vector_ef_search"] = "" if tuning.vector_ef_search is None else tuning.vector_ef_search
    return values


@blueprint.get("/tuning")
def index():  # type: ignore[no-untyped-def]
    live, _live_id = live_tuning()
    return _page(_form_values(live))


@blueprint.post("/tuning")
@requires("tuner")
def save():  # type: ignore[no-untyped-def]
    """Validate, preview against the live tuning, save as a draft version. Nothing goes live here."""
    live, live_id = live_tuning()
    note = request.form.get("note", "").strip()
    try:
        candidate = _from_form(request.form, live)
        if len(note) > 2000:
            raise TuningError("note", "must be at most 2000 characters")
    except TuningError as exc:
        shown = {**_form_values(live), **{k: v for k, v in request.form.items() if k != "csrf_token"}}
        shown["boosts"] = {name: request.form.get(f"boosts.{name}", "") for name in DEFAULT_BOOSTS}
        return _page(shown, {exc.field: exc.message}, 400)
    if candidate == live:
        return _page(_form_values(candidate), {"form": "Nothing changed from the live tuning."}, 400)
    db = context.db()
    judged = judgment_store.load(db, "train")
    report = None
    if judged:
        service = context.search_service()
        before, after = served(live, live_id), served(candidate)
        try:
            report = preview(lambda q: service.ranking(q, None, 10, tuning=before),
                             lambda q: service.ranking(q, None, 10, tuning=after),
                             judged, context.settings().tuning_preview_queries).as_dict()
        except SearchUnavailable as exc:
            return _page(_form_values(candidate), {"form": f"The preview could not search: {exc}"}, 503)
        report["against_version"] = live_id
    version = tuning_store.save_version(db, candidate, context.actor(), note, report)
    context.audit("tuning.save", f"version {version.id}", {"changes": {
        k: list(v) for k, v in candidate.changes_from(live).items()}})
    db.commit()
    return redirect(url_for("tuning.show", version_id=version.id))


@blueprint.get("/tuning/<int:version_id>")
def show(version_id: int):  # type: ignore[no-untyped-def]
    db = context.db()
    try:
        version = tuning_store.get_version(db, version_id)
    except LookupError:
        return redirect(url_for("tuning.index"))
    live, live_id = live_tuning()
    changes = tuning_store.tuning_of(version).changes_from(live)
    return render_template("tuning_version.html", version=version, changes=changes, live_id=live_id,
                           worse=measured_worse(version.preview, live_id))


@blueprint.post("/tuning/<int:version_id>/activate")
@requires("tuner")
def activate(version_id: int):  # type: ignore[no-untyped-def]
    db = context.db()
    try:
        candidate = tuning_store.get_version(db, version_id)
    except LookupError as exc:
        return render_template("error.html", title="Cannot go live", message=str(exc)), 400
    worse = measured_worse(candidate.preview, live_tuning()[1])
    if worse and request.form.get("confirm_worse") != "yes":
        return render_template("error.html", title="Not put live", message=f"{worse} Tick \"Put it live anyway\" "
                               "on the version's page to go ahead."), 409
    try:
        version, previous = tuning_store.activate(db, version_id, context.actor())
    except (LookupError, TuningError) as exc:
        return render_template("error.html", title="Cannot go live", message=str(exc)), 400
    except IntegrityError:  # someone else put a version live at the same moment
        db.rollback()
        return render_template("error.html", title="Cannot go live", message="Another version went live at the "
                               "same moment; look at the versions and try again."), 409
    action = "tuning.rollback" if previous is not None and version.id < previous.id else "tuning.activate"
    context.audit(action, f"version {version.id}", {"previous": previous.id if previous else None})
    db.commit()
    return redirect(url_for("tuning.show", version_id=version.id))
