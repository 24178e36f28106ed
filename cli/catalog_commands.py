"""``shelfrank catalog import`` and ``shelfrank index rebuild|sync|status|rollback|behaviour``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.opensearch_client import make_client
from core.settings import get_settings
from encoders.factory import load_cached_encoder
from indexer import pipeline
from indexer.sources import FORMATS, ImportReport, load_mapping, read_catalog
from indexer.live_model import settings_for_writes
from indexer.segments import Compaction
from indexer.versions import live_index

catalog_app = typer.Typer(help="Import product catalogues into OpenSearch.", no_args_is_help=True)
index_app = typer.Typer(help="Manage catalogue indices: rebuild, sync, status, rollback, behaviour.", no_args_is_help=True)

IndexOption = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX).")
FormatOption = typer.Option("csv", "--format", help=f"One of: {', '.join(FORMATS)}.")
MappingOption = typer.Option(None, "--mapping", help="JSON file mapping product fields to source columns.")
MapOption = typer.Option(None, "--map", help="field=column, repeatable (e.g. --map id=sku).")
EncodingOption = typer.Option(None, "--encoding", help="Text encoding of the file (default utf-8; homedepot: latin-1).")


def _report(report: ImportReport, max_errors: int = 20) -> None:
    for error in report.errors[:max_errors]:
        typer.secho(f"  line {error.line}: {error.reason}", fg=typer.colors.YELLOW, err=True)
    if len(report.errors) > max_errors:
        typer.secho(f"  ... and {len(report.errors) - max_errors} more rejected rows", fg=typer.colors.YELLOW, err=True)
    typer.echo(report.summary())


def _products(path: Path, fmt: str, mapping_file: Path | None, maps: list[str] | None, encoding: str | None,
              report: ImportReport):
    mapping = load_mapping(mapping_file, maps)
    return read_catalog(path, fmt, mapping, encoding, report)


@catalog_app.command("import")
@user_errors
def import_catalog(
    path: Path = typer.Argument(..., help="Catalogue file (CSV with a header row, JSONL, or the Home Depot train.csv)."),
    fmt: str = FormatOption,
    mapping_file: Path = MappingOption,
    maps: list[str] = MapOption,
    encoding: str = EncodingOption,
    index: str = IndexOption,
    full: bool = typer.Option(False, "--full", help="Replace the whole catalogue (products missing from the file "
                              "disappear) instead of upserting into the live index."),
    allow_shrink: bool = typer.Option(False, "--allow-shrink", help="With --full: accept a catalogue much smaller "
                                      "than the live one (see SHELFRANK_INDEX_MIN_KEPT_FRACTION)."),
) -> None:
    """Validate a catalogue file and index it: a new index if none exists, else upserts (or --full rebuild)."""
    settings = get_settings()
    alias = index or settings.default_index
    client = make_client(settings)
    report = ImportReport(source=str(path))
    products = _products(path, fmt, mapping_file, maps, encoding, report)
    # A catalogue written over the live one keeps the model of its vectors (`index rebuild` changes models).
    encoder = load_cached_encoder(settings_for_writes(settings, client, alias))
    if full or live_index(client, alias) is None:
        result = pipeline.rebuild(client, alias, products, encoder, settings, progress=True, allow_shrink=allow_shrink)
        _report(report)
        typer.echo(f"{alias} -> {result.index}: {result.documents} products in {result.seconds:.1f}s "
                   f"(encoded {encoder.stats.misses}, from cache {encoder.stats.hits})")
    else:
        result = pipeline.sync(client, alias, products, [], encoder, settings, progress=True)
        _report(report)
        typer.echo(f"{alias} ({result.index}): upserted {result.documents} products in {result.seconds:.1f}s "
                   f"(encoded {encoder.stats.misses}, from cache {encoder.stats.hits})")
        _echo_compaction(result.compaction)


def _echo_compaction(compaction: Compaction | None) -> None:
    """What merging the live index's segments after the writes did (indexer.segments), when it was looked at."""
    if compaction is not None:
        typer.echo(f"segments: {compaction.describe()}")


def _refuse_during_chunked_rebuild(settings, alias: str) -> None:  # type: ignore[no-untyped-def]
    """A change written to the live index while a chunked rebuild copies it would be lost at the swap."""
    from core.db import migrate
    from core.db.session import session_scope
    from indexer.chunked_rebuild import running_job

    try:
        migrate.ensure_current(settings.effective_database_url)
    except migrate.DatabaseNotReady:
        return  # no database, so no worker-driven rebuild either
    with session_scope(settings.effective_database_url) as session:
        job = running_job(session, alias)
        if job is not None:
            raise fail(f"an embedding rebuild of {alias} is in progress (job {job.id}); sync after it finishes "
                       "(or drop the file into the catalogue folder: it is applied then)")


@catalog_app.command("sync-folder")
@user_errors
def sync_folder(
    folder: Path = typer.Option(None, "--folder", help="The drop folder (default: SHELFRANK_CATALOG_DROP_DIR, "
                                "else STATE_DIR/catalog-drop)."),
    index: str = IndexOption,
) -> None:
    """Apply the catalogue exports dropped into the folder, oldest first: *.csv / *.jsonl upsert products,
    full-*.csv rebuild the whole catalogue, *.deletes delete ids; applied files move to processed/, files
    that cannot be applied to failed/ (with the reason beside them)."""
    from indexer.jobs import sync_drop_folder

    settings = get_settings()
    report = sync_drop_folder(settings, index or settings.default_index, folder)
    if report.blocked_by:
        typer.echo(f"nothing applied: {report.blocked_by} is in progress; the files wait for the next run")
        return
    for item in report.applied:
        details = ", ".join(f"{k} {v}" for k, v in item.items() if k not in ("file", "moved_to", "rejections"))
        typer.echo(f"applied {item['file']}: {details}")
        for line in item.get("rejections", []):
            typer.echo(f"  rejected {line}")
    for item in report.failed:
        typer.echo(f"failed  {item['file']}: {item['error']} (moved to {item['moved_to']})")
    if report.waiting:
        typer.echo(f"still being written, left for the next run: {', '.join(report.waiting)}")
    _echo_compaction(report.compaction)
    if not (report.applied or report.failed or report.waiting):
        typer.echo(f"nothing to apply in {report.folder}")
    if report.failed:
        raise typer.Exit(1)


@index_app.command()
@user_errors
def rebuild(
    index: str = IndexOption,
    source: Path = typer.Option(None, "--from", help="Rebuild from this file instead of the live index's documents."),
    fmt: str = FormatOption,
    mapping_file: Path = MappingOption,
    maps: list[str] = MapOption,
    encoding: str = EncodingOption,
    allow_shrink: bool = typer.Option(False, "--allow-shrink", help="Accept a catalogue much smaller than the "
                                      "live one (see SHELFRANK_INDEX_MIN_KEPT_FRACTION)."),
) -> None:
    """Zero-downtime full rebuild into a new versioned index, verified, then an atomic alias swap."""
    from indexer.jobs import rebuild_catalogue

    settings = get_settings()
    alias = index or settings.default_index
    outcome = rebuild_catalogue(settings, alias, source, fmt, load_mapping(mapping_file, maps), encoding,
                                progress=True, allow_shrink=allow_shrink)
    result = outcome.result
    if outcome.report:
        _report(outcome.report)
    typer.echo(f"{alias}: {result.previous or '(none)'} -> {result.index}, {result.documents} products, "
               f"{result.seconds:.1f}s; encoded {outcome.encoded}, from cache {outcome.from_cache}")
    if result.removed_versions:
        typer.echo(f"removed old versions: {', '.join(result.removed_versions)}")


@index_app.command()
@user_errors
def sync(
    path: Path = typer.Argument(None, help="Products to upsert (same formats as catalog import)."),
    delete: list[str] = typer.Option(None, "--delete", help="Product id to delete, repeatable."),
    deletes_file: Path = typer.Option(None, "--deletes-file", help="File with one product id per line to delete."),
    fmt: str = FormatOption,
    mapping_file: Path = MappingOption,
    maps: list[str] = MapOption,
    encoding: str = EncodingOption,
    index: str = IndexOption,
) -> None:
    """Incremental update of the live index: upsert products by id and delete ids."""
    settings = get_settings()
    alias = index or settings.default_index
    deletes = list(delete or [])
    if deletes_file:
        deletes += [line.strip() for line in deletes_file.read_text().splitlines() if line.strip()]
    if path is None and not deletes:
        raise fail("nothing to do: give a catalogue file to upsert and/or --delete / --deletes-file")
    _refuse_during_chunked_rebuild(settings, alias)
    report = ImportReport(source=str(path)) if path else None
    products = _products(path, fmt, mapping_file, maps, encoding, report) if path else []
    client = make_client(settings)
    encoder = load_cached_encoder(settings_for_writes(settings, client, alias))
    result = pipeline.sync(client, alias, products, deletes, encoder, settings, progress=True)
    if report:
        _report(report)
    typer.echo(f"{alias} ({result.index}): upserted {result.documents}, deleted {result.deleted}; "
               f"encoded {encoder.stats.misses}, from cache {encoder.stats.hits}")
    _echo_compaction(result.compaction)


@index_app.command()
@user_errors
def status(index: str = IndexOption, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Alias, live physical index, document count, model identity and kept versions."""
    settings = get_settings()
    info = pipeline.status(make_client(settings), index or settings.default_index)
    if as_json:
        typer.echo(json.dumps(info))
    elif not info["exists"]:
        typer.echo(f"{info['alias']}: does not exist (create it with: shelfrank catalog import PATH)")
    else:
        typer.echo(f"alias:     {info['alias']}\nindex:     {info['index']}\ndocuments: {info['documents']}\n"
                   f"model:     {info['model_key']}\nversions:  {', '.join(info['versions'])}")
        if info["unverified"]:
            typer.echo(f"unverified (left by a rebuild that did not finish; `shelfrank index cleanup` deletes "
                       f"them): {', '.join(info['unverified'])}")
    if not info["exists"]:
        raise typer.Exit(1)


@index_app.command()
@user_errors
def rollback(index: str = IndexOption) -> None:
    """Point the alias back at the previous version kept by the last rebuild."""
    settings = get_settings()
    alias = index or settings.default_index
    old, new = pipeline.rollback(make_client(settings), alias)
    typer.echo(f"{alias}: {old} -> {new}")


@index_app.command()
@user_errors
def cleanup(index: str = IndexOption) -> None:
    """Delete unverified versions a dead rebuild left (older than SHELFRANK_INDEX_PARTIAL_GRACE_S), verified
    ones beyond SHELFRANK_INDEX_KEEP_VERSIONS, and retired models in the feature store beyond
    SHELFRANK_LTR_KEEP_RETIRED_MODELS. The live index and the active model are never touched."""
    from ltr.maintenance import cleanup as run_cleanup

    settings = get_settings()
    report = run_cleanup(settings, index or settings.default_index)
    for key, label in (("partial_deleted", "partial versions deleted"), ("old_deleted", "old versions deleted"),
                       ("partial_kept", "unverified versions kept (younger than the grace period)"),
                       ("models_deleted_from_store", "retired models deleted from the feature store")):
        typer.echo(f"{label}: {', '.join(report[key]) or 'none'}")  # type: ignore[arg-type]
    if report["compaction"]:
        _echo_compaction(Compaction(**report["compaction"]))  # type: ignore[arg-type]


@index_app.command()
@user_errors
def behaviour(index: str = IndexOption) -> None:
    """Write each product's behaviour features (CTR, purchase rate, popularity, as of now) onto its document,
    where the learning-to-rank featureset reads them in the engine: partial updates, alias untouched. Products
    whose values moved less than SHELFRANK_BEHAVIOUR_SYNC_TOLERANCE keep them; the segments the writes leave are
    merged back past SHELFRANK_INDEX_COMPACT_SEGMENTS."""
    from ltr.maintenance import refresh_served_behaviour

    settings = get_settings()
    alias = index or settings.default_index
    report, template = refresh_served_behaviour(settings, alias)
    priors = ", ".join(f"{k} {v:.4g}" for k, v in report.priors.items())
    typer.echo(f"{alias} ({report.index}): {report.updated} products updated, {report.unchanged} kept (values "
               f"within {settings.behaviour_sync_tolerance:.0%}), {report.cleared} cleared (no history in the window), "
               f"{report.missing} with history no longer in the catalogue; "
               f"priors: {priors or '-'}; search template: {template}")
    _echo_compaction(report.compaction)


@index_app.command()
@user_errors
def history(
    judgments: Path = typer.Option(None, "--judgments", help="Judgments file to take the history from (its train "
                                   "split only); without it, the click model's labels of the stored clicks."),
    fmt: str = typer.Option("csv", "--format", help="Judgments format: csv, trec or homedepot."),
    days: float = typer.Option(28.0, "--days", help="Without --judgments: clicks of the last N days."),
    active_model: bool = typer.Option(False, "--active-model", help="The history the active model was trained on "
                                      "(what promotion writes; repairs documents that lost it)."),
    index: str = IndexOption,
) -> None:
    """Write each product's query history (the queries it was judged or clicked relevant for) onto its
    document, where the v4 featuresets' history features read it: partial updates, alias untouched.
    Promoting a v4 model writes the history it was trained on; this command is for repairs and experiments."""
    from evaluation import judgments as judgments_io
    from ltr.history_sync import refresh_history
    from ltr.maintenance import refresh_served_history

    settings = get_settings()
    if active_model:
        if judgments is not None:
            raise fail("give --active-model or --judgments, not both")
        report = refresh_served_history(settings, index or settings.default_index)
        typer.echo(f"{index or settings.default_index} ({report.index}): {report.updated} products given the active "
                   f"model's history of {report.queries} queries, {report.cleared} cleared, {report.missing} not in "
                   "the catalogue")
        _echo_compaction(report.compaction)
        return
    loaded = None
    if judgments is not None:
        try:
            loaded = judgments_io.select_split(judgments_io.load(judgments, fmt), "train")  # never the test split
        except (OSError, judgments_io.JudgmentsError) as exc:
            raise fail(str(exc)) from None
    report = refresh_history(settings, index, loaded, days)
    typer.echo(f"{index or settings.default_index} ({report.index}): {report.updated} products given the history of "
               f"{report.queries} queries, {report.cleared} cleared, {report.missing} not in the catalogue")
    _echo_compaction(report.compaction)
