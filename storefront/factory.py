"""Assemble a :class:`SearchService` from settings (used by the CLI, the HTTP API and evaluation)."""

from __future__ import annotations

import logging
from pathlib import Path

from opensearchpy import OpenSearch

from core.db import migrate
from core.opensearch_client import make_client
from core.secrets import pseudonym_key
from core.settings import Settings
from encoders.batching import MicroBatchingEncoder
from encoders.cache import QueryVectorCache
from encoders.factory import load_query_encoder, prepare_query_encoder, query_encoder_missing
from indexer.live_model import local_model_folder, settings_at
from indexer.versions import live_model
from storefront.exploration import Exploration
from storefront.live_encoder import LiveQueryEncoder
from storefront.recording import BufferedRecorder, DatabaseImpressionRecorder
from storefront.retrieval import RetrievalConfig
from storefront.service import SearchService
from storefront.tuning import from_settings, served
from storefront.tuning_store import LiveTuning

log = logging.getLogger(__name__)


def configured_retrieval(settings: Settings) -> dict[str, RetrievalConfig]:
    """The named retrieval configurations with the fusion weight and depths from settings."""
    return dict(served(from_settings(settings)).configs)


def live_tuning(settings: Settings) -> LiveTuning:
    """The console's live tuning, followed from the database; until a version is live (or while the
    database cannot be read, logged at most every 5 minutes) the settings' tuning is served."""
    return LiveTuning(settings.effective_database_url, from_settings(settings), settings.tuning_refresh_seconds)


def build_search_service(settings: Settings, index: str | None = None, record: bool = True,
                         serving: bool = False) -> SearchService:
    """The search service. ``serving`` is the API server's: impressions recorded off the request path,
    concurrent queries' encodes micro-batched, and OpenSearch asked with the storefront's short timeout,
    no retries. Otherwise (the CLI,
    evaluation, training) each search's impressions are written before it returns, and requests
    get the batch client's patience."""
    recorder = None
    if record:
        migrate.ensure_current(settings.effective_database_url)
        writer = DatabaseImpressionRecorder(settings.effective_database_url, pseudonym_key(settings))
        recorder = writer
        if serving:
            recorder = BufferedRecorder(writer.write, capacity=settings.record_queue_size,
                                        batch_size=settings.record_batch_size,
                                        flush_interval_s=settings.record_flush_interval_s)
    client = make_client(settings, storefront=serving)
    index = index or settings.default_index
    return SearchService(
        client=client,
        index=index,
        encoder=query_encoder(settings, client, index, serving),
        configs=configured_retrieval(settings),
        default_config=settings.search_config,
        recorder=recorder,
        tuning=live_tuning(settings),
        last_stage=cross_encoder_stage(settings),
        exploration=Exploration(settings.exploration_rate, settings.exploration_slots, settings.exploration_depth)
        if settings.exploration_rate > 0 else None,
    )


def query_encoder(settings: Settings, client: OpenSearch, index: str,
                  serving: bool = False) -> QueryVectorCache | LiveQueryEncoder:
    """The query encoder of the model ``index``'s vectors came from: found among the local model folders
    (``SHELFRANK_MODEL_PATH``, the bundled model, ``SHELFRANK_ENCODERS_DIR``) when the index names another
    than the configured one, and followed while the process runs (``query_encoder_follow_s``). The
    configured model when following is off, the node cannot be read yet, no folder holds the index's, or it
    fails to load. A server process (``serving``) never exports a model while it starts: if the live
    model's export is not there yet, it starts with the configured one and switches in the background."""
    if settings.query_encoder_follow_s <= 0:
        return _cached_query_encoder(settings, serving)

    def load(folder: Path) -> QueryVectorCache:
        chosen = settings_at(settings, folder)
        prepare_query_encoder(chosen)  # an export, if needed, runs in a child process: no torch in a server
        return _cached_query_encoder(chosen, serving)

    wanted, initial, failed = None, None, None
    try:
        wanted = live_model(client, index)
        folder = local_model_folder(settings, wanted) if wanted is not None else None
        if folder is not None and not (serving and query_encoder_missing(settings_at(settings, folder))):
            failed = wanted  # until it has loaded
            initial = load(folder)
            failed = None
    except Exception as exc:  # noqa: BLE001 - the configured model serves; the follow looks again later
        log.warning("starting with the configured query encoder: the live index's model (%s) could not be had "
                    "(%s: %s)", wanted.key if wanted else "unknown", exc.__class__.__name__, str(exc)[:200])
    # Not loaded here (node down, no folder, an export left to the background): the first search looks again.
    check_now = initial is None and failed is None
    return LiveQueryEncoder(initial or _cached_query_encoder(settings, serving), lambda: live_model(client, index),
                            lambda model: local_model_folder(settings, model), load, settings.query_encoder_follow_s,
                            check_now=check_now, unavailable=failed)


def prepare_live_query_encoder(settings: Settings) -> None:
    """Export the live index's model for the query path if it needs it (the API server, before its workers
    start, as it does for the configured model); nothing when it cannot be read or found."""
    if settings.query_encoder_follow_s <= 0:
        return
    client = make_client(settings)
    try:
        wanted = live_model(client, settings.default_index)
        folder = local_model_folder(settings, wanted) if wanted is not None else None
        if folder is not None:
            prepare_query_encoder(settings_at(settings, folder))
    except Exception as exc:  # noqa: BLE001 - the workers start with the configured model and follow later
        log.warning("could not prepare the live index's query encoder (%s: %s)", exc.__class__.__name__, exc)
    finally:
        client.close()  # no connection of the master's leaks into the forked workers


def _cached_query_encoder(settings: Settings, serving: bool) -> QueryVectorCache:
    encoder = load_query_encoder(settings)
    if serving and settings.query_encoder_batch > 1:  # only a threaded server has concurrent queries to batch
        encoder = MicroBatchingEncoder(encoder, settings.query_encoder_batch)
    return QueryVectorCache(encoder, settings.query_vector_cache_size)


def cross_encoder_stage(settings: Settings):  # type: ignore[no-untyped-def]
    """The optional cross-encoder stage, or None when ``cross_encoder_path`` is empty (the default)."""
    if settings.cross_encoder_path is None:
        return None
    from storefront.cross_encoder_stage import load_stage  # torch only when the stage is on

    return load_stage(settings.cross_encoder_path, settings.cross_encoder_top, settings.cross_encoder_prior_weight,
                      device=settings.encoder_device, cpu_threads=settings.encoder_cpu_threads)
