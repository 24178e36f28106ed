"""``shelfrank redis ...``, ``shelfrank worker``, ``shelfrank beat`` and ``shelfrank tasks ...``.

Thin faces over :mod:`workers` and :mod:`core.jobs`: a task started here runs the same code as the
worker's schedule and the matching CLI command.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import typer
from sqlalchemy import select

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.models import TaskRun
from core.db.session import session_scope
from core.redis_server import LocalRedis, RedisUnavailable
from core.settings import get_settings

redis_app = typer.Typer(help="The local Redis (broker and job locks) for development, tests and the demo; "
                        "production uses docker-compose.", no_args_is_help=True)
tasks_app = typer.Typer(help="Background jobs: run one now, see recent runs, the schedule, cancel.",
                        no_args_is_help=True)


@redis_app.command("start")
@user_errors
def redis_start() -> None:
    """Start redis-server on SHELFRANK_BROKER_URL's port (127.0.0.1; data and log in the state folder)."""
    try:
        status = LocalRedis(get_settings()).start()
    except RedisUnavailable as exc:
        raise fail(str(exc)) from None
    typer.echo(f"redis {status.version} at {status.url} (pid {status.pid or 'not started by shelfrank'})")


@redis_app.command("stop")
@user_errors
def redis_stop() -> None:
    """Stop the Redis started by ``shelfrank redis start`` (its data is kept)."""
    typer.echo("stopped" if LocalRedis(get_settings()).stop() else "no Redis started by shelfrank is running")


@redis_app.command("status")
@user_errors
def redis_status() -> None:
    """Whether the broker answers; exit code 1 when it does not."""
    status = LocalRedis(get_settings()).status()
    typer.echo(f"{status.url}: {'running ' + str(status.version) if status.running else 'not running'}"
               + (f" (pid {status.pid})" if status.pid else ""))
    if not status.running:
        raise typer.Exit(1)


@user_errors
def worker(concurrency: int = typer.Option(None, help="Processes (default: SHELFRANK_WORKER_CONCURRENCY)."),
           loglevel: str = typer.Option("INFO", help="Celery log level.")) -> None:
    """Run a Celery worker: it takes the queued tasks (embedding rebuilds, behaviour refresh, purges...)."""
    from workers.app import celery_app

    settings = get_settings()
    celery_app.worker_main(["worker", f"--loglevel={loglevel}",
                            f"--concurrency={concurrency or settings.worker_concurrency}"])


@user_errors
def beat(loglevel: str = typer.Option("INFO", help="Celery log level.")) -> None:
    """Run the scheduler that queues the jobs of ``shelfrank tasks schedule`` (one beat per deployment)."""
    from workers.app import celery_app

    settings = get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--loglevel={loglevel}", f"--schedule={settings.state_dir / 'celerybeat-schedule'}"])


@tasks_app.command("run")
@user_errors
def run(name: str = typer.Argument(..., help="reindex, embeddings, catalog-sync, behaviour-refresh, retrain, evaluate, "
                                  "cleanup or events-purge."),
        index: str = typer.Option(None, "--index", help="Catalogue alias, for catalogue jobs."),
        source: Path = typer.Option(None, "--from", help="reindex: rebuild from this catalogue file (default: the "
                                    "live index's documents)."),
        fmt: str = typer.Option("csv", "--format", help="reindex --from: the file's format."),
        days: int = typer.Option(None, "--days", help="events-purge: days kept."),
        chunk_size: int = typer.Option(None, "--chunk-size", help="embeddings: products per chunk (default: "
                                       "SHELFRANK_REBUILD_CHUNK_SIZE)."),
        wait: bool = typer.Option(False, "--wait", help="Wait for the run and print how it ended."),
        timeout: float = typer.Option(3600.0, help="With --wait: seconds to wait at most.")) -> None:
    """Queue a job for the workers now (recorded as started by you)."""
    from workers.tasks import TASKS

    if name not in TASKS:
        raise fail(f"unknown task {name!r}; one of: {', '.join(TASKS)}")
    kwargs: dict = {"started_by": f"cli:{getpass.getuser()}"}  # type: ignore[type-arg]
    if name in ("behaviour-refresh", "reindex", "embeddings", "cleanup", "evaluate", "catalog-sync") and index:
        kwargs["index"] = index
    if name == "embeddings" and chunk_size:
        kwargs["chunk_size"] = chunk_size
    if name == "reindex" and source:
        kwargs.update(source=str(source.resolve()), fmt=fmt)
    if name == "events-purge" and days:
        kwargs["days"] = days
    result = TASKS[name].apply_async(kwargs=kwargs)
    typer.echo(f"queued {name}: task {result.id}")
    if wait:
        outcome = result.get(timeout=timeout, propagate=False)
        if result.failed():
            raise fail(f"{name} failed: {outcome}")
        typer.echo(json.dumps(outcome, default=str))


@tasks_app.command("status")
@user_errors
def status(limit: int = typer.Option(20, help="Most recent runs shown."),
           as_json: bool = typer.Option(False, "--json", help="One JSON object per run.")) -> None:
    """Recent job runs (from the task_runs table): status, progress, who started them, what they did."""
    url = get_settings().effective_database_url
    migrate.ensure_current(url)
    with session_scope(url) as session:
        runs = session.scalars(select(TaskRun).order_by(TaskRun.id.desc()).limit(limit)).all()
        rows = [{"id": r.id, "task": r.task, "status": r.status, "started_by": r.started_by,
                 "started_at": r.started_at.isoformat(), "finished_at": r.finished_at and r.finished_at.isoformat(),
                 "progress": r.progress, "result": r.result, "error": r.error, "task_id": r.task_id,
                 "detail": r.detail if r.status == "skipped" else None} for r in runs]
    for row in rows:
        if as_json:
            typer.echo(json.dumps(row))
        else:
            what = row["error"] or row["detail"] or json.dumps(row["result"]) if row["status"] != "running" else (
                f"{100 * (row['progress'] or 0):.0f}%")
            typer.echo(f"{row['id']:5} {row['task']:18} {row['status']:9} {row['started_at'][:19]} "
                       f"{row['started_by']:14} {what}")


@tasks_app.command("schedule")
@user_errors
def schedule() -> None:
    """What ``shelfrank beat`` queues, and when (from settings)."""
    from workers.app import beat_schedule

    for name, entry in beat_schedule(get_settings()).items():
        every = entry["schedule"]
        when = f"every {every / 60:.0f} min" if isinstance(every, (int, float)) else f"cron {every}"
        typer.echo(f"{name:20} {entry['task']:28} {when}")


@tasks_app.command("cancel")
@user_errors
def cancel(task_id: str = typer.Argument(..., help="The task id `tasks run` printed (or `tasks status` shows).")) -> None:
    """Revoke a queued task, or stop a running one (its run is then recorded as failed by the worker)."""
    from workers.app import celery_app

    celery_app.control.revoke(task_id, terminate=True)
    typer.echo(f"revoked {task_id}")
