"""Assemble a :class:`SearchService` from settings (used by the CLI, the HTTP API and evaluation)."""

from __future__ import annotations

from core.db import migrate
from core.opensearch_client import make_client
from core.secrets import pseudonym_key
from core.settings import Settings
from encoders.batching import MicroBatchingEncoder
from encoders.cache import QueryVectorCache
from encoders.factory import load_query_encoder
from storefront.exploration import Exploration
from storefront.recording import BufferedRecorder, DatabaseImpressionRecorder
from storefront.retrieval import RetrievalConfig
from storefront.service import SearchService
from storefront.tuning import from_settings, served
from storefront.tuning_store import LiveTuning


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
    encoder = load_query_encoder(settings)
    if serving and settings.query_encoder_batch > 1:  # only a threaded server has concurrent queries to batch
        encoder = MicroBatchingEncoder(encoder, settings.query_encoder_batch)
    return SearchService(
        client=make_client(settings, storefront=serving),
        index=index or settings.default_index,
        encoder=QueryVectorCache(encoder, settings.query_vector_cache_size),
        configs=configured_retrieval(settings),
        default_config=settings.search_config,
        recorder=recorder,
        tuning=live_tuning(settings),
        last_stage=cross_encoder_stage(settings),
        exploration=Exploration(settings.exploration_rate, settings.exploration_slots, settings.exploration_depth)
        if settings.exploration_rate > 0 else None,
    )


def cross_encoder_stage(settings: Settings):  # type: ignore[no-untyped-def]
    """The optional cross-encoder stage, or None when ``cross_encoder_path`` is empty (the default)."""
    if settings.cross_encoder_path is None:
        return None
    from storefront.cross_encoder_stage import load_stage  # torch only when the stage is on

    return load_stage(settings.cross_encoder_path, settings.cross_encoder_top, settings.cross_encoder_prior_weight,
                      device=settings.encoder_device, cpu_threads=settings.encoder_cpu_threads)
