"""``POST /api/v1/events`` through Flask's test client, with a real SQLite database (no OpenSearch needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from api.app import create_app
from core.db import migrate
from core.settings import Settings


def make_client(tmp_path: Path, migrated: bool = True, **overrides) -> FlaskClient:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'api.db'}"
    if migrated:
        migrate.upgrade(url)
    return create_app(Settings(database_url=url, **overrides)).test_client()


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
