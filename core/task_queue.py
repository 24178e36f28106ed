"""Queue a worker job by name from any face, without importing the workers' code (a face itself).

The names are the Celery task names the workers register (workers/tasks.py); a message sent here is
exactly what ``shelfrank tasks run`` sends.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from celery import Celery

from core.settings import Settings

#: The job names people use (CLI, console) and the task each one queues.
TASK_NAMES: dict[str, str] = {
    "reindex": "shelfrank.reindex",
    "behaviour-refresh": "shelfrank.behaviour_refresh",
    "events-purge": "shelfrank.events_purge",
    "retrain": "shelfrank.retrain",
    "cleanup": "shelfrank.cleanup",
    "evaluate": "shelfrank.evaluate",
    "embeddings": "shelfrank.embeddings",
    "catalog-sync": "shelfrank.catalog_sync",
}


class QueueUnavailable(RuntimeError):
    """The broker cannot take the message (Redis down or unreachable): nothing was queued."""


@lru_cache(maxsize=4)
def _client(broker_url: str) -> Celery:
    client = Celery("shelfrank-client", broker=broker_url)  # no result backend: queueing only
    client.conf.update(task_serializer="json", accept_content=["json"],
                       broker_connection_retry_on_startup=False, broker_connection_max_retries=2)
    return client


def enqueue(settings: Settings, name: str, started_by: str, **kwargs: object) -> str:
    """Queue job ``name`` with its arguments; returns the task id (shown in task_runs once it starts)."""
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; one of: {', '.join(TASK_NAMES)}")
    try:
        result = _client(settings.broker_url).send_task(
            TASK_NAMES[name], kwargs={**kwargs, "started_by": started_by},
            retry=True, retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5})
    except Exception as exc:  # noqa: BLE001 - kombu raises several kinds; the person needs one message
        raise QueueUnavailable(f"the task queue at {_without_password(settings.broker_url)} is unreachable "
                               f"({exc.__class__.__name__}); start it with: shelfrank redis start") from exc
    return result.id


def _without_password(url: str) -> str:
    """The broker URL as a person may see it (a Redis password in it stays out of messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit(parts._replace(netloc=f"***@{host}" + (f":{parts.port}" if parts.port else "")))
