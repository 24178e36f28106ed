"""The production server of the storefront API: gunicorn, threaded workers, clean shutdown.

``shelfrank api serve`` (and the compose file) run this. Each worker process builds its own
search service right after it starts (encoder loaded, a query encoded), so the first shopper
of a fresh worker does not pay for model loading; the app is not preloaded in the master
because torch's thread pools do not survive a fork. On shutdown each worker finishes its
requests and then writes the impressions its recorder still buffers.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from api.app import create_app, shutdown, warm_up
from core.settings import Settings
from encoders.factory import prepare_query_encoder
from storefront.factory import prepare_live_query_encoder

log = logging.getLogger(__name__)


def _post_worker_init(worker: Any) -> None:
    warm_up(worker.wsgi)


def _worker_exit(_server: Any, worker: Any) -> None:
    app = getattr(worker, "wsgi", None)
    if app is not None:
        shutdown(app)


class StorefrontServer(BaseApplication):
    """gunicorn configured from :class:`~core.settings.Settings` rather than a config file."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.settings, self.host, self.port = settings, host, port
        super().__init__()

    def options(self) -> dict[str, Any]:
        return {
            "bind": f"{self.host}:{self.port}",
            "workers": self.settings.api_workers,
            "threads": self.settings.api_threads,
            "worker_class": "gthread",
            "timeout": max(1, round(self.settings.api_timeout_s)),
            "graceful_timeout": max(1, round(self.settings.api_timeout_s)),
            "keepalive": 5,
            "preload_app": False,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "shelfrank-api",
            "control_socket_disable": True,  # no runtime-management socket in the user's home
            "post_worker_init": _post_worker_init,
            "worker_exit": _worker_exit,
        }

    def load_config(self) -> None:
        for key, value in self.options().items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app(self.settings)


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the API under gunicorn until SIGTERM or SIGINT (then shut down cleanly)."""
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the registry check's schema look-ups
    # opensearch-py logs every request at INFO and every failed one with a traceback: per search, that
    # is CPU taken from shoppers, and a flood while the node restarts. The API logs what matters itself.
    logging.getLogger("opensearch").setLevel(logging.ERROR)
    prepare_query_encoder(settings)  # exported once, before the workers start (they only load it)
    prepare_live_query_encoder(settings)  # and the live index's model, when that is another one
    StorefrontServer(settings, host, port).run()
