"""The console under gunicorn: a few threaded workers (the console is for a handful of people)."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from admin.app import create_app
from core.settings import Settings


class ConsoleServer(BaseApplication):
    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings, self.host, self.port = settings, host, port
        super().__init__()

    def load_config(self) -> None:
        options: dict[str, Any] = {
            "bind": f"{self.host}:{self.port}", "workers": self.settings.admin_workers, "threads": 4,
            "worker_class": "gthread", "timeout": 120,  # a tuning preview or a promotion gate searches a while
            "graceful_timeout": 30, "preload_app": False, "accesslog": "-", "errorlog": "-", "loglevel": "info",
            "proc_name": "shelfrank-admin", "control_socket_disable": True,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app(self.settings)


def serve(settings: Settings, host: str, port: int) -> None:
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    ConsoleServer(settings, host, port).run()
