"""``shelfrank clickmodel fit``: from stored clicks to position propensities and relevance labels."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.session import session_scope
from core.settings import get_settings
from ltr.click_labels import AUTO, NotEnoughClicks, fit_click_model, save_fit
from ltr.clickmodels import MODELS

app = typer.Typer(help="Click models: position bias and relevance from the stored clicks.", no_args_is_help=True)


@app.command()
@user_errors
def fit(
    model: str = typer.Option(AUTO, "--model", help=f"{AUTO} (best held-out log-likelihood) or one of: "
                              f"{', '.join(MODELS)}."),
    days: float = typer.Option(None, "--days", help="Only searches of the last N days (default: all stored)."),
    held_out: float = typer.Option(0.2, "--held-out", min=0.05, max=0.5, help="Share of searches held out "
                                   "to score the candidates."),
    seed: int = typer.Option(0, "--seed", help="Seed of the held-out split."),
    out: Path = typer.Option(None, "--out", help="Folder for summary.json, estimates.csv and examination.png "
                             "(default: STATE_DIR/clickmodels/<time>-<model>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the chosen model, its held-out log-likelihood and "
                                 "the examination propensities as one JSON object on the last line."),
) -> None:
    """Fit click models on the stored searches and clicks, choose one, save estimates and labels."""
    settings = get_settings()
    url = settings.effective_database_url
    migrate.ensure_current(url)
    since = datetime.now(timezone.utc) - timedelta(days=days) if days else None
    try:
        with session_scope(url) as session:
            result = fit_click_model(session, model, depth=settings.click_model_depth,
                                     min_support=settings.click_model_min_support, held_out=held_out, seed=seed,
                                     since=since, prior=settings.click_model_prior)
    except (NotEnoughClicks, ValueError) as exc:
        raise fail(str(exc)) from None
    folder = out or settings.state_dir / "clickmodels" / (
        result.fitted_at.strftime("%Y%m%d-%H%M%S") + f"-{result.selection.name}")
    save_fit(result, folder)
    summary = result.summary()
    if not as_json:
        typer.echo(result.selection.table())
        typer.echo(f"chosen: {summary['model']} on {summary['sessions']} searches, {summary['impressions']} "
                   f"impressions; {summary['labelled_pairs']} of {summary['pairs']} (query, product) pairs have "
                   f"at least {summary['min_support']} impressions and get a label")
        typer.echo("examination by position: " + " ".join("-" if x is None else f"{x:.2f}"
                                                          for x in summary["examination"]))
        typer.echo(f"saved summary.json, estimates.csv and examination.png in {folder}")
        return
    typer.echo(json.dumps({k: summary[k] for k in ("model", "held_out_log_likelihood", "held_out_perplexity",
                                                    "examination", "sessions", "impressions", "pairs",
                                                    "labelled_pairs", "prior")} | {"folder": str(folder)}))
