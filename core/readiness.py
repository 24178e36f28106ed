"""Whether a service's dependencies answer now: the metadata database and OpenSearch.

Readiness, not liveness: an orchestrator should stop sending shoppers to an API whose node is gone, but
not restart it (it answers 503s with a retry hint meanwhile and recovers by itself), so the compose file's
health checks use the liveness endpoints and load balancers may use this.
"""

from __future__ import annotations

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.db.session import engine_for


def check(database_url: str, client: OpenSearch) -> dict[str, str]:
    """``{"database": ..., "opensearch": ...}``, each ``ok`` or what failed (no secrets in it)."""
    status: dict[str, str] = {}
    try:
        with engine_for(database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        status["database"] = "ok"
    except SQLAlchemyError as exc:
        status["database"] = f"unreachable ({exc.__class__.__name__})"
    try:
        status["opensearch"] = "ok" if client.ping() else "unreachable (no answer to ping)"
    except OpenSearchException as exc:
        status["opensearch"] = f"unreachable ({exc.__class__.__name__})"
    return status


def ready(status: dict[str, str]) -> bool:
    return all(value == "ok" for value in status.values())
