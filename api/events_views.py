"""``POST /api/v1/events``: a batch of shopper events, accepted event by event.

The response always says what happened to each part of the batch (accepted, duplicates, rejected
with index and reason), so a shop's sender can retry safely: stored event ids are never stored twice.
Events steer the next model, so only a sender holding a shop API key may post them.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from api.keys import require_key
from core.db import migrate
from core.db.session import session_scope
from core.secrets import pseudonym_key
from core.settings import Settings
from ltr.events.store import EventStore

events_blueprint = Blueprint("events", __name__)


def _database_url() -> str:
    settings: Settings = current_app.config["SHELFRANK_SETTINGS"]
    url = settings.effective_database_url
    if not current_app.extensions.get("shelfrank_events_db_checked"):
        migrate.ensure_current(url)
        current_app.extensions["shelfrank_events_db_checked"] = True
    return url


@events_blueprint.post("/events")
def post_events():  # type: ignore[no-untyped-def]
    settings: Settings = current_app.config["SHELFRANK_SETTINGS"]
    try:
        url = _database_url()
    except migrate.DatabaseNotReady as exc:
        return jsonify(error=str(exc)), 503
    refused = require_key(url)
    if refused is not None:
        return refused
    payload = request.get_json(silent=True)
    events = payload.get("events") if isinstance(payload, dict) else payload
    if not isinstance(events, list):
        return jsonify(error="body: must be a JSON array of events or an object with an 'events' array",
                       field="body"), 400
    if len(events) > settings.events_max_batch:
        return jsonify(error=f"events: at most {settings.events_max_batch} events per batch (got {len(events)})",
                       field="events"), 413
    with session_scope(url) as session:
        report = EventStore(pseudonym_key(settings)).ingest(session, events)
    return jsonify(report.as_dict())
