"""Judgments: import and export files, coverage per query, and grading a query's results by hand."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from admin import context
from admin.security import requires
from evaluation import judgment_store
from evaluation import judgments as judgment_files
from storefront.request import InvalidRequest, SearchRequest, parse_search_request
from storefront.service import SearchUnavailable

blueprint = Blueprint("judgments", __name__)
FORMATS = ("csv", "trec")


def _page(errors: dict | None = None, message: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    db = context.db()
    search = request.args.get("search", "")[:200]
    return render_template("judgments.html", totals=judgment_store.totals(db), errors=errors or {},
                           coverage=judgment_store.coverage(db, search=search), search=search, message=message,
                           formats=FORMATS), status


@blueprint.get("/judgments")
def index():  # type: ignore[no-untyped-def]
    return _page()


def _parse_upload(fmt: str) -> judgment_files.Judgments:
    upload, topics = request.files.get("file"), request.files.get("topics")
    if upload is None or not upload.filename:
        raise judgment_files.JudgmentsError("choose a file to import")
    if fmt == "trec" and (topics is None or not topics.filename):
        raise judgment_files.JudgmentsError("TREC qrels need the topics file (lines of 'qid<TAB>query')")
    with tempfile.TemporaryDirectory() as folder:
        path, topics_path = Path(folder) / "judgments", Path(folder) / "topics"
        upload.save(path)
        try:
            if fmt == "trec":
                topics.save(topics_path)  # type: ignore[union-attr]
                loaded = judgment_files.load_trec(path, topics_path)
            else:
                loaded = judgment_files.load_csv(path)
        except judgment_files.JudgmentsError as exc:
            # The temporary paths mean nothing to the person who uploaded: name their files (and lines) instead.
            message = str(exc).replace(str(path), upload.filename[:100])
            raise judgment_files.JudgmentsError(message.replace(str(topics_path), (
                topics.filename if topics and topics.filename else "topics")[:100])) from None
    if not loaded:
        raise judgment_files.JudgmentsError("the file holds no judgments")
    return loaded


@blueprint.post("/judgments/import")
@requires("tuner")
def upload():  # type: ignore[no-untyped-def]
    fmt = request.form.get("format", "csv")
    if fmt not in FORMATS:
        return _page({"format": f"must be one of {', '.join(FORMATS)}"}, status=400)
    try:
        loaded = _parse_upload(fmt)
    except judgment_files.JudgmentsError as exc:
        return _page({"file": str(exc)}, status=400)
    except UnicodeDecodeError:
        return _page({"file": "the file is not UTF-8 text"}, status=400)
    name = (request.files["file"].filename or "upload")[:100]
    db = context.db()
    report = judgment_store.import_judgments(db, loaded, f"upload:{name}", context.actor(),
                                             replace=request.form.get("replace") == "yes")
    context.audit("judgments.import", name, {"queries": report.queries, "pairs": report.pairs,
                                             "replaced": report.replaced})
    db.commit()
    return _page(message=f"Imported {report.pairs} judgments for {report.queries} queries from {name}.")


@blueprint.get("/judgments/export.csv")
def export_csv():  # type: ignore[no-untyped-def]
    return Response(judgment_store.export_csv(context.db()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=judgments.csv"})


@blueprint.get("/judgments/export.qrels")
def export_qrels():  # type: ignore[no-untyped-def]
    qrels, _topics = judgment_store.export_qrels(context.db())
    return Response(qrels, mimetype="text/plain", headers={"Content-Disposition": "attachment; filename=judgments.qrels"})


@blueprint.get("/judgments/export.topics")
def export_topics():  # type: ignore[no-untyped-def]
    _qrels, topics = judgment_store.export_qrels(context.db())
    return Response(topics, mimetype="text/plain", headers={"Content-Disposition": "attachment; filename=topics.tsv"})


def _grade_page(query: str, errors: dict | None = None, status: int = 200, product: str = "",
                entered: str = ""):  # type: ignore[no-untyped-def]
    """The live top 20 of ``query`` and their grades; a refused grade is shown next to its product's field,
    with what was typed (or above the list when that product is not in it)."""
    try:
        parsed = parse_search_request({"query": query})
    except InvalidRequest as exc:
        return _page({"q": exc.message}, status=400)
    try:
        results = context.search_service().search(SearchRequest(query=parsed.query, size=20), record=False).results
    except SearchUnavailable as exc:
        if not errors:
            return render_template("error.html", title="Search unavailable", message=str(exc)), 503
        results = []  # the refusal still deserves its message
    inline = "grade" in (errors or {}) and any(row["id"] == product for row in results)
    return render_template("grade.html", query=parsed.query, results=results, errors=errors or {},
                           grades=judgment_store.for_query(context.db(), parsed.query),
                           failed=product if inline else None, entered=entered[:50]), status


@blueprint.get("/judgments/grade")
def grade_page():  # type: ignore[no-untyped-def]
    query = request.args.get("q", "")
    if not query:
        return redirect(url_for("judgments.index"))
    return _grade_page(query)


@blueprint.post("/judgments/grade")
@requires("tuner")
def grade():  # type: ignore[no-untyped-def]
    query, product, entered = (request.form.get(name, "") for name in ("q", "product_id", "grade"))
    db = context.db()
    try:
        value = float(entered)
    except ValueError:
        return _grade_page(query, {"grade": "must be a number"}, 400, product, entered)
    try:
        judgment = judgment_store.grade(db, query, product, value, context.actor())
    except judgment_files.JudgmentsError as exc:
        db.rollback()
        if exc.field == "query":  # a forged form: the grading page never offers a query it refuses
            return _page({"q": exc.message}, status=400)
        return _grade_page(query, {exc.field or "form": exc.message}, 400, product, entered)
    except IntegrityError:  # the same pair graded by someone else at the same moment
        db.rollback()
        return render_template("error.html", title="Not graded", message="Someone graded this product for this "
                               "query at the same moment; reload and check."), 409
    context.audit("judgments.grade", f"{judgment.query} / {judgment.product_id}", {"grade": value})
    db.commit()
    return redirect(url_for("judgments.grade_page", q=judgment.query))
