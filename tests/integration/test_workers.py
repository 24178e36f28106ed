"""Workers for real: a Redis started by the project, a Celery worker process, the real node and a SQLite file.

A task queued from here runs in the worker process and is recorded in ``task_runs``; a job whose kind is
already running is skipped naming the holder; a lock left by a dead worker expires; a failing job is
recorded with its error and leaves its lock free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from opensearchpy import OpenSearch
from sqlalchemy import select

from core.db import migrate
from core.db.models import TaskRun
from core.db.session import session_scope
from core.jobs import run_job
from core.redis_server import LocalRedis
from core.settings import Settings
from indexer.segments import segments_per_shard
from ltr.events.store import EventStore
from tests.integration.test_storefront_search import CATALOGUE
from workers.app import make_celery

pytestmark = pytest.mark.integration
TEST_DB = 15  # the tests' own Redis database: queues and locks of a developer's worker are not touched


@pytest.fixture(scope="module")
def broker_url(settings: Settings) -> Iterator[str]:
    local = LocalRedis(settings)
    started_here = not local.status().running
    local.start()
    base = settings.broker_url.rsplit("/", 1)[0]
    url = f"{base}/{TEST_DB}"
    redis.Redis.from_url(url).flushdb()
    yield url
    if started_here and not os.environ.get("SHELFRANK_KEEP_NODE"):
        local.stop()


@pytest.fixture
def broker(broker_url: str) -> redis.Redis:
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    return client


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    migrate.upgrade(url)
    return url


def runs(database: str) -> list[TaskRun]:
    with session_scope(database) as session:
        return list(session.scalars(select(TaskRun).order_by(TaskRun.id)))


def test_a_kind_runs_once_at_a_time_and_the_second_run_is_skipped_naming_the_holder(database: str,
                                                                                   broker: redis.Redis) -> None:
    inside: list[str] = []

    def job(progress):  # type: ignore[no-untyped-def]
        progress(0.5)
        second = run_job("retrain", lambda _p: {"never": 1}, database_url=database, broker=broker,
                         started_by="beat")
        inside.append(second.status)
        return {"trees": 42}

    first = run_job("retrain", job, database_url=database, broker=broker, params={"days": 28}, started_by="cli:test")
    assert first.status == "succeeded" and first.result == {"trees": 42} and inside == ["skipped"]
    stored = runs(database)
    assert [(r.task, r.status, r.started_by) for r in stored] == [
        ("retrain", "succeeded", "cli:test"), ("retrain", "skipped", "beat")]
    assert stored[1].detail == f"skipped: run {first.run_id} of retrain is still running"
    assert stored[0].progress == 1.0 and stored[0].params == {"days": 28} and stored[0].finished_at is not None
    assert run_job("retrain", lambda _p: {}, database_url=database, broker=broker).status == "succeeded"  # freed


def test_a_dead_workers_lock_expires_and_a_failure_is_recorded(database: str, broker: redis.Redis) -> None:
    broker.set("shelfrank:lock:reindex", b"77", px=300)  # a worker killed while holding it
    assert run_job("reindex", lambda _p: {}, database_url=database, broker=broker).status == "skipped"
    time.sleep(0.4)

    def broken(progress):  # type: ignore[no-untyped-def]
        raise ValueError("catalogue row 3: price 'cheap' is not a number")

    with pytest.raises(ValueError, match="price 'cheap'"):
        run_job("reindex", broken, database_url=database, broker=broker)
    failed = runs(database)[-1]
    assert failed.status == "failed" and "price 'cheap' is not a number" in failed.error
    assert "Traceback" in failed.detail and broker.get("shelfrank:lock:reindex") is None  # the lock is free again


@pytest.fixture
def worker(broker_url: str, database: str, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:  # type: ignore[type-arg]
    started: list[subprocess.Popen] = []  # type: ignore[type-arg]

    def start(concurrency: int = 1, **env: str) -> subprocess.Popen:  # type: ignore[type-arg]
        """A worker in its own process group, so a test can kill it with its pool children, as a crash would."""
        log = (tmp_path / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "shelfrank"), "worker", "--concurrency", str(concurrency)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "SHELFRANK_BROKER_URL": broker_url, "SHELFRANK_DATABASE_URL": database, **env})
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_behaviour_refresh_runs_in_a_worker_process_and_is_recorded(
        build_catalogue: Callable[..., str], os_client: OpenSearch, settings: Settings, broker_url: str,
        database: str, worker: Callable[..., subprocess.Popen]) -> None:  # type: ignore[type-arg]
    alias = build_catalogue("test-workers-catalogue", CATALOGUE)
    now = datetime.now(timezone.utc)
    ts = (now - timedelta(hours=2)).isoformat()
    with session_scope(database) as session:
        report = EventStore("key").ingest(session, [
            {"event_id": "w1", "type": "search", "search_id": "ws1", "query": "drill", "results": ["d1", "d2", "d3"],
             "ts": ts},
            {"event_id": "w2", "type": "click", "search_id": "ws1", "product_id": "d2", "ts": ts},
            {"event_id": "w3", "type": "purchase", "search_id": "ws1", "product_id": "d2", "ts": ts}])
        assert report.accepted == 3
    worker(SHELFRANK_DEFAULT_INDEX=alias, SHELFRANK_INDEX_COMPACT_SEGMENTS="1")  # merge whatever the writes leave
    app = make_celery(settings.model_copy(update={"broker_url": broker_url}))
    result = app.send_task("shelfrank.behaviour_refresh", kwargs={"started_by": "test"})
    outcome = result.get(timeout=180)
    assert outcome["status"] == "succeeded" and outcome["result"]["updated"] >= 3
    # The rewrites' segments merged back, as the hourly refresh does (unless Lucene's own policy already had).
    compaction = outcome["result"]["compaction"]
    assert compaction["error"] is None and compaction["index"] == os_client.indices.get_alias(name=alias).popitem()[0]
    assert compaction["after"] == 1 if compaction["before"] > 1 else compaction["after"] is None
    assert segments_per_shard(os_client, compaction["index"]) == 1
    (run,) = runs(database)
    assert (run.task, run.status, run.started_by, run.task_id) == ("behaviour", "succeeded", "test", result.id)
    assert run.params == {"index": alias}
    document = os_client.get(index=alias, id="d2")["_source"]
    others = os_client.get(index=alias, id="d1")["_source"]
    assert document["behaviour_purchase_rate"] > others.get("behaviour_purchase_rate", 0.0)


def test_live_search_keeps_answering_through_a_worker_driven_rebuild(
        build_catalogue: Callable[..., str], os_client: OpenSearch, settings: Settings, bert_encoder,  # type: ignore[no-untyped-def]
        broker_url: str, database: str, worker: Callable[..., subprocess.Popen], tmp_path: Path) -> None:  # type: ignore[type-arg]
    import threading

    from encoders.cache import CachedEncoder, EmbeddingCache, QueryVectorCache
    from indexer.versions import live_index
    from storefront.request import SearchRequest
    from storefront.retrieval import default_configs
    from storefront.service import SearchService

    # The catalogue is built through the embedding cache the worker will read, so its rebuild must re-encode
    # nothing (whatever earlier runs left in the shared cache).
    cache = tmp_path / "cache"
    alias = build_catalogue("test-workers-rebuild", CATALOGUE,
                            CachedEncoder(bert_encoder, EmbeddingCache(cache / "embeddings.sqlite")))
    before = live_index(os_client, alias)
    worker(SHELFRANK_CACHE_DIR=str(cache))
    service = SearchService(os_client, alias, QueryVectorCache(bert_encoder), default_configs(candidates=20),
                            "hybrid-minmax")
    done, failures, answered = threading.Event(), [], [0]
    lock = threading.Lock()

    def shopper(i: int) -> None:
        queries = ["cordless drill", "paint", "outdoor lights", "screwdriver"]
        while not done.is_set():
            try:
                result = service.search(SearchRequest(query=queries[i % 4]), record=False)
                ok = bool(result.results)
            except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                ok, result = False, exc
            with lock:
                answered[0] += 1
                if not ok:
                    failures.append(repr(result))

    shoppers = [threading.Thread(target=shopper, args=(i,)) for i in range(16)]
    for thread in shoppers:
        thread.start()
    try:
        app = make_celery(settings.model_copy(update={"broker_url": broker_url}))
        outcome = app.send_task("shelfrank.reindex", kwargs={"index": alias, "started_by": "test"}).get(timeout=300)
    finally:
        done.set()
        for thread in shoppers:
            thread.join()
    assert outcome["status"] == "succeeded" and outcome["result"]["documents"] == len(CATALOGUE)
    assert outcome["result"]["encoded"] == 0 and outcome["result"]["from_cache"] >= len(CATALOGUE)  # all cached
    after = live_index(os_client, alias)
    assert after != before and outcome["result"]["previous"] == before
    assert answered[0] > 100 and failures == [], (answered[0], failures[:3])
    print(f"{answered[0]} searches during the rebuild, none failed or empty")

    bad = tmp_path / "catalogue.csv"
    bad.write_text("id,title,price\nx1,,12\nx2,,cheap\n")  # no usable product: the rebuild must refuse
    failed = app.send_task("shelfrank.reindex", kwargs={"index": alias, "source": str(bad), "started_by": "test"})
    with pytest.raises(Exception):
        failed.get(timeout=120)
    assert live_index(os_client, alias) == after  # the live index still serves
    last = runs(database)[-1]
    assert (last.task, last.status) == ("reindex", "failed") and last.error


def test_a_run_queued_from_the_console_is_run_by_a_worker_and_shows_who_started_it(
        broker_url: str, broker: redis.Redis, database: str, worker: Callable[..., subprocess.Popen],  # type: ignore[type-arg]
        settings: Settings, tmp_path: Path) -> None:
    import re

    from admin.app import create_app
    from core.access import users

    with session_scope(database) as session:
        users.create_user(session, "ada", "correct horse battery", "admin")
    app = create_app(settings.model_copy(update={"database_url": database, "broker_url": broker_url,
                                                 "state_dir": tmp_path}))
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "ada", "password": "correct horse battery", "csrf_token": token})
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/tasks").text).group(1)
    assert client.post("/tasks/run", data={"task": "rm -rf", "csrf_token": token}).status_code == 400
    worker()
    queued = client.post("/tasks/run", data={"task": "events-purge", "csrf_token": token})
    assert queued.status_code == 200 and "Queued events-purge as task" in queued.text
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not [r for r in runs(database) if r.status == "succeeded"]:
        time.sleep(0.5)
    (run,) = runs(database)
    assert (run.task, run.status, run.started_by) == ("events-purge", "succeeded", "console:ada")
    assert "console:ada" in client.get("/tasks").text


def test_an_embedding_rebuild_survives_a_worker_killed_mid_chunk(
        build_catalogue: Callable[..., str], os_client: OpenSearch, settings: Settings, broker_url: str,
        broker: redis.Redis, database: str, worker: Callable[..., subprocess.Popen], tmp_path: Path,  # type: ignore[type-arg]
        bert_encoder) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL to a worker and its pool in the middle of a chunked rebuild, then a new worker: the rebuild
    completes, every product is in the new index exactly once, the chunks done before the kill are not
    redone, and vectors the embedding cache held are not recomputed."""
    import itertools

    from core.db.models import RebuildChunk, RebuildJob
    from encoders.cache import CachedEncoder, EmbeddingCache
    from indexer.sources import read_catalog
    from indexer.versions import live_index
    from tests.conftest import HOMEDEPOT

    products = list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), 400))
    alias = build_catalogue("test-embeddings-catalogue", products)
    before = live_index(os_client, alias)
    cache_dir = tmp_path / "cache"
    cached = CachedEncoder(bert_encoder, EmbeddingCache(cache_dir / "embeddings.sqlite"))
    warm = products[::2]  # half the catalogue's texts are in the embedding cache already
    cached.encode([p.embedding_text() for p in warm])
    env = {"SHELFRANK_CACHE_DIR": str(cache_dir), "SHELFRANK_WORKER_VISIBILITY_TIMEOUT_S": "8",
           "SHELFRANK_ENCODER_BATCH_SIZE": "8", "SHELFRANK_DEFAULT_INDEX": alias}
    first = worker(**env)
    celery = make_celery(settings.model_copy(update={"broker_url": broker_url}))
    celery.send_task("shelfrank.embeddings", kwargs={"index": alias, "chunk_size": 40, "started_by": "test"})

    def chunks() -> list[RebuildChunk]:
        with session_scope(database) as session:
            return list(session.scalars(select(RebuildChunk).order_by(RebuildChunk.number)))

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and sum(c.status == "done" for c in chunks()) < 3:
        time.sleep(0.1)
    done_before_kill = {c.number for c in chunks() if c.status == "done"}
    assert 3 <= len(done_before_kill) < 10, "the rebuild finished (or never started) before the kill"
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    worker(**env)
    while time.monotonic() < deadline + 240:
        with session_scope(database) as session:
            job = session.scalars(select(RebuildJob)).one()
            if job.status != "running":
                break
        time.sleep(0.5)
    assert job.status == "done", job.error
    final = chunks()
    assert len(final) == 10 and all(c.status == "done" for c in final)
    assert all(c.attempts == 1 for c in final if c.number in done_before_kill)  # done work is not redone
    assert sum(c.attempts for c in final) <= len(final) + 1  # only the chunk the kill interrupted ran twice
    assert sum(c.documents for c in final) == len(products)
    assert sum(c.from_cache for c in final) >= len(warm)  # vectors the cache held were not recomputed
    assert sum(c.encoded for c in final) <= len(products) - len(warm)
    live = live_index(os_client, alias)
    assert live == job.target_index != before
    os_client.indices.refresh(index=live)
    assert os_client.count(index=live)["count"] == len(products)
    ids = [hit["_id"] for hit in helpers_scan(os_client, live)]
    assert sorted(ids) == sorted(p.id for p in products)  # each product once, none missing
    # The rebuild is recorded done inside the finalize run, a moment before the run itself is recorded.
    while time.monotonic() < deadline + 300:
        finish = [r for r in runs(database) if r.params.get("step") == "finalize embeddings rebuild"]
        if finish and all(r.status != "running" for r in finish):
            break
        time.sleep(0.2)
    assert [r.status for r in finish] == ["succeeded"]


def helpers_scan(client: OpenSearch, index: str) -> list[dict]:
    from opensearchpy import helpers

    return list(helpers.scan(client, index=index, query={"query": {"match_all": {}}}, _source=False))


def test_redis_stopped_mid_rebuild_the_workers_reconnect_and_the_run_completes(
        build_catalogue: Callable[..., str], os_client: OpenSearch, settings: Settings, broker_url: str,
        broker: redis.Redis, database: str, worker: Callable[..., subprocess.Popen], tmp_path: Path) -> None:  # type: ignore[type-arg]
    """The broker goes away for a while in the middle of a chunked rebuild (its data kept, as the project's
    Redis keeps it): the worker reconnects when it is back, no chunk is lost, the rebuild completes."""
    import itertools

    from core.db.models import RebuildChunk, RebuildJob
    from indexer.sources import read_catalog
    from indexer.versions import live_index
    from tests.conftest import HOMEDEPOT

    products = list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), 240))
    alias = build_catalogue("test-redis-outage-catalogue", products)
    env = {"SHELFRANK_CACHE_DIR": str(tmp_path / "cache"), "SHELFRANK_WORKER_VISIBILITY_TIMEOUT_S": "8",
           "SHELFRANK_ENCODER_BATCH_SIZE": "8"}
    process = worker(**env)
    make_celery(settings.model_copy(update={"broker_url": broker_url})).send_task(
        "shelfrank.embeddings", kwargs={"index": alias, "chunk_size": 30, "started_by": "test"})
    local = LocalRedis(settings)

    def done() -> int:
        with session_scope(database) as session:
            return len(session.scalars(select(RebuildChunk).where(RebuildChunk.status == "done")).all())

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and done() < 2:
        time.sleep(0.1)
    assert 2 <= done() < 8, "the rebuild finished (or never started) before the outage"
    local.stop()
    time.sleep(6)  # the worker finishes its chunk meanwhile and cannot reach the broker
    assert process.poll() is None  # it waits for the broker, it does not die
    local.start()
    while time.monotonic() < deadline + 240:
        with session_scope(database) as session:
            job = session.scalars(select(RebuildJob)).one()
            if job.status != "running":
                break
        time.sleep(0.5)
    assert job.status == "done", job.error
    assert done() == 8
    live = live_index(os_client, alias)
    os_client.indices.refresh(index=live)
    assert live == job.target_index and os_client.count(index=live)["count"] == len(products)
    log = (tmp_path / "worker-0.log").read_text()
    assert "Connection to broker lost" in log or "Cannot connect" in log  # it did see the outage
