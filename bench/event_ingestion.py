"""Event ingestion rate: the events API and the store against a plain bulk insert of the same rows.

Usage: .venv/bin/python bench/event_ingestion.py [--sessions 20000] [--batch-size 1000] [--database-url URL]

Generates a realistic stream (one search event with 10 results per session, a click on ~1.5 of them,
some carts and purchases) and stores it three ways into fresh databases, in the same process:
  baseline  SQLAlchemy Core executemany of the already-shaped rows (no validation, no idempotency);
  store     EventStore.ingest: validation, pseudonymisation, ledger check, attribution, users;
  http      POST /api/v1/events over a real threaded HTTP server (JSON encoding and Flask on top).
It prints events/s for each and the ratio to the baseline. The default database is SQLite in a
temporary folder; pass --database-url (PostgreSQL...) to measure a server database (it must be empty).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import insert
from werkzeug.serving import make_server

from api import client as api_client
from api.app import create_app
from core.db import migrate
from core.db.models import Impression, Interaction, Search
from core.access import api_keys
from core.db.session import session_scope
from core.settings import get_settings
from ltr.events.store import EventStore


def event_stream(sessions: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    start = datetime.now(timezone.utc) - timedelta(days=7)
    events: list[dict] = []
    for s in range(sessions):
        ts = start + timedelta(seconds=s * 20)
        results = [f"p{int(x)}" for x in rng.choice(50_000, 10, replace=False)]
        search_id = f"b-{s}"
        user = f"user-{int(rng.integers(5000))}"
        events.append({"event_id": f"{search_id}-s", "type": "search", "ts": ts.isoformat(), "search_id": search_id,
                       "user_id": user, "session_id": f"sess-{s}", "query": f"query {int(rng.integers(3000))}",
                       "results": results})
        for i in np.flatnonzero(rng.random(10) < 0.15):
            base = {"search_id": search_id, "user_id": user, "product_id": results[i],
                    "ts": (ts + timedelta(seconds=5)).isoformat()}
            events.append({"event_id": f"{search_id}-c{i}", "type": "click", **base})
            if rng.random() < 0.2:
                events.append({"event_id": f"{search_id}-a{i}", "type": "add_to_cart", **base})
    return events


def fresh_db(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}.db"
    migrate.upgrade(url)
    return url


def baseline(url: str, events: list[dict], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(events), batch):
        chunk = events[i:i + batch]
        with session_scope(url) as session:
            searches = [e for e in chunk if e["type"] == "search"]
            if searches:
                session.execute(insert(Search), [
                    {"search_id": e["search_id"], "query": e["query"], "normalized_query": e["query"],
                     "user_id": e["user_id"], "session_id": e["session_id"], "config": "external",
                     "source": "events", "created_at": datetime.fromisoformat(e["ts"])} for e in searches])
                session.execute(insert(Impression), [
                    {"search_id": e["search_id"], "product_id": p, "position": k + 1, "page": 1}
                    for e in searches for k, p in enumerate(e["results"])])
            actions = [e for e in chunk if e["type"] != "search"]
            if actions:
                session.execute(insert(Interaction), [
                    {"event_id": e["event_id"], "type": e["type"], "search_id": e["search_id"],
                     "user_id": e["user_id"], "product_id": e["product_id"],
                     "occurred_at": datetime.fromisoformat(e["ts"]), "received_at": datetime.now(timezone.utc)}
                    for e in actions])
    return time.perf_counter() - started


def store(url: str, events: list[dict], batch: int) -> float:
    ingest = EventStore("bench-key")
    started = time.perf_counter()
    for i in range(0, len(events), batch):
        with session_scope(url) as session:
            report = ingest.ingest(session, events[i:i + batch])
            assert not report.rejected, report.rejected[:3]
    return time.perf_counter() - started


def http(url: str, events: list[dict], batch: int) -> float:
    settings = get_settings().model_copy(update={"database_url": url})
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    with session_scope(url) as session:
        key = api_keys.create_key(session, "event ingestion bench", by="bench").key
    try:
        started = time.perf_counter()
        for i in range(0, len(events), batch):
            report = api_client.send_events(base, events[i:i + batch], api_key=key, timeout=120)
            assert not report["rejected"], report["rejected"][:3]
        return time.perf_counter() - started
    finally:
        server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    events = event_stream(args.sessions)
    impressions = 10 * args.sessions
    print(f"{len(events)} events ({args.sessions} searches with {impressions} impressions), "
          f"batches of {args.batch_size}, SQLite")
    with tempfile.TemporaryDirectory() as folder:
        timings = {name: fn(fresh_db(Path(folder), name), events, args.batch_size)
                   for name, fn in (("baseline", baseline), ("store", store), ("http", http))}
    for name, seconds in timings.items():
        print(f"  {name:9} {len(events) / seconds:9.0f} events/s  {impressions / seconds:9.0f} impressions/s  "
              f"({seconds:.2f}s, {timings['baseline'] / seconds:.2f}x baseline speed)")


if __name__ == "__main__":
    main()
