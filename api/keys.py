"""Shop API keys on the HTTP API's write endpoints: ``Authorization: Bearer KEY`` (or ``X-Api-Key``)."""

from __future__ import annotations

from flask import current_app, jsonify, request

from core.access.api_keys import verify_key
from core.db.session import session_scope
from core.settings import Settings


def presented_key() -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.headers.get("X-Api-Key", "").strip()


def require_key(database_url: str):  # type: ignore[no-untyped-def]
    """None when the request carries a live key (or keys are off), else the 401 response to send."""
    settings: Settings = current_app.config["SHELFRANK_SETTINGS"]
    if not settings.api_require_key:
        return None
    key = presented_key()
    if not key:
        message = "this endpoint needs a shop API key: send 'Authorization: Bearer KEY' (create one in the console " \
                  "or with `shelfrank admin create-key NAME`)"
    else:
        with session_scope(database_url) as session:
            if verify_key(session, key) is not None:
                return None
        message = "the API key is unknown or revoked"
    response = jsonify(error=message, field="Authorization")
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="shelfrank"'
    return response
