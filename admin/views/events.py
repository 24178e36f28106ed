"""Events: traffic per day and the position bias the last fitted click model found."""

from __future__ import annotations

from flask import Blueprint, render_template

from admin import context, plots
from ltr.click_labels import latest_summary
from ltr.events import volumes

blueprint = Blueprint("events", __name__)


@blueprint.get("/events")
def index():  # type: ignore[no-untyped-def]
    daily = volumes.daily_volumes(context.db(), days=30)
    fit = latest_summary(context.settings().state_dir / "clickmodels")
    propensity_plot = None
    if fit is not None:
        examination = [x if x is not None else 0.0 for x in fit[1].get("examination", [])]
        propensity_plot = plots.bars([str(i) for i in range(1, len(examination) + 1)], examination,
                                     f"P(examined) by position ({fit[1].get('model')}, {fit[1].get('sessions')} searches)",
                                     "position")
    traffic = plots.daily_lines([r["day"] for r in daily], {"searches": [r["searches"] for r in daily],
                                                           "clicks": [r["clicks"] for r in daily]},
                                "Searches and clicks per day")
    return render_template("events.html", daily=list(reversed(daily)), totals=volumes.totals(context.db()),
                           fit=fit, propensity_plot=propensity_plot, traffic_plot=traffic)
