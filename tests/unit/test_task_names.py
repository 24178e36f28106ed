"""The names other faces queue jobs by are the tasks the workers register (a typo would queue nothing)."""

from __future__ import annotations

from core.task_queue import TASK_NAMES
from core.settings import Settings
from workers.app import beat_schedule
from workers.tasks import TASKS


def test_every_queueable_name_is_a_registered_worker_task() -> None:
    assert set(TASK_NAMES) == set(TASKS)
    for name, task in TASKS.items():
        assert TASK_NAMES[name] == task.name


def test_the_beat_schedule_queues_registered_tasks() -> None:
    scheduled = {entry["task"] for entry in beat_schedule(Settings()).values()}
    assert scheduled and scheduled <= {task.name for task in TASKS.values()}
