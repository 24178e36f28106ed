"""``POST /api/v1/events`` through Flask's test client, with a real SQLite database (no OpenSearch needed)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from core.access import api_keys
from core.db import migrate
from core.db.models import ApiKey, ProcessedEvent
from core.db.session import session_scope
from core.settings import Settings


def make_client(tmp_path: Path, migrated: bool = True, keyed: bool = True, **overrides) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A test client whose requests carry a live shop API key (unless ``keyed`` is False)."""
    url = f"sqlite:///{tmp_path / 'api.db'}"
    client = create_app(Settings(database_url=url, state_dir=tmp_path, **overrides)).test_client()
    if migrated:
        migrate.upgrade(url)
        if keyed:
            with session_scope(url) as session:
                client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + api_keys.create_key(session, "t", "test").key
    return client


SEARCH = {"event_id": "e1", "type": "search", "ts": "2026-01-31T12:00:00Z", "search_id": "s1", "user_id": "u",
          "session_id": "x", "query": "drill", "results": ["a", "b"]}
CLICK = {"event_id": "e2", "type": "click", "ts": "2026-01-31T12:00:05Z", "search_id": "s1", "user_id": "u",
         "product_id": "b"}


def test_partial_acceptance_names_each_bad_event(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    response = client.post("/api/v1/events", json=[SEARCH, {"event_id": "bad", "type": "click"}, CLICK])
    assert response.status_code == 200
    body = response.get_json()
    assert (body["accepted"], body["duplicates"], body["unattributed"]) == (2, 0, 0)
    assert body["rejected"] == [{"index": 1, "event_id": "bad", "field": "ts", "error": "is required"}]


def test_a_retried_batch_is_acknowledged_without_storing_twice(tmp_path: Path) -> None:
    client = make_client(tmp_path)
    assert client.post("/api/v1/events", json={"events": [SEARCH, CLICK]}).get_json()["accepted"] == 2
    again = client.post("/api/v1/events", json={"events": [SEARCH, CLICK]}).get_json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)


@pytest.mark.parametrize("body", [{"query": "drill"}, "plain text", 42])
def test_a_body_that_is_not_a_batch_is_a_400(tmp_path: Path, body) -> None:  # type: ignore[no-untyped-def]
    client = make_client(tmp_path)
    response = client.post("/api/v1/events", json=body) if not isinstance(body, str) else \
        client.post("/api/v1/events", data=body)
    assert response.status_code == 400 and response.get_json()["field"] == "body"


def test_oversized_batches_are_refused_whole(tmp_path: Path) -> None:
    client = make_client(tmp_path, events_max_batch=1)
    response = client.post("/api/v1/events", json=[SEARCH, CLICK])
    assert response.status_code == 413 and "at most 1 events" in response.get_json()["error"]


def test_an_unmigrated_database_is_a_503_that_says_what_to_run(tmp_path: Path) -> None:
    response = make_client(tmp_path, migrated=False).post("/api/v1/events", json=[CLICK])
    assert response.status_code == 503 and "shelfrank db upgrade" in response.get_json()["error"]


def test_events_need_a_live_shop_api_key(tmp_path: Path) -> None:
    """Without a key, with a wrong one or a revoked one, nothing is stored; with a live one it is."""
    client = make_client(tmp_path, keyed=False)
    url = f"sqlite:///{tmp_path / 'api.db'}"
    missing = client.post("/api/v1/events", json=[SEARCH])
    assert missing.status_code == 401 and "shop API key" in missing.get_json()["error"]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.post("/api/v1/events", json=[SEARCH], headers={"Authorization": "Bearer srk_not-a-key"})
    assert wrong.status_code == 401 and "unknown or revoked" in wrong.get_json()["error"]
    with session_scope(url) as session:
        issued = api_keys.create_key(session, "shop frontend", by="test")
        stored = session.get(ApiKey, issued.record.id)
        assert stored.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()  # only the digest is stored
        assert issued.key not in (stored.prefix, stored.name)
    accepted = client.post("/api/v1/events", json=[SEARCH], headers={"X-Api-Key": issued.key})
    assert accepted.status_code == 200 and accepted.get_json()["accepted"] == 1
    with session_scope(url) as session:
        api_keys.revoke_key(session, issued.record.id, by="test")
    revoked = client.post("/api/v1/events", json=[CLICK], headers={"Authorization": f"Bearer {issued.key}"})
    assert revoked.status_code == 401
    with session_scope(url) as session:
        assert session.query(ProcessedEvent).count() == 1


def test_search_stays_open_without_a_key(tmp_path: Path) -> None:
    """Only writes need a key: a search without one is not refused for want of it (here the node is absent,
    so it is a 503, never a 401)."""
    client = make_client(tmp_path, keyed=False, opensearch_url="http://127.0.0.1:9", search_timeout_s=0.5)
    response = client.post("/api/v1/search", json={"query": "drill"})
    assert response.status_code == 503 and "unavailable" in response.get_json()["error"]


def test_readiness_names_the_dependency_that_does_not_answer(tmp_path: Path) -> None:
    """Liveness stays 200; readiness is a 503 with a retry hint naming the node that is not there."""
    client = make_client(tmp_path, opensearch_url="http://127.0.0.1:9", search_timeout_s=0.5)  # nothing listens
    assert client.get("/api/v1/health").get_json() == {"status": "ok"}
    response = client.get("/api/v1/ready")
    body = response.get_json()
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert body["database"] == "ok" and body["opensearch"].startswith("unreachable") and body["status"] == "unavailable"
