"""``shelfrank models list|promote|rollback``: the learning-to-rank model registry."""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime

import typer
from cli.errors import fail, user_errors
from core.access import audit
from core.db import migrate
from core.db.models import RankingModel
from core.db.session import session_scope
from core.settings import get_settings
from core.opensearch_client import make_client
from ltr import registry
from ltr.registry import GateResult, RegistryError

app = typer.Typer(help="Learning-to-rank models: list, promote, roll back, and sync the engine's feature store.",
                  no_args_is_help=True)

# Preferred splits for the ndcg@10 shown in the table: the held-out one first.
_METRIC_SPLITS = ("test", "validation", "valid", "val", "train")


def default_gate(model: RankingModel) -> GateResult:
    """The gate ``promote`` runs (looked up when the command runs, so tests can replace it): the artifact
    must be complete and fit its featureset, then LightGBM and the engine's ``sltr`` must agree on up to
    50 sample queries' candidates (:func:`ltr.promotion.settings_gate`)."""
    from ltr import promotion  # LightGBM: only when a command needs it

    return promotion.settings_gate(get_settings())(model)


def store_upload(model: RankingModel) -> None:
    """Put ``model`` into the catalogue's feature store before a rollback reactivates it (looked up when the
    command runs, so tests without a node can replace it)."""
    from ltr import promotion  # LightGBM: only when a command needs it

    settings = get_settings()
    promotion.uploader(make_client(settings), settings.default_index)(model)


def _user(by: str | None) -> str:
    if by and by.strip():
        return by.strip()
    env = os.environ.get("USER", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name at all (containers): ask for --by
        raise fail("cannot tell who you are; pass --by USER") from None


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def ndcg_at_10(metrics: dict) -> tuple[float | None, str | None]:
    """The ndcg@10 to show for a model, and its split: top level, else the held-out split first."""
    if isinstance(metrics.get("ndcg@10"), (int, float)):
        return float(metrics["ndcg@10"]), None
    splits = [s for s in _METRIC_SPLITS if s in metrics] + sorted(s for s in metrics if s not in _METRIC_SPLITS)
    for split in splits:
        values = metrics.get(split)
        if isinstance(values, dict) and isinstance(values.get("ndcg@10"), (int, float)):
            return float(values["ndcg@10"]), split
    return None, None


def _as_dict(model: RankingModel) -> dict:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": model.id, "name": model.name, "status": model.status, "created_at": iso(model.created_at),
        "featureset": model.featureset, "featureset_hash": model.featureset_hash, "click_model": model.click_model,
        "data_window_start": iso(model.data_window_start), "data_window_end": iso(model.data_window_end),
        "params": model.params, "metrics": model.metrics, "artifact_path": model.artifact_path,
        "promoted_by": model.promoted_by, "promoted_at": iso(model.promoted_at), "retired_at": iso(model.retired_at),
        "notes": model.notes,
    }


def _url() -> str:
    url = get_settings().effective_database_url
    migrate.ensure_current(url)
    return url


@app.command("list")
@user_errors
def list_command(as_json: bool = typer.Option(False, "--json", help="Print the models as one JSON array.")) -> None:
    """Every registered model, newest first; the active one is served by the storefront."""
    with session_scope(_url()) as session:
        models = registry.list_models(session)
        rows = [_as_dict(m) for m in models]
        table = []
        for m in models:
            ndcg, split = ndcg_at_10(m.metrics or {})
            table.append([
                m.name, m.status, _when(m.created_at), m.featureset_hash[:12], m.click_model or "-",
                "-" if ndcg is None else f"{ndcg:.4f}" + (f" ({split})" if split else ""),
                m.promoted_by or "-", _when(m.promoted_at),
            ])
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not table:
        typer.echo("no models registered yet")
        return
    header = ["name", "status", "created", "featureset", "click model", "ndcg@10", "promoted by", "promoted at"]
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@app.command()
@user_errors
def promote(
    name: str = typer.Argument(..., help="Model name (or id), as in `shelfrank models list`."),
    by: str = typer.Option(None, "--by", help="Who promotes it (default: $USER)."),
) -> None:
    """Serve NAME: run the promotion gate, then retire the active model and activate NAME."""
    from ltr import promotion  # LightGBM: only when a command needs it

    user = _user(by)
    results: list[GateResult] = []

    def gate(model: RankingModel) -> GateResult:
        results.append(default_gate(model))
        return results[-1]

    try:
        with session_scope(_url()) as session:
            before = registry.active_model(session)
            previous = before.name if before else None
            promoted = registry.promote(session, name, by=user, gate=gate).name
            audit.record(session, audit.command_line_actor(user), "model.promote", promoted,
                         {"previous": previous, "gate": results[-1].summary()})
    except RegistryError as exc:
        raise fail(str(exc)) from None
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        pruned = promotion.after_switch(session, make_client(settings), settings.default_index, settings)
    replaced = f"; {previous} retired" if previous else ""
    typer.echo(f"gate passed: {results[-1].summary()}")
    if pruned.deleted:
        typer.echo(f"deleted from the feature store (beyond the {settings.ltr_keep_retired_models} retired kept): "
                   + ", ".join(pruned.deleted))
    typer.echo(f"model {promoted} is now active (promoted by {user}{replaced})")
    typer.echo(f"search template: {pruned.template}")


@app.command()
@user_errors
def rollback(by: str = typer.Option(None, "--by", help="Who rolls back (default: $USER).")) -> None:
    """Retire the active model and reactivate the one it replaced (or serve no model if there is none)."""
    from ltr import promotion  # LightGBM: only when a command needs it

    user = _user(by)
    try:
        with session_scope(_url()) as session:
            current = registry.active_model(session)
            retired = current.name if current else None
            restored = promotion.rollback(session, by=user, upload=store_upload)
            restored_name = restored.name if restored else None
            audit.record(session, audit.command_line_actor(user), "model.rollback", retired or "",
                         {"restored": restored_name})
    except RegistryError as exc:
        raise fail(str(exc)) from None
    settings = get_settings()
    with session_scope(settings.effective_database_url) as session:
        changes = promotion.after_switch(session, make_client(settings), settings.default_index, settings)
    typer.echo(f"search template: {changes.template}")
    if restored_name:
        typer.echo(f"model {retired} retired; model {restored_name} is active again")
    else:
        typer.echo(f"model {retired} retired; no previous model, the storefront now serves no learned ranking")


@app.command()
@user_errors
def sync(index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
         ) -> None:
    """Repair the catalogue's feature store from the registry: upload the active and retained models it lacks
    (after a wiped node or a restored snapshot), delete retired ones beyond the retention count."""
    from ltr import promotion  # LightGBM: only when a command needs it

    settings = get_settings()
    with session_scope(_url()) as session:
        changes = promotion.sync_models(session, make_client(settings), index or settings.default_index,
                                        settings.ltr_keep_retired_models, settings.default_index,
                                        settings.rerank_window)
    typer.echo(f"uploaded: {', '.join(changes.uploaded) or 'nothing (the store had every served model)'}")
    typer.echo(f"search template: {changes.template}")
    if changes.deleted:
        typer.echo(f"deleted:  {', '.join(changes.deleted)}")
    if changes.failed:
        raise fail("could not upload: " + "; ".join(changes.failed))
