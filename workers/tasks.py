"""The worker tasks: each is argument handling plus one call to the function the CLI calls.

Every task runs through :func:`core.jobs.run_job` (one run at a time per kind, recorded in
``task_runs``) and is retried with backoff on transient errors: OpenSearch, the database or Redis
unreachable for a while. Each attempt is its own recorded run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import redis
from kombu.exceptions import OperationalError as KombuOperationalError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout
from sqlalchemy.exc import OperationalError

from core.db.session import session_scope
from core.jobs import Progress, run_job
from core.opensearch_client import make_client
from encoders.factory import load_cached_encoder
from indexer import chunked_rebuild
from indexer.jobs import rebuild_catalogue, sync_drop_folder
from core.settings import Settings
from ltr.events.retention import purge_expired
from ltr.maintenance import cleanup, refresh_served_behaviour
from ltr.served_evaluation import evaluate_served
from ltr.ranker.featureset import DEFAULT_FEATURESET
from ltr.ranker.job import TrainingRequest
from ltr.ranker.train import TrainParams
from ltr.retrain import retrain
from workers.app import celery_app

# kombu's OperationalError: the broker was unreachable when a task queued a follow-up (Redis restarting).
TRANSIENT = (OpenSearchConnectionError, ConnectionTimeout, OperationalError, redis.exceptions.ConnectionError,
             KombuOperationalError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True,
         "max_retries": 8, "acks_late": True}


def _settings(task: Any) -> Settings:
    """The settings the Celery app was made with (``workers.app.make_celery``), handed to every job."""
    return task.app.shelfrank_settings


def _run(task: Any, kind: str, job: Callable[[Progress], Mapping[str, Any]], params: dict[str, Any],
         started_by: str) -> dict[str, Any]:
    settings = _settings(task)
    broker = redis.Redis.from_url(settings.broker_url)
    outcome = run_job(kind, job, database_url=settings.effective_database_url, broker=broker, params=params,
                      started_by=started_by, task_id=task.request.id, lock_ttl_s=settings.task_lock_ttl_s)
    return {"run_id": outcome.run_id, "status": outcome.status, "result": outcome.result, "detail": outcome.detail}


@celery_app.task(bind=True, name="shelfrank.behaviour_refresh", **RETRY)
def behaviour_refresh(self, index: str | None = None, started_by: str = "unknown") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Product behaviour features onto the catalogue's documents (``shelfrank index behaviour``)."""
    settings = _settings(self)
    alias = index or settings.default_index

    def job(progress: Progress) -> dict[str, Any]:
        report, template = refresh_served_behaviour(settings, alias, progress)
        return {"index": report.index, "updated": report.updated, "unchanged": report.unchanged,
                "cleared": report.cleared, "missing": report.missing, "template": template,
                "compaction": report.compaction.as_dict() if report.compaction else None}

    return _run(self, "behaviour", job, {"index": alias}, started_by)


@celery_app.task(bind=True, name="shelfrank.events_purge", **RETRY)
def events_purge(self, days: int | None = None, started_by: str = "unknown") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Events past retention deleted (``shelfrank events purge``)."""
    settings = _settings(self)
    keep = days or settings.event_retention_days

    def job(progress: Progress) -> dict[str, Any]:
        return purge_expired(settings.effective_database_url, keep).as_dict()

    return _run(self, "events-purge", job, {"days": keep}, started_by)


@celery_app.task(bind=True, name="shelfrank.retrain", **RETRY)
def retrain_task(self, labels: str = "clickmodel", days: float = 28.0, featureset: str = DEFAULT_FEATURESET,  # type: ignore[no-untyped-def]
                 started_by: str = "unknown", index: str | None = None) -> dict[str, Any]:
    """Retrain on the stored events (``labels="judgments"``: on the stored train-split judgments); promote only
    past the quality and parity gates (``shelfrank retrain``); ``index``: the catalogue alias (default: the
    shop's default)."""
    settings = _settings(self)
    request = TrainingRequest(labels=labels, days=days, min_support=settings.click_model_min_support,
                              window=settings.rerank_window, params=TrainParams.from_settings(settings),
                              unlabelled_weight=settings.ltr_unlabelled_weight)

    def job(progress: Progress) -> dict[str, Any]:
        return retrain(settings, request, featureset=featureset, index=index, by=started_by,
                       progress=progress).as_dict()

    params = {"labels": labels, "days": days, "featureset": featureset, **({"index": index} if index else {})}
    return _run(self, "retrain", job, params, started_by)


@celery_app.task(bind=True, name="shelfrank.reindex", **RETRY)
def reindex(self, index: str | None = None, source: str | None = None, fmt: str = "csv",  # type: ignore[no-untyped-def]
            started_by: str = "unknown") -> dict[str, Any]:
    """Zero-downtime full rebuild (``shelfrank index rebuild``): a failure leaves the live index serving."""
    settings = _settings(self)
    alias = index or settings.default_index

    def job(progress: Progress) -> dict[str, Any]:
        return rebuild_catalogue(settings, alias, Path(source) if source else None, fmt).as_dict()

    return _run(self, "reindex", job, {"index": alias, "source": source, "format": fmt}, started_by)


@celery_app.task(bind=True, name="shelfrank.cleanup", **RETRY)
def cleanup_task(self, index: str | None = None, started_by: str = "unknown") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Partial and surplus index versions, retired models in the store (``shelfrank index cleanup``). Runs
    under the reindex lock: it never looks at a version while a worker's rebuild is writing it."""
    settings = _settings(self)
    alias = index or settings.default_index
    return _run(self, "reindex", lambda progress: cleanup(settings, alias), {"index": alias, "cleanup": True},
                started_by)


@celery_app.task(bind=True, name="shelfrank.evaluate", **RETRY)
def evaluate_task(self, index: str | None = None, split: str = "test", started_by: str = "unknown",  # type: ignore[no-untyped-def]
                  ) -> dict[str, Any]:
    """The served ranking and the unreranked hybrid on the stored judgments, recorded (``shelfrank
    evaluations run``)."""
    settings = _settings(self)
    alias = index or settings.default_index

    def job(progress: Progress) -> dict[str, Any]:
        return evaluate_served(settings, alias, split, settings.evaluation_max_queries or None, started_by).as_dict()

    return _run(self, "evaluate", job, {"index": alias, "split": split}, started_by)


@celery_app.task(bind=True, name="shelfrank.catalog_sync", **RETRY)
def catalog_sync(self, index: str | None = None, started_by: str = "unknown") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Apply the catalogue drop folder (``shelfrank catalog sync-folder``), under the reindex lock."""
    settings = _settings(self)
    alias = index or settings.default_index
    return _run(self, "reindex", lambda progress: sync_drop_folder(settings, alias).as_dict(),
                {"index": alias, "folder": str(settings.effective_catalog_drop_dir)}, started_by)


_encoders: dict[str, Any] = {}


def _cached_encoder(settings: Any) -> Any:
    """One loaded model per worker process (loading costs seconds; a rebuild runs many chunks)."""
    if "text" not in _encoders:
        _encoders["text"] = load_cached_encoder(settings)
    return _encoders["text"]


@celery_app.task(bind=True, name="shelfrank.embeddings", **RETRY)
def embeddings_rebuild(self, index: str | None = None, chunk_size: int | None = None,  # type: ignore[no-untyped-def]
                       started_by: str = "unknown") -> dict[str, Any]:
    """Re-encode the whole catalogue into a new index in chunks any worker can take; asking again while
    one runs resumes it (its pending chunks are queued again, done ones are not redone)."""
    settings = _settings(self)
    alias = index or settings.default_index
    size = chunk_size or settings.rebuild_chunk_size

    def job(progress: Progress) -> dict[str, Any]:
        client = make_client(settings)
        with session_scope(settings.effective_database_url) as session:
            planned, new = chunked_rebuild.plan(session, client, settings, alias, _cached_encoder(settings), size,
                                                started_by)
            job_id, waiting = planned.id, chunked_rebuild.pending_chunks(session, planned.id)
        for number in waiting:
            embeddings_chunk.apply_async(kwargs={"job_id": job_id, "number": number})
        if not waiting:
            embeddings_finalize.apply_async(kwargs={"job_id": job_id, "started_by": started_by})
        return {"job": job_id, "new": new, "chunks_queued": len(waiting)}

    return _run(self, "embeddings", job, {"index": alias, "chunk_size": size}, started_by)


@celery_app.task(bind=True, name="shelfrank.embeddings_chunk", **RETRY)
def embeddings_chunk(self, job_id: int, number: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One chunk of a rebuild (idempotent: a chunk already done is skipped); the last one queues the finish."""
    settings = _settings(self)
    with session_scope(settings.effective_database_url) as session:
        outcome = chunked_rebuild.encode_chunk(session, make_client(settings), settings, _cached_encoder(settings),
                                               job_id, number)
    if outcome.all_done:  # also when redone after a lost follow-up: finalize is idempotent
        embeddings_finalize.apply_async(kwargs={"job_id": job_id, "started_by": "embeddings"})
    return {"job": job_id, "chunk": number, "documents": outcome.documents, "encoded": outcome.encoded,
            "from_cache": outcome.from_cache, "skipped": outcome.already_done}


@celery_app.task(bind=True, name="shelfrank.embeddings_finalize", **RETRY)
def embeddings_finalize(self, job_id: int, started_by: str = "unknown") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Verify the rebuilt index and move the alias (under the reindex lock: never during another rebuild)."""
    settings = _settings(self)

    def job(progress: Progress) -> dict[str, Any]:
        with session_scope(settings.effective_database_url) as session:
            return chunked_rebuild.finalize(session, make_client(settings), settings, _cached_encoder(settings),
                                            job_id)

    outcome = _run(self, "reindex", job, {"job": job_id, "step": "finalize embeddings rebuild"}, started_by)
    if outcome["status"] == "skipped":  # another catalogue job holds the lock: come back, the chunks are done
        raise self.retry(countdown=30, max_retries=240)
    return outcome


TASKS = {"reindex": reindex, "behaviour-refresh": behaviour_refresh, "events-purge": events_purge, "retrain": retrain_task,
         "cleanup": cleanup_task, "evaluate": evaluate_task, "embeddings": embeddings_rebuild,
         "catalog-sync": catalog_sync}
