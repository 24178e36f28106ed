"""Behaviour features against a real (SQLite) event store: hand-computed values, no future leakage.

The shared story (AT = Jan 20 12:00, so ages are whole days):
  Jan 10 12:00  alice (session mon) searches s1, sees a b c, clicks b
  Jan 15 12:00  alice (session fri) searches s2, sees a b, clicks, carts and buys a
  Jan 15 12:00  bob (session bob1) searches s3, sees a c, clicks c
Impressions a 3, b 2, c 2 (7 in all); clicked impressions (s1,b) (s2,a) (s3,c).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import features_commands
from core.db import migrate
from core.db.session import session_scope
from core.privacy import pseudonymise
from core.settings import get_settings
from ltr.events.store import EventStore
from ltr.features import (
    Activity,
    ActivityCounts,
    AddToCartRate,
    BehaviourLog,
    BrandAffinity,
    CategoryAffinity,
    ImpressionCount,
    Popularity,
    PreferredPriceBand,
    PurchaseRate,
    RecentDepartments,
    SmoothedCtr,
    UserProfile,
    default_product_features,
    load_behaviour,
    product_features,
    user_product_features,
)
from indexer.traits import ProductTraits

KEY = "test-key"
AT = datetime(2026, 1, 20, 12, tzinfo=timezone.utc)
ALICE, BOB = pseudonymise("alice", KEY), pseudonymise("bob", KEY)
TRAITS = {"a": ProductTraits("acme", "tools", "mid"), "b": ProductTraits("acme", "paint", "budget"),
          "c": ProductTraits("zenith", "tools", "premium"), "d": ProductTraits("zenith", "garden", "mid")}
PRODUCTS = ["a", "b", "c"]


def search(event_id: str, search_id: str, user: str, session: str, results: list[str], ts: str) -> dict:
    return {"event_id": event_id, "type": "search", "ts": ts, "search_id": search_id, "user_id": user,
            "session_id": session, "query": "q", "results": results}


def act(event_id: str, kind: str, user: str, session: str, product: str, ts: str, search_id: str | None) -> dict:
    event = {"event_id": event_id, "type": kind, "ts": ts, "user_id": user, "session_id": session,
             "product_id": product}
    return {**event, "search_id": search_id} if search_id else event


STORY = [
    search("e1", "s1", "alice", "mon", ["a", "b", "c"], "2026-01-10T12:00:00Z"),
    act("e2", "click", "alice", "mon", "b", "2026-01-10T12:00:00Z", "s1"),
    search("e3", "s2", "alice", "fri", ["a", "b"], "2026-01-15T12:00:00Z"),
    act("e4", "click", "alice", "fri", "a", "2026-01-15T12:00:00Z", "s2"),
    act("e5", "add_to_cart", "alice", "fri", "a", "2026-01-15T12:00:00Z", "s2"),
    act("e6", "purchase", "alice", "fri", "a", "2026-01-15T12:00:00Z", "s2"),
    search("e7", "s3", "bob", "bob1", ["a", "c"], "2026-01-15T12:00:00Z"),
    act("e8", "click", "bob", "bob1", "c", "2026-01-15T12:00:00Z", "s3"),
]
# Happens exactly at AT or later: must change nothing computed at AT.
LATER = [
    search("f1", "s4", "alice", "fri", ["b", "c"], "2026-01-20T12:00:00Z"),
    act("f2", "click", "alice", "fri", "c", "2026-01-20T12:00:00Z", "s4"),
    act("f3", "purchase", "alice", "fri", "b", "2026-01-20T12:00:00Z", "s4"),
    search("f4", "s5", "bob", "bob2", ["a", "b", "c"], "2026-01-21T08:00:00Z"),
    act("f5", "click", "bob", "bob2", "b", "2026-01-21T08:00:01Z", "s5"),
    act("f6", "add_to_cart", "alice", "sun", "c", "2026-01-21T09:00:00Z", None),
]


def ingest(url: str, events: list[dict]) -> None:
    with session_scope(url) as session:
        report = EventStore(KEY).ingest(session, events)
    assert not report.rejected, report.rejected


def load(url: str, **window: datetime) -> BehaviourLog:
    with session_scope(url) as session:
        return load_behaviour(session, **window)


@pytest.fixture(scope="module")
def story_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated once per module; tests that add events get a copy (migrating takes a few 100 ms)."""
    path = tmp_path_factory.mktemp("story") / "features.db"
    migrate.upgrade(f"sqlite:///{path}")
    ingest(f"sqlite:///{path}", STORY)
    return path


@pytest.fixture
def db(story_db: Path, tmp_path: Path) -> str:
    # SQLite's backup API, not a file copy: in WAL mode recent pages live in the -wal file.
    with sqlite3.connect(story_db) as source, sqlite3.connect(tmp_path / "features.db") as target:
        source.backup(target)
    return f"sqlite:///{tmp_path / 'features.db'}"


@pytest.fixture(scope="module")
def log(story_db: Path) -> BehaviourLog:
    return load(f"sqlite:///{story_db}")


def test_loader_reads_impressions_at_search_time_and_normalises_to_utc(log: BehaviourLog) -> None:
    assert (len(log.searches), len(log.shown), len(log.actions)) == (3, 7, 5)
    first = log.shown[0]
    assert (first.search_id, first.product_id, first.position, first.user_id) == ("s1", "a", 1, ALICE)
    assert first.ts == datetime(2026, 1, 10, 12, tzinfo=timezone.utc) and first.ts.tzinfo is not None
    assert [a.type for a in log.actions if a.product_id == "a"] == ["click", "add_to_cart", "purchase"]


def test_loader_window_is_half_open(db: str) -> None:
    cut = load(db, since=datetime(2026, 1, 10, 12, tzinfo=timezone.utc),
               until=datetime(2026, 1, 15, 12, tzinfo=timezone.utc))
    assert [s.search_id for s in cut.searches] == ["s1"] and len(cut.actions) == 1


def test_before_excludes_the_instant_itself_and_refuses_naive_times(log: BehaviourLog) -> None:
    jan15 = datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
    assert [s.search_id for s in log.before(jan15).searches] == ["s1"]
    assert len(log.before(jan15 + timedelta(microseconds=1)).searches) == 3
    with pytest.raises(ValueError, match="timezone-aware"):
        log.before(datetime(2026, 1, 15))


def test_impression_count_and_its_window(log: BehaviourLog) -> None:
    assert ImpressionCount(window_days=30).compute(log, PRODUCTS + ["z"], AT) == {"a": 3, "b": 2, "c": 2, "z": 0}
    # 7 days back from Jan 20 12:00 is Jan 13 12:00: s1 (Jan 10) falls out.
    assert ImpressionCount(window_days=7).compute(log, PRODUCTS, AT) == {"a": 2, "b": 1, "c": 1}


def test_rates_are_smoothed_toward_the_global_rate(log: BehaviourLog) -> None:
    # prior CTR 3/7; with m = 7: (clicks + 3) / (impressions + 7)
    ctr = SmoothedCtr(window_days=30, prior_weight=7).compute(log, PRODUCTS + ["z"], AT)
    assert ctr == pytest.approx({"a": 4 / 10, "b": 4 / 9, "c": 4 / 9, "z": 3 / 7})
    # raw CTRs are a 1/3, b 1/2: smoothing pulls both toward the prior...
    assert 1 / 3 < ctr["a"] < 3 / 7 < ctr["b"] < 1 / 2
    # ...and a weak prior leaves the raw rates.
    assert SmoothedCtr(30, prior_weight=1e-9).compute(log, ["a", "b"], AT) == pytest.approx({"a": 1 / 3, "b": 1 / 2})
    # one cart and one purchase among 7 impressions: prior 1/7
    expected = {"a": (1 + 1) / 10, "b": 1 / 9, "c": 1 / 9}
    assert AddToCartRate(30, prior_weight=7).compute(log, PRODUCTS, AT) == pytest.approx(expected)
    assert PurchaseRate(30, prior_weight=7).compute(log, PRODUCTS, AT) == pytest.approx(expected)


def test_rates_outside_the_window_fall_back_to_zero(log: BehaviourLog) -> None:
    late = AT + timedelta(days=60)
    assert SmoothedCtr(30, 7).compute(log, ["a"], late) == {"a": 0.0}


def test_popularity_decays_and_weighs_actions(log: BehaviourLog) -> None:
    # half-life 5 days: the Jan 15 actions count 1/2, the Jan 10 click 1/4.
    popularity = Popularity(half_life_days=5, window_days=30,
                            weights={"click": 1, "add_to_cart": 3, "purchase": 5}).compute(log, PRODUCTS, AT)
    assert popularity == pytest.approx({"a": (1 + 3 + 5) / 2, "b": 1 / 4, "c": 1 / 2})
    assert Popularity(5, window_days=7).compute(log, ["b"], AT) == {"b": 0.0}


def test_affinities_are_decayed_shares_that_sum_to_one(log: BehaviourLog) -> None:
    # alice: b (paint, acme) at 10 days = 1/4; a (tools, acme) three actions at 5 days = 3/2.
    departments = CategoryAffinity(half_life_days=5).compute(log, ALICE, AT, TRAITS)
    assert departments == pytest.approx({"tools": 6 / 7, "paint": 1 / 7})
    assert list(departments) == ["tools", "paint"]  # largest first
    assert sum(departments.values()) == pytest.approx(1)
    assert BrandAffinity(half_life_days=5).compute(log, ALICE, AT, TRAITS) == pytest.approx({"acme": 1.0})
    assert BrandAffinity(half_life_days=5).compute(log, BOB, AT, TRAITS) == pytest.approx({"zenith": 1.0})
    assert CategoryAffinity(5).compute(log, "nobody", AT, TRAITS) == {}
    # products without known traits cast no vote
    assert CategoryAffinity(5).compute(log, ALICE, AT, {"b": TRAITS["b"]}) == pytest.approx({"paint": 1.0})


def test_preferred_price_band_and_activity(log: BehaviourLog) -> None:
    assert PreferredPriceBand(5).compute(log, ALICE, AT, TRAITS) == "mid"
    assert PreferredPriceBand(5).compute(log, ALICE, datetime(2026, 1, 12, tzinfo=timezone.utc), TRAITS) == "budget"
    assert PreferredPriceBand(5).compute(log, "nobody", AT, TRAITS) is None
    assert Activity(window_days=30).compute(log, ALICE, AT) == ActivityCounts(2, 2, 1, 1)
    assert Activity(window_days=7).compute(log, ALICE, AT) == ActivityCounts(1, 1, 1, 1)
    assert Activity(window_days=30).compute(log, BOB, AT) == ActivityCounts(1, 1, 0, 0)


def test_recent_departments_of_the_same_session_most_recent_first(db: str) -> None:
    ingest(db, [search("g1", "s9", "alice", "sat", ["d", "a"], "2026-01-17T10:00:00Z"),
                act("g2", "click", "alice", "sat", "d", "2026-01-17T10:00:00Z", "s9"),
                act("g3", "click", "alice", "sat", "a", "2026-01-17T10:05:00Z", "s9"),
                act("g4", "click", "alice", "sat", "d", "2026-01-17T10:10:00Z", "s9"),
                act("g5", "click", "bob", "other", "b", "2026-01-17T10:08:00Z", None)])
    log, recent = load(db), RecentDepartments()

    def at(minute: int) -> datetime:
        return datetime(2026, 1, 17, 10, minute, tzinfo=timezone.utc)

    assert recent.compute(log, "sat", at(20), TRAITS) == ("garden", "tools")
    assert recent.compute(log, "sat", at(6), TRAITS) == ("tools", "garden")
    assert recent.compute(log, "sat", at(5), TRAITS) == ("garden",)  # the click at 10:05 is not yet seen
    assert recent.compute(log, "sat", at(0), TRAITS) == ()
    assert recent.compute(log, "sat", at(20) + timedelta(days=2), TRAITS) == ()  # beyond the lookback
    assert recent.compute(log, None, at(20), TRAITS) == ()


def test_user_product_features_look_up_the_candidate_in_the_profile() -> None:
    profile = UserProfile(user_id="u", at=AT, session_id="s", department_affinity={"tools": 0.75, "paint": 0.25},
                          brand_affinity={"acme": 1.0}, preferred_price_band="mid", activity=ActivityCounts(),
                          recent_departments=("garden",))
    assert user_product_features(profile, TRAITS["a"]) == {
        "user_brand_affinity": 1.0, "user_department_affinity": 0.75, "user_price_band_match": 1.0,
        "session_department_match": 0.0}
    assert user_product_features(profile, TRAITS["d"]) == {
        "user_brand_affinity": 0.0, "user_department_affinity": 0.0, "user_price_band_match": 1.0,
        "session_department_match": 1.0}


def _everything_at(log: BehaviourLog, at: datetime) -> tuple:
    products = product_features(log, PRODUCTS, at, default_product_features(window_days=30, half_life_days=5))
    profile = UserProfile.build(log, ALICE, at, TRAITS, session_id="fri", half_life_days=5)
    return products, profile, {p: user_product_features(profile, TRAITS[p]) for p in PRODUCTS}


def test_no_future_leakage_later_events_change_nothing_at_at(db: str) -> None:
    before = _everything_at(load(db), AT)
    ingest(db, LATER)  # events exactly at AT and after it
    full = load(db)
    assert len(full.actions) == 5 + 4
    assert _everything_at(full, AT) == before
    # not vacuous: a moment later the new events are seen
    assert _everything_at(full, AT + timedelta(microseconds=1))[1].activity == ActivityCounts(3, 3, 1, 2)
    assert _everything_at(full, AT + timedelta(hours=1))[1].recent_departments == ("tools",)  # click on c at AT
    assert _everything_at(full, AT + timedelta(days=2))[0]["b"]["impression_count"] == 4


def test_profile_build_assembles_the_features(log: BehaviourLog) -> None:
    profile = UserProfile.build(log, ALICE, AT, TRAITS, session_id="fri", half_life_days=5, window_days=30)
    assert profile.department_affinity == pytest.approx({"tools": 6 / 7, "paint": 1 / 7})
    assert (profile.preferred_price_band, profile.activity) == ("mid", ActivityCounts(2, 2, 1, 1))
    assert profile.recent_departments == ()  # session fri ended five days before AT
    assert user_product_features(profile, TRAITS["c"]) == pytest.approx({
        "user_brand_affinity": 0.0, "user_department_affinity": 6 / 7, "user_price_band_match": 0.0,
        "session_department_match": 0.0})
    json.dumps(profile.as_dict())


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", db)
    monkeypatch.setenv("SHELFRANK_PSEUDONYM_KEY", KEY)
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(features_commands.app, list(args))


def test_cli_prints_a_known_users_profile_with_catalogue_traits(cli_env: str, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a", "title": "Acme cordless drill", "brand": "Acme", "category": "Tools > Drills"},
        {"id": "b", "title": "Acme interior paint", "brand": "Acme", "category": "Paint"},
        {"id": "c", "title": "Zenith saw", "brand": "Zenith", "category": "Tools"}]))
    result = invoke("user", "alice", "--at", "2026-01-20T12:00:00Z", "--json", "--half-life-days", "5",
                    "--catalog", str(catalog), "--format", "jsonl")
    assert result.exit_code == 0, result.output
    profile = json.loads(result.stdout)
    assert profile["user_id"] == ALICE and profile["session_id"] == "fri"
    assert profile["department_affinity"] == pytest.approx({"tools": 6 / 7, "paint": 1 / 7})
    assert profile["brand_affinity"] == pytest.approx({"acme": 1.0})
    assert profile["activity"] == {"searches": 2, "clicks": 2, "add_to_carts": 1, "purchases": 1}

    text = invoke("user", "alice", "--at", "2026-01-20T12:00:00", "--half-life-days", "5", "--catalog", str(catalog),
                  "--format", "jsonl")
    assert text.exit_code == 0, text.output
    assert "2 searches, 2 clicks, 1 add-to-carts, 1 purchases" in text.stdout
    assert "department affinity: tools 0.86, paint 0.14" in text.stdout


def test_cli_without_catalogue_says_traits_are_unknown(cli_env: str) -> None:
    result = invoke("user", "alice", "--at", "2026-01-20T12:00:00Z")
    assert result.exit_code == 0, result.output
    assert "departments and brands are unknown" in result.stdout
    profile = json.loads(invoke("user", "alice", "--at", "2026-01-20T12:00:00Z", "--json").stdout)
    assert profile["department_affinity"] is None and "note" in profile


def test_cli_unknown_user_exits_1(cli_env: str) -> None:
    result = invoke("user", "mallory", "--at", "2026-01-20T12:00:00Z")
    assert result.exit_code == 1
    assert "unknown user 'mallory'" in result.stderr


def test_cli_product_features(cli_env: str) -> None:
    result = invoke("product", "a", "--at", "2026-01-20T12:00:00Z", "--json", "--prior-weight", "7")
    assert result.exit_code == 0, result.output
    features = json.loads(result.stdout)["features"]
    assert features["impression_count"] == 3 and features["ctr"] == pytest.approx(0.4)
    assert set(features) == {"impression_count", "ctr", "add_to_cart_rate", "purchase_rate", "popularity"}


def test_traits_take_a_category_path_or_a_single_category() -> None:
    from indexer.traits import traits_of

    path = traits_of("p1", "Cordless drill", "DEWALT", ["Tools", "Drills"])
    single = traits_of("p1", "Cordless drill", "DEWALT", "Tools")
    assert path.department == single.department == "tools"  # not "t", the first letter
    assert path.brand == "dewalt"
