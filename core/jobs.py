"""Long jobs run one at a time per kind, each recorded in ``task_runs``: whoever starts them.

A worker task, a CLI command or a console button all call :func:`run_job`. It takes the kind's
lock in Redis (with an expiry, so a worker that dies mid-run cannot block the schedule forever),
records the run, calls the job, and records how it ended. A second run of a kind already running
is not queued behind it: it is recorded as ``skipped``, naming the run that holds the lock.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import redis

from core.db.models import TaskRun
from core.db.session import session_scope

log = logging.getLogger(__name__)
Progress = Callable[[float], None]  # the job reports its progress, 0..1


@dataclass(frozen=True)
class JobOutcome:
    run_id: int
    status: str  # succeeded | failed | skipped
    result: dict[str, Any] | None
    detail: str


def run_job(kind: str, job: Callable[[Progress], Mapping[str, Any]], *, database_url: str, broker: redis.Redis,
            params: Mapping[str, Any] | None = None, started_by: str = "unknown", task_id: str | None = None,
            lock_ttl_s: float = 3600.0) -> JobOutcome:
    """Run ``job`` under the lock of ``kind`` and record it. If the job raises, the run is recorded as
    failed and the exception propagates (a worker retries transient ones: each attempt is a run)."""
    with session_scope(database_url) as session:
        run = TaskRun(task=kind, status="running", params=dict(params or {}), started_by=started_by, task_id=task_id)
        session.add(run)
        session.flush()
        run_id = run.id
    lock = broker.lock(f"shelfrank:lock:{kind}", timeout=lock_ttl_s, blocking=False)
    if not lock.acquire(token=str(run_id).encode()):
        holder = broker.get(f"shelfrank:lock:{kind}")
        detail = f"skipped: run {holder.decode() if holder else '?'} of {kind} is still running"
        _finish(database_url, run_id, "skipped", detail=detail)
        log.info("%s %s", kind, detail)
        return JobOutcome(run_id, "skipped", None, detail)

    def progress(fraction: float) -> None:
        with session_scope(database_url) as session:
            session.get(TaskRun, run_id).progress = max(0.0, min(1.0, fraction))  # type: ignore[union-attr]
        lock.extend(lock_ttl_s, replace_ttl=True)  # a long job keeps its lock while it makes progress

    try:
        result = dict(job(progress))
    except Exception as exc:
        _finish(database_url, run_id, "failed", error="".join(traceback.format_exception_only(exc)).strip(),
                detail=traceback.format_exc()[-4000:])
        raise
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("the %s lock expired before run %d ended (raise SHELFRANK_TASK_LOCK_TTL_S)", kind, run_id)
    stored = json.dumps(result, default=str)  # JSON-safe (paths, times) for the JSON column and the detail
    _finish(database_url, run_id, "succeeded", result=json.loads(stored), detail=stored[:2000])
    return JobOutcome(run_id, "succeeded", result, stored[:2000])


def _finish(database_url: str, run_id: int, status: str, *, result: dict[str, Any] | None = None,
            error: str | None = None, detail: str = "") -> None:
    with session_scope(database_url) as session:
        run = session.get(TaskRun, run_id)
        assert run is not None
        run.status, run.result, run.error, run.detail = status, result, error, detail
        run.finished_at = datetime.now(timezone.utc)
        if status == "succeeded":
            run.progress = 1.0
