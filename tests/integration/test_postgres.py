"""The metadata database on PostgreSQL, as production runs it: a real server (Debian's package, started by
the project on its own port), every migration up and down, the database-enforced invariants, and the
console and events API on top of it."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import DateTime, bindparam, select, text
from sqlalchemy.exc import IntegrityError

from admin.app import create_app as create_console
from api.app import create_app as create_api
from core.access import api_keys, users
from core.db import migrate
from core.db.models import Impression, Interaction, Search, SearchTuningVersion, TaskRun, utcnow
from core.db.session import session_scope
from core.postgres_server import LocalPostgres
from core.settings import Settings
from evaluation import judgment_store
from ltr.events import volumes
from storefront import tuning_store
from storefront.tuning import parse_tuning

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


def test_every_migration_goes_up_and_down_and_up_again(postgres: LocalPostgres) -> None:
    database = postgres.create_database(f"shelfrank_migrations_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()
    from alembic import command

    command.downgrade(migrate.alembic_config(database), "base")
    assert migrate.current_revision(database) is None
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()


def _upgrade_an_old_database_holding_data(database: str) -> None:
    """A shop upgrading from revision 0004 (the first model registry) keeps its runs and its served model."""
    from ltr import registry

    migrate.upgrade(database, "0004")
    at = bindparam("at", utcnow(), type_=DateTime(timezone=True))  # typed: each dialect stores its own way
    with session_scope(database) as session:
        session.execute(text("INSERT INTO task_runs (task, status, started_at, finished_at, params, detail) "
                             "VALUES ('retrain', 'succeeded', :at, :at, '{\"labels\": \"clickmodel\"}', 'ok')"
                             ).bindparams(at))
        session.execute(text("INSERT INTO ranking_models (name, created_at, status, featureset, featureset_hash, "
                             "params, metrics, artifact_path, notes) VALUES ('ltr-old', :at, 'active', 'shelfrank-v1', "
                             "'abc', '{}', '{\"ndcg@10\": 0.41}', '/models/ltr-old', 'kept')").bindparams(at))
    migrate.upgrade(database)
    assert migrate.current_revision(database) == migrate.head_revision()
    with session_scope(database) as session:
        run = session.scalars(select(TaskRun)).one()
        assert (run.task, run.status, run.params, run.started_by, run.progress) == (
            "retrain", "succeeded", {"labels": "clickmodel"}, "unknown", None)
        served = registry.active_model(session)
        assert served is not None and (served.name, served.metrics, served.notes) == ("ltr-old", {"ndcg@10": 0.41}, "kept")
        assert judgment_store.totals(session)["pairs"] == 0  # tables added since 0004 exist, empty


def test_an_upgrade_keeps_what_an_older_postgres_database_holds(postgres: LocalPostgres) -> None:
    _upgrade_an_old_database_holding_data(postgres.create_database(f"shelfrank_upgrade_{uuid.uuid4().hex[:8]}"))


def test_an_upgrade_keeps_what_an_older_sqlite_database_holds(tmp_path: Path) -> None:
    _upgrade_an_old_database_holding_data(f"sqlite:///{tmp_path / 'old.db'}")


def test_the_database_itself_allows_one_live_tuning(url: str) -> None:
    with session_scope(url) as session:
        first = tuning_store.save_version(session, parse_tuning({"vector_weight": 0.5}), "t").id
        second = tuning_store.save_version(session, parse_tuning({"vector_weight": 0.6}), "t").id
        tuning_store.activate(session, first, "t")
        tuning_store.activate(session, second, "t")
        tuning_store.activate(session, first, "t")  # a rollback
        assert tuning_store.live_version(session).id == first
    with pytest.raises(IntegrityError):
        with session_scope(url) as session:
            session.get(SearchTuningVersion, second).status = "live"  # bypassing activate: refused
    with session_scope(url) as session:
        assert session.execute(text("SELECT count(*) FROM search_tunings WHERE status = 'live'")).scalar() == 1


def test_volumes_judgments_and_keys_on_postgres(url: str) -> None:
    with session_scope(url) as session:
        session.add_all([Search(search_id="s1", query="drill", normalized_query="drill", config="bm25"),
                         Search(search_id="s2", query="zzz", normalized_query="zzz", config="bm25")])
        session.flush()
        session.add(Impression(search_id="s1", product_id="p1", position=1))
        session.add(Interaction(type="click", search_id="s1", product_id="p1", position=1, occurred_at=utcnow()))
        judgment_store.import_judgments(session, {"drill": {"p1": 2.0, "p2": 0.0}}, "t", "t")
        issued = api_keys.create_key(session, "frontend", "t")
    with session_scope(url) as session:
        today = volumes.daily_volumes(session, 2)[-1]
        assert (today["searches"], today["clicks"], today["ctr"], today["zero_result_rate"]) == (2, 1, 0.5, 0.5)
        assert judgment_store.coverage(session) == [{"query": "drill", "judged": 2, "relevant": 1, "split": "train"}]
        assert api_keys.verify_key(session, issued.key) is not None


def test_the_console_and_the_events_api_run_on_postgres(url: str, tmp_path: Path) -> None:
    with session_scope(url) as session:
        users.create_user(session, "ada", PASSWORD, "admin")
        key = api_keys.create_key(session, "frontend", "t").key
    settings = Settings(database_url=url, state_dir=tmp_path, opensearch_url="http://127.0.0.1:9",
                        search_timeout_s=0.5, admin_cookie_secure=False)
    console = create_console(settings).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', console.get("/login").text).group(1)
    assert console.post("/login", data={"username": "ada", "password": "wrong password!",
                                        "csrf_token": token}).status_code == 401
    assert console.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": token}
                        ).status_code == 302
    for page in ("/", "/events", "/tuning", "/judgments", "/models", "/tasks", "/users", "/keys", "/audit"):
        assert console.get(page).status_code == 200, page
    assert "login.failed" in console.get("/audit").text
    events = [{"event_id": "e1", "type": "search", "ts": "2026-01-31T12:00:00Z", "search_id": "s9", "user_id": "u",
               "query": "drill", "results": ["a", "b"]},
              {"event_id": "e2", "type": "click", "ts": "2026-01-31T12:00:05Z", "search_id": "s9", "user_id": "u",
               "product_id": "b"}]
    api = create_api(settings).test_client()
    assert api.post("/api/v1/events", json=events).status_code == 401
    report = api.post("/api/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}).get_json()
    again = api.post("/api/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}).get_json()
    assert (report["accepted"], again["accepted"], again["duplicates"]) == (2, 0, 2)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_two_promotions_at_once_leave_exactly_one_active_model(url: str, tmp_path: Path) -> None:
    """Each promotion's gate takes a while; on PostgreSQL the registry locks the active row and the partial
    unique index refuses a second active one, so whatever the interleaving one model ends up served, and
    the loser gets the registry's own message (this once escaped as a PendingRollbackError)."""
    import threading
    import time

    from ltr import registry
    from ltr.registry import GateResult, RegistryError

    with session_scope(url) as session:
        for name in ("model-a", "model-b"):
            registry.register_candidate(session, name=name, featureset="f", featureset_hash="0" * 64,
                                        artifact_path=tmp_path, params={}, metrics={})
    outcomes: dict[str, str] = {}
    start = threading.Barrier(2)

    def promote(name: str) -> None:
        def slow_gate(_model):  # type: ignore[no-untyped-def]
            time.sleep(0.5)
            return GateResult(passed=True, detail="test gate")

        start.wait()
        try:
            with session_scope(url) as session:
                registry.promote(session, name, by="test", gate=slow_gate)
            outcomes[name] = "promoted"
        except RegistryError as exc:
            outcomes[name] = f"refused: {exc}"

    threads = [threading.Thread(target=promote, args=(name,)) for name in ("model-a", "model-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope(url) as session:
        statuses = {m.name: m.status for m in registry.list_models(session)}
    assert list(statuses.values()).count("active") == 1, (statuses, outcomes)
    refused = [o for o in outcomes.values() if o.startswith("refused")]
    assert all("another model became active at the same time" in o for o in refused), outcomes


def test_concurrent_event_batches_with_the_same_ids_are_stored_once(url: str) -> None:
    """Eight senders retrying one batch at the same moment (a frontend's retries, two gateways): every event
    is stored once, the others are counted as duplicates, none fails."""
    import threading

    from sqlalchemy import func, select

    from core.db.models import ProcessedEvent
    from ltr.events.store import EventStore

    batch: list[dict] = []
    for i in range(40):
        results = [f"p{i}-{k}" for k in range(5)]
        batch.append({"event_id": f"s{i}", "type": "search", "ts": "2026-11-30T12:00:00Z", "search_id": f"q{i}",
                      "user_id": f"shopper-{i % 7}", "session_id": f"sess-{i}", "query": "drill", "results": results})
        batch.append({"event_id": f"c{i}", "type": "click", "ts": "2026-11-30T12:00:05Z", "search_id": f"q{i}",
                      "user_id": f"shopper-{i % 7}", "session_id": f"sess-{i}", "product_id": results[i % 5]})
    store, reports, errors = EventStore("test-key"), [], []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        try:
            with session_scope(url) as session:
                reports.append(store.ingest(session, batch))
        except Exception as exc:  # noqa: BLE001 - any failure is what the test is about
            errors.append(repr(exc))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(reports) == 8
    assert all(not r.rejected for r in reports)
    assert sum(r.accepted for r in reports) == len(batch)
    assert sum(r.duplicates for r in reports) == 7 * len(batch)
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == len(batch)
        assert session.scalar(select(func.count()).select_from(Search)) == 40
        assert session.scalar(select(func.count()).select_from(Impression)) == 200
        assert session.scalar(select(func.count()).select_from(Interaction)) == 40


def test_the_task_lock_and_run_records_on_postgres(url: str, settings: Settings) -> None:
    """One run of a kind at a time across processes (the lock is in Redis), every run recorded in PostgreSQL."""
    import redis

    from core.db.models import TaskRun
    from core.jobs import run_job
    from core.redis_server import LocalRedis
    from sqlalchemy import select

    local = LocalRedis(settings)
    started_here = not local.status().running
    local.start()
    broker = redis.Redis.from_url(settings.broker_url.rsplit("/", 1)[0] + "/13")
    broker.flushdb()
    try:
        inside: list[str] = []

        def job(progress):  # type: ignore[no-untyped-def]
            progress(0.5)
            inside.append(run_job("retrain", lambda _p: {}, database_url=url, broker=broker, started_by="beat").status)
            return {"trees": 7}

        first = run_job("retrain", job, database_url=url, broker=broker, started_by="cli:test")
        assert first.status == "succeeded" and inside == ["skipped"]
        with session_scope(url) as session:
            stored = [(r.task, r.status, r.started_by, r.result) for r in session.scalars(select(TaskRun).order_by(TaskRun.id))]
        assert stored == [("retrain", "succeeded", "cli:test", {"trees": 7}), ("retrain", "skipped", "beat", None)]
    finally:
        broker.flushdb()
        if started_here and not os.environ.get("SHELFRANK_KEEP_NODE"):
            local.stop()


def test_buffered_recording_on_postgres_stores_every_page_once(url: str) -> None:
    """What a storefront under load does to production's database: 16 threads record 50 searches each through
    the buffered recorder while the events API already stored some of the same searches (a frontend that
    reports its own); after close every search is stored once with all its impressions, and the early
    click gets its position."""
    import threading

    from sqlalchemy import func

    from ltr.events.store import EventStore
    from storefront.recording import BufferedRecorder, DatabaseImpressionRecorder
    from storefront.request import SearchRequest

    with session_scope(url) as session:
        EventStore("key").ingest(session, [
            {"event_id": "e1", "type": "search", "search_id": "t3-s7", "query": "drill", "results": ["p0", "p1", "p2"],
             "ts": "2026-11-30T10:00:00Z"},
            {"event_id": "e2", "type": "click", "search_id": "t5-s9", "product_id": "p2", "ts": "2026-11-30T10:00:01Z"}])
    writer = DatabaseImpressionRecorder(url, "key")
    recorder = BufferedRecorder(writer.write, batch_size=64, flush_interval_s=0.05)
    start = threading.Barrier(16)

    def shop(thread: int) -> None:
        start.wait()
        for i in range(50):
            recorder(f"t{thread}-s{i}", SearchRequest(query=f"query {thread} {i}", user_id=f"shopper-{thread}"),
                     "hybrid-minmax", "model-a", [(f"p{k}", k + 1) for k in range(3)])

    threads = [threading.Thread(target=shop, args=(t,)) for t in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    assert (recorder.stats.written, recorder.stats.dropped, recorder.stats.lost) == (800, 0, 0)
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(Search)) == 800
        assert session.scalar(select(func.count()).select_from(Impression)) == 2400
        assert session.get(Search, "t3-s7").source == "events"  # the events API's copy is kept as it was
        assert session.get(Search, "t4-s7").model_version == "model-a"
        assert session.scalar(select(Interaction.position).where(Interaction.event_id == "e2")) == 3
