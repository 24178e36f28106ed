"""``shelfrank events import|purge|stats``: shopper events from files, retention, and a summary."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import typer
from sqlalchemy import func, select
from tqdm import tqdm

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.models import Interaction, ProcessedEvent, Search, User
from core.db.session import session_scope
from core.secrets import pseudonym_key
from core.settings import get_settings
from ltr.events.files import import_events
from ltr.events.retention import purge_expired
from ltr.events.store import EventStore
from ltr.events.volumes import exploration_clicks

app = typer.Typer(help="Shopper events: import, retention, summary.", no_args_is_help=True)


@app.command("import")
@user_errors
def import_command(
    path: Path = typer.Argument(..., help="JSON Lines file, one event per line (same format as POST /api/v1/events)."),
    batch_size: int = typer.Option(1000, "--batch-size", min=1, help="Events per transaction."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    max_errors: int = typer.Option(20, help="Rejected lines to show."),
) -> None:
    """Validate and store events; bad lines are reported with their line number, good ones kept.

    Importing the same file twice stores nothing twice (events are idempotent by event_id).
    """
    settings = get_settings()
    if not path.is_file():
        raise fail(f"event file {path} does not exist")
    url = settings.effective_database_url
    migrate.ensure_current(url)
    with tqdm(desc="events", unit="event", disable=as_json) as bar:
        try:
            report = import_events(functools.partial(session_scope, url), EventStore(pseudonym_key(settings)), path,
                                   batch_size, bar)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    for rejection in report.rejected[:max_errors]:
        typer.secho(f"  line {rejection.index}: {rejection.field}: {rejection.error}", fg=typer.colors.YELLOW,
                    err=True)
    if len(report.rejected) > max_errors:
        typer.secho(f"  ... and {len(report.rejected) - max_errors} more rejected lines", fg=typer.colors.YELLOW,
                    err=True)
    typer.echo(f"{path}: {report.accepted} events stored, {report.duplicates} already stored, "
               f"{len(report.rejected)} rejected, {report.unattributed} interactions without a known search")


@app.command()
@user_errors
def purge(
    days: int = typer.Option(None, "--days", min=1, help="Keep this many days (default: SHELFRANK_EVENT_RETENTION_DAYS)."),
    as_json: bool = typer.Option(False, "--json", help="Print what was deleted as one JSON object."),
) -> None:
    """Delete searches, impressions, interactions and users older than the retention period."""
    settings = get_settings()
    report = purge_expired(settings.effective_database_url, days or settings.event_retention_days)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"deleted everything before {report.cutoff}: {report.searches} searches, {report.impressions} "
               f"impressions, {report.interactions} interactions, {report.users} users, {report.ledger} event ids")


@app.command()
@user_errors
def stats(as_json: bool = typer.Option(False, "--json", help="Print the counts as one JSON object.")) -> None:
    """How many searches, interactions (by type, attributed or not) and users are stored."""
    settings = get_settings()
    url = settings.effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        counts = {
            "searches": session.scalar(select(func.count()).select_from(Search)),
            "users": session.scalar(select(func.count()).select_from(User)),
            "events": session.scalar(select(func.count()).select_from(ProcessedEvent)),
            "unattributed": session.scalar(
                select(func.count()).select_from(Interaction)
                .where(~select(Search.search_id).where(Search.search_id == Interaction.search_id).exists())),
        }
        for kind, n in session.execute(select(Interaction.type, func.count()).group_by(Interaction.type)):
            counts[kind] = n
    if as_json:
        typer.echo(json.dumps(counts))
        return
    for name, value in counts.items():
        typer.echo(f"{name:>14}: {value}")


@app.command()
@user_errors
def exploration(
    days: int = typer.Option(28, "--days", min=1, help="Searches of the last N days."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as one JSON array."),
) -> None:
    """Clicks on exploration slots against the ranked results at the same positions (first pages only):
    what SHELFRANK_EXPLORATION_RATE costs the shoppers who see it."""
    settings = get_settings()
    url = settings.effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        rows = exploration_clicks(session, days)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not any(r["explored"] for r in rows):
        typer.echo(f"no exploration slot was shown in the last {days} days (SHELFRANK_EXPLORATION_RATE turns them on)")
    by_position: dict[int, dict[bool, dict]] = {}
    for row in rows:
        by_position.setdefault(row["position"], {})[row["explored"]] = row
    typer.echo(f"{'position':>8} {'ranked shown':>12} {'CTR':>7} {'explored shown':>14} {'CTR':>7}")
    for position, kinds in sorted(by_position.items()):
        cells = []
        for explored in (False, True):
            row = kinds.get(explored)
            cells += [f"{row['impressions'] if row else 0:>{14 if explored else 12}}",
                      f"{row['ctr']:7.3f}" if row and row["ctr"] is not None else f"{'-':>7}"]
        typer.echo(f"{position:>8} " + " ".join(cells))
