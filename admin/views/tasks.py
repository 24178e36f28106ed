"""Tasks: what the workers ran, are running, and why a run failed (task_runs); admins queue a run."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from admin import context
from admin.security import requires
from core.db.models import TaskRun
from core.task_queue import TASK_NAMES, QueueUnavailable, enqueue

blueprint = Blueprint("tasks", __name__)
#: What the console may start: catalogue and model jobs that need no file from the person.
STARTABLE = ("behaviour-refresh", "retrain", "evaluate", "cleanup", "events-purge", "reindex", "embeddings",
             "catalog-sync")


def _page(message: str = "", error: str = "", status: int = 200):  # type: ignore[no-untyped-def]
    runs = list(context.db().scalars(select(TaskRun).order_by(TaskRun.started_at.desc()).limit(100)))
    return render_template("tasks.html", runs=runs, startable=STARTABLE, message=message, error=error), status


@blueprint.get("/tasks")
def index():  # type: ignore[no-untyped-def]
    return _page()


@blueprint.get("/tasks/<int:run_id>")
def show(run_id: int):  # type: ignore[no-untyped-def]
    """One run in full (the list squeezes it into a row): parameters, timings, progress, result, the whole error."""
    run = context.db().get(TaskRun, run_id)
    if run is None:
        abort(404)
    return render_template("task.html", run=run)


@blueprint.post("/tasks/run")
@requires("admin")
def run():  # type: ignore[no-untyped-def]
    name = request.form.get("task", "")
    if name not in STARTABLE or name not in TASK_NAMES:
        return _page(error=f"task: must be one of {', '.join(STARTABLE)}", status=400)
    try:
        task_id = enqueue(context.settings(), name, started_by=f"console:{context.actor()}")
    except QueueUnavailable as exc:
        return _page(error=str(exc), status=503)
    context.audit("task.run", name, {"task_id": task_id})
    context.db().commit()
    return _page(message=f"Queued {name} as task {task_id}; it appears below once a worker starts it.")
