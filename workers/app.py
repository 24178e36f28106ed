"""The one Celery app, configured from the settings object.

Tasks are acknowledged after they finish (``acks_late``) and given back to the broker if their
worker dies (``reject_on_worker_lost``), so a killed worker's task is run again by another, not
lost; every task is idempotent for that reason. Each worker process takes one task at a time.
"""

from __future__ import annotations

from celery import Celery
from celery.schedules import crontab

from core.settings import Settings, get_settings
from core.task_queue import TASK_NAMES


def beat_schedule(settings: Settings) -> dict[str, dict]:  # type: ignore[type-arg]
    """What beat starts, and when (``shelfrank tasks schedule`` prints it)."""
    schedule: dict[str, dict] = {}  # type: ignore[type-arg]
    if settings.schedule_behaviour_minutes > 0:
        schedule["behaviour-refresh"] = {"task": TASK_NAMES["behaviour-refresh"],
                                         "schedule": settings.schedule_behaviour_minutes * 60,
                                         "kwargs": {"started_by": "beat"}}
    if settings.schedule_sync_minutes > 0:
        schedule["catalog-sync"] = {"task": TASK_NAMES["catalog-sync"], "schedule": settings.schedule_sync_minutes * 60,
                                    "kwargs": {"started_by": "beat"}}
    if settings.schedule_retrain_hour >= 0:
        schedule["retrain"] = {"task": TASK_NAMES["retrain"], "schedule": crontab(minute=0, hour=settings.schedule_retrain_hour),
                               "kwargs": {"started_by": "beat"}}
    if settings.schedule_purge_hour >= 0:
        schedule["events-purge"] = {"task": TASK_NAMES["events-purge"],
                                    "schedule": crontab(minute=0, hour=settings.schedule_purge_hour),
                                    "kwargs": {"started_by": "beat"}}
    if settings.schedule_cleanup_hour >= 0:
        schedule["cleanup"] = {"task": TASK_NAMES["cleanup"],
                               "schedule": crontab(minute=30, hour=settings.schedule_cleanup_hour),
                               "kwargs": {"started_by": "beat"}}
    if settings.schedule_evaluate_hour >= 0:
        schedule["evaluate"] = {"task": TASK_NAMES["evaluate"],
                                "schedule": crontab(minute=0, hour=settings.schedule_evaluate_hour),
                                "kwargs": {"started_by": "beat"}}
    return schedule


def make_celery(settings: Settings) -> Celery:
    app = Celery("shelfrank", broker=settings.broker_url, backend=settings.broker_url, include=["workers.tasks"])
    app.shelfrank_settings = settings  # what every task hands to the functions it calls
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 24 * 3600,
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a broker that went away is waited for, not given up on
        worker_concurrency=settings.worker_concurrency,
        beat_schedule=beat_schedule(settings),
        timezone="UTC",
        broker_transport_options={"visibility_timeout": settings.worker_visibility_timeout_s},
        result_backend_transport_options={"visibility_timeout": settings.worker_visibility_timeout_s},
    )
    return app


celery_app = make_celery(get_settings())
