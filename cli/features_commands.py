"""``shelfrank features user|product``: the behaviour features LTR would see, at a point in time.

For looking at one shopper or one product, e.g. to check that a profile makes sense before
training. Product traits (department, brand) come from a catalogue file when one is given; this
command never asks OpenSearch, so without ``--catalog`` departments and brands are unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.session import session_scope
from core.privacy import pseudonymise
from core.secrets import pseudonym_key
from core.settings import get_settings
from indexer.sources import FORMATS, ImportReport, read_catalog
from ltr.features.loader import load_behaviour, user_known
from ltr.features.product import default_product_features, product_features
from ltr.features.user import UserProfile, latest_session
from indexer.traits import ProductTraits, traits_of

app = typer.Typer(help="Behaviour features (user profiles, product statistics) at a point in time.",
                  no_args_is_help=True)

AtOption = typer.Option(None, "--at", help="Point in time, ISO 8601 (default: now; no time zone means UTC). "
                        "Only what happened strictly before it counts.")
JsonOption = typer.Option(False, "--json", help="Print one JSON object.")
WindowOption = typer.Option(30.0, "--window-days", min=0.001, help="Days of history counted: activity (user), rates and popularity (product).")

UNKNOWN_TRAITS = "departments and brands are unknown without a catalogue (pass --catalog FILE --format ...)"


def parse_at(value: str | None) -> datetime:
    """``--at`` as aware UTC; a value without a time zone is read as UTC."""
    if value is None:
        return datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"--at {value!r} is not an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def catalog_traits(product_ids: Iterable[str], catalog: Path | None, fmt: str) -> dict[str, ProductTraits]:
    """Traits of ``product_ids``: from the catalogue file when given, else derived from the id alone."""
    wanted = set(product_ids)
    traits: dict[str, ProductTraits] = {}
    if catalog is not None:
        report = ImportReport(source=str(catalog))
        for product in read_catalog(catalog, fmt, report=report):
            if product.id in wanted:
                traits[product.id] = traits_of(product.id, product.title, product.brand, product.category)
        if report.errors:
            typer.secho(f"{catalog}: {len(report.errors)} rows rejected and skipped", fg=typer.colors.YELLOW,
                        err=True)
    for pid in wanted - traits.keys():
        traits[pid] = traits_of(pid, None)
    return traits


def _shares(shares: dict[str, float], top: int = 5) -> str:
    return ", ".join(f"{name} {share:.2f}" for name, share in list(shares.items())[:top]) or "none yet"


@app.command("user")
@user_errors
def user_command(
    user: str = typer.Argument(..., help="Shopper id as the shop sends it (pseudonymised here before lookup)."),
    at: str = AtOption,
    as_json: bool = JsonOption,
    window_days: float = WindowOption,
    half_life_days: float = typer.Option(30.0, "--half-life-days", min=0.001, help="Half-life of affinity votes."),
    session: str = typer.Option(None, "--session", help="Session for the session features "
                                "(default: the user's latest session before --at)."),
    catalog: Path = typer.Option(None, "--catalog", help="Catalogue file to read departments and brands from."),
    fmt: str = typer.Option("csv", "--format", help=f"Catalogue format, one of: {', '.join(FORMATS)}."),
) -> None:
    """A shopper's profile: affinities, preferred price band, activity and current session."""
    settings = get_settings()
    url = settings.effective_database_url
    migrate.ensure_current(url)
    when = parse_at(at)
    pseudonym = pseudonymise(user, pseudonym_key(settings))
    with session_scope(url) as db:
        if not user_known(db, pseudonym):
            raise fail(f"unknown user {user!r}: nothing is stored for this id (under the configured pseudonym key)")
        log = load_behaviour(db, until=when, user_id=pseudonym)
    traits = catalog_traits({a.product_id for a in log.actions}, catalog, fmt)
    session_id = session or latest_session(log, pseudonym, when)
    profile = UserProfile.build(log, pseudonym, when, traits, session_id, half_life_days=half_life_days,
                                window_days=window_days)
    result = profile.as_dict()
    result["window_days"] = window_days
    if catalog is None:
        result.update(department_affinity=None, brand_affinity=None, recent_departments=None, note=UNKNOWN_TRAITS)
    if as_json:
        typer.echo(json.dumps(result))
        return
    activity = profile.activity
    typer.echo(f"user {user} (pseudonym {pseudonym}) at {when.isoformat()}")
    typer.echo(f"  activity, last {window_days:g} days: {activity.searches} searches, {activity.clicks} clicks, "
               f"{activity.add_to_carts} add-to-carts, {activity.purchases} purchases")
    typer.echo(f"  preferred price band: {profile.preferred_price_band or 'none yet'}")
    if catalog is None:
        typer.echo(f"  note: {UNKNOWN_TRAITS}")
        return
    typer.echo(f"  department affinity: {_shares(dict(profile.department_affinity))}")
    typer.echo(f"  brand affinity: {_shares(dict(profile.brand_affinity))}")
    typer.echo(f"  session {session_id or '-'}: recently clicked departments: "
               f"{', '.join(profile.recent_departments) or 'none'}")


@app.command("product")
@user_errors
def product_command(
    product_id: str = typer.Argument(..., help="Product id as in the catalogue."),
    at: str = AtOption,
    as_json: bool = JsonOption,
    window_days: float = WindowOption,
    half_life_days: float = typer.Option(14.0, "--half-life-days", min=0.001, help="Half-life of popularity."),
    prior_weight: float = typer.Option(10.0, "--prior-weight", min=0.001,
                                       help="Pseudo-impressions at the global rate that smooth each rate."),
) -> None:
    """A product's impressions, smoothed rates and popularity in the window before --at."""
    settings = get_settings()
    url = settings.effective_database_url
    migrate.ensure_current(url)
    when = parse_at(at)
    with session_scope(url) as db:  # the window only: the smoothing prior is the window's global rate
        log = load_behaviour(db, since=when - timedelta(days=window_days), until=when)
    features = default_product_features(window_days, half_life_days, prior_weight)
    values = product_features(log, [product_id], when, features)[product_id]
    if as_json:
        typer.echo(json.dumps({"product_id": product_id, "at": when.isoformat(), "window_days": window_days,
                               "features": values}))
        return
    typer.echo(f"product {product_id} at {when.isoformat()}, last {window_days:g} days:")
    for name, value in values.items():
        typer.echo(f"  {name:>17}: {value:.4g}")
