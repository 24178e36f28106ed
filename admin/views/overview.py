"""The overview: index, active model, recent task runs, and search behaviour over time."""

from __future__ import annotations

from flask import Blueprint, render_template
from opensearchpy.exceptions import OpenSearchException

from admin import context, plots
from core.db.models import TaskRun
from indexer import pipeline
from ltr import registry, served_evaluation
from ltr.events import volumes
from sqlalchemy import select

blueprint = Blueprint("overview", __name__)


def index_status() -> dict:
    """The alias's state, or what went wrong asking (the page still renders without the node)."""
    alias = context.settings().default_index
    try:
        return pipeline.status(context.opensearch(), alias)
    except OpenSearchException as exc:
        return {"alias": alias, "exists": False, "error": f"OpenSearch is unavailable ({exc.__class__.__name__})"}


@blueprint.get("/")
def index():  # type: ignore[no-untyped-def]
    db = context.db()
    daily = volumes.daily_volumes(db, days=30)
    days = [row["day"] for row in daily]
    quiet = not any(r["searches"] for r in daily)  # nothing to plot: say so instead of flat lines at zero
    traffic = None if quiet else plots.daily_lines(days, {"searches": [r["searches"] for r in daily],
                                       "clicks": [r["clicks"] for r in daily]}, "Searches and clicks per day")
    rates = None if quiet else plots.daily_lines(days, {"CTR": [r["ctr"] for r in daily],
                                     "zero-result rate": [r["zero_result_rate"] for r in daily]},
                              "Click-through and zero-result rate", percent=True)
    runs = list(db.scalars(select(TaskRun).order_by(TaskRun.started_at.desc()).limit(10)))
    return render_template("overview.html", status=index_status(), model=registry.active_model(db), runs=runs,
                           totals=volumes.totals(db), traffic_plot=traffic, rates_plot=rates,
                           quality_plot=quality_plot(served_evaluation.history(db)))


def quality_plot(history: list) -> str | None:  # type: ignore[type-arg]
    """nDCG@10 of the served ranking and of the unreranked hybrid at each recorded evaluation."""
    served = [row for row in history if row.ranking == "served"]
    if not served:
        return None
    hybrid = {row.at: row for row in history if row.ranking == "hybrid"}  # a run's two rows share ``at``
    labels = [row.at.strftime("%m-%d %H:%M") for row in served]
    return plots.lines(labels, {
        "served": [row.metrics.get("ndcg@10") for row in served],
        "hybrid": [hybrid[row.at].metrics.get("ndcg@10") if row.at in hybrid else None for row in served]},
        f"nDCG@10 on the judged {served[-1].split} queries, per evaluation")
