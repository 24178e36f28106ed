"""``shelfrank evaluations run|list``: the served ranking measured on the stored judgments, over time."""

from __future__ import annotations

import json

import typer

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.session import session_scope
from core.settings import get_settings
from storefront.service import SearchUnavailable

app = typer.Typer(help="Evaluations of the served ranking on the stored judgments, recorded over time.",
                  no_args_is_help=True)


@app.command("run")
@user_errors
def run(index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
        split: str = typer.Option("test", help="test, train or all (the fixed split)."),
        limit: int = typer.Option(None, help="Only the first N judged queries of the split (sorted)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object.")) -> None:
    """Measure the served ranking (live tuning, active model) and the unreranked hybrid; record both."""
    from ltr.served_evaluation import NothingToEvaluate, evaluate_served  # LightGBM: only when it runs

    settings = get_settings()
    migrate.ensure_current(settings.effective_database_url)
    if split not in ("test", "train", "all"):
        raise fail("--split must be test, train or all")
    try:
        result = evaluate_served(settings, index or settings.default_index, split, limit, "cli",
                                 progress=not as_json)
    except (NothingToEvaluate, SearchUnavailable) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
        return
    for name, run_ in (("served", result.served), ("hybrid", result.hybrid)):
        metrics = "  ".join(f"{k}={v:.4f}" for k, v in run_.metrics.items())
        typer.echo(f"{name:7} {metrics}  ({run_.queries} {split} queries{', model ' + run_.model if run_.model else ''})")


@app.command("list")
@user_errors
def list_runs(limit: int = typer.Option(20, help="Most recent runs shown.")) -> None:
    """Recorded evaluations, oldest first."""
    from ltr.served_evaluation import history

    url = get_settings().effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        rows = history(session, limit)
        for row in rows:
            typer.echo(f"{row.at:%Y-%m-%d %H:%M} {row.ranking:7} {row.split:5} {row.queries:5}q  "
                       f"ndcg@10={row.metrics.get('ndcg@10', 0):.4f} recall@100={row.metrics.get('recall@100', 0):.4f}"
                       f"  {row.model or ''} by {row.started_by}")
    if not rows:
        typer.echo("no evaluations recorded yet (shelfrank evaluations run, or the nightly task)")
