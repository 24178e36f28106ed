"""What every console view shares: settings, a database session per request, the audit helper and
the (lazily built) services the sandbox and previews search with."""

from __future__ import annotations

import threading

from flask import current_app, g, request
from flask_login import current_user
from opensearchpy import OpenSearch
from sqlalchemy.orm import Session, sessionmaker

from core.access import audit as audit_log
from ltr.ranker.serving import storefront_service
from core.db.session import engine_for
from core.opensearch_client import make_client
from core.settings import Settings

_build_lock = threading.Lock()


def settings() -> Settings:
    return current_app.config["SHELFRANK_SETTINGS"]


def db() -> Session:
    """This request's session; views commit what they change, the teardown rolls back the rest."""
    if "db" not in g:
        g.db = sessionmaker(engine_for(settings().effective_database_url), expire_on_commit=False)()
    return g.db


def close_db(_error: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.rollback()
        session.close()


def actor() -> str:
    return current_user.username if current_user.is_authenticated else "anonymous"


def audit(action: str, target: str = "", detail: dict | None = None) -> None:
    """Record a change in this request's transaction (committed with it)."""
    audit_as(actor(), action, target, detail)


def audit_as(who: str, action: str, target: str = "", detail: dict | None = None) -> None:
    audit_log.record(db(), who, action, target, detail, request.remote_addr)


def search_service():  # type: ignore[no-untyped-def]
    """The storefront's own service (live tuning, active model), never recording impressions."""
    service = current_app.extensions.get("shelfrank_search")
    if service is None:
        with _build_lock:
            service = current_app.extensions.get("shelfrank_search")
            if service is None:
                service = storefront_service(settings(), record=False)
                current_app.extensions["shelfrank_search"] = service
    return service


def opensearch() -> OpenSearch:
    client = current_app.extensions.get("shelfrank_opensearch")
    if client is None:
        client = current_app.extensions["shelfrank_opensearch"] = make_client(settings(), storefront=True)
    return client
