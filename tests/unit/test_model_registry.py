"""The learning-to-rank model registry: register, promote behind a gate, roll back, reject, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from cli import models_commands
from core.db import migrate
from core.db.models import RankingModel
from core.db.session import session_scope
from core.settings import get_settings
from ltr import registry
from ltr.registry import GateResult, PromotionRefused, RegistryError

HASH = "ab" * 32


def passing(model: RankingModel) -> GateResult:
    return GateResult(True, checked=3, max_abs_diff=0.0, differences=[], detail="scores match")


@pytest.fixture()
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    migrate.upgrade(url)
    return url


def artifacts(root: Path, name: str, complete: bool = True) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "model.txt").write_text("tree\n")
    if complete:
        (folder / "plugin_model.json").write_text(json.dumps({"model": {"name": name}}))
    return folder


def register(url: str, root: Path, *names: str, **extra) -> None:  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        for name in names:
            registry.register_candidate(
                session, name=name, featureset="shelfrank_v1", featureset_hash=HASH,
                artifact_path=artifacts(root, name), params={"num_leaves": 31},
                metrics={"train": {"ndcg@10": 0.5}, "test": {"ndcg@10": 0.41}}, **extra)


def statuses(url: str) -> dict[str, str]:
    with session_scope(url) as session:
        return {m.name: m.status for m in registry.list_models(session)}


def promote(url: str, name: str, by: str = "alice", gate=passing) -> RankingModel:  # type: ignore[no-untyped-def]
    with session_scope(url) as session:
        return registry.promote(session, name, by=by, gate=gate)


def rollback(url: str, by: str = "bob") -> str | None:
    with session_scope(url) as session:
        model = registry.rollback(session, by=by)
        return model.name if model else None


def test_register_list_and_get(url: str, tmp_path: Path) -> None:
    window = (datetime(2026, 10, 1, tzinfo=timezone.utc), datetime(2026, 11, 1, tzinfo=timezone.utc))
    register(url, tmp_path, "ltr-1", click_model="dbn", data_window=window, notes="first try")
    register(url, tmp_path, "ltr-2")
    with session_scope(url) as session:
        models = registry.list_models(session)
        assert [m.name for m in models] == ["ltr-2", "ltr-1"]  # newest first
        first = registry.get_model(session, "ltr-1")
        assert (first.status, first.click_model, first.notes, first.params) == ("candidate", "dbn", "first try",
                                                                                {"num_leaves": 31})
        assert first.data_window_start is not None and first.data_window_start.day == 1
        assert first.promoted_at is None and first.retired_at is None
        assert registry.get_model(session, first.id).name == "ltr-1"
        assert registry.get_model(session, str(first.id)).name == "ltr-1"
        assert registry.active_model(session) is None
        with pytest.raises(RegistryError, match="no model 'ltr-9' in the registry"):
            registry.get_model(session, "ltr-9")
    with pytest.raises(RegistryError, match="already registered"):
        with session_scope(url) as session:
            registry.register_candidate(session, name="ltr-1", featureset="f", featureset_hash=HASH,
                                        artifact_path="/x", params={}, metrics={})
    with pytest.raises(RegistryError, match="SHA-256"):
        with session_scope(url) as session:
            registry.register_candidate(session, name="ltr-3", featureset="f", featureset_hash="abc",
                                        artifact_path="/x", params={}, metrics={})


def test_promote_retires_the_previous_active_model(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2")
    promote(url, "ltr-1")
    assert statuses(url) == {"ltr-1": "active", "ltr-2": "candidate"}
    promote(url, "ltr-2", by="carol")
    with session_scope(url) as session:
        old, new = registry.get_model(session, "ltr-1"), registry.active_model(session)
        assert new is not None and new.name == "ltr-2"
        assert (new.promoted_by, old.status) == ("carol", "retired")
        assert new.promoted_at is not None and old.retired_at == new.promoted_at  # one transaction, one instant


def test_failing_gate_changes_nothing_and_reports_the_differences(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2")
    promote(url, "ltr-1")
    seen: list[str | None] = []

    def failing(model: RankingModel) -> GateResult:
        with session_scope(url) as other:  # the gate runs before anything changes
            active = registry.active_model(other)
            seen.append(active.name if active else None)
        return GateResult(False, checked=50, max_abs_diff=0.25, detail="plugin scores differ from LightGBM",
                          differences=["'drill' doc 17: 1.25 vs 1.00", "'paint' doc 3: 0.50 vs 0.70"])

    with pytest.raises(PromotionRefused) as refused:
        promote(url, "ltr-2", gate=failing)
    assert seen == ["ltr-1"]
    assert refused.value.gate_result.max_abs_diff == 0.25
    message = str(refused.value)
    assert "ltr-2 was not promoted" in message and "50 queries" in message
    assert "'drill' doc 17: 1.25 vs 1.00" in message and "'paint' doc 3" in message
    assert statuses(url) == {"ltr-1": "active", "ltr-2": "candidate"}


def test_only_candidates_and_retired_models_can_be_promoted(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2", "ltr-3")
    promote(url, "ltr-1")
    with pytest.raises(RegistryError, match="ltr-1 is already active"):
        promote(url, "ltr-1")
    with session_scope(url) as session:
        rejected = registry.reject(session, "ltr-2", "overfits the train split")
        assert "overfits the train split" in rejected.notes
    with pytest.raises(RegistryError, match="ltr-2 was rejected"):
        promote(url, "ltr-2")
    with pytest.raises(RegistryError, match="only a candidate can be rejected"):
        with session_scope(url) as session:
            registry.reject(session, "ltr-1", "too late")
    promote(url, "ltr-3")
    promote(url, "ltr-1")  # a retired model can come back
    assert statuses(url) == {"ltr-1": "active", "ltr-2": "rejected", "ltr-3": "retired"}


def test_the_database_refuses_two_active_models(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2")
    promote(url, "ltr-1")
    with pytest.raises(IntegrityError):
        with session_scope(url) as session:
            session.execute(text("UPDATE ranking_models SET status = 'active' WHERE name = 'ltr-2'"))
    with pytest.raises(IntegrityError):
        with session_scope(url) as session:
            session.execute(text("UPDATE ranking_models SET status = 'shipped' WHERE name = 'ltr-2'"))
    assert statuses(url) == {"ltr-1": "active", "ltr-2": "candidate"}


def test_a_promotion_committed_during_the_gate_is_retired_not_doubled(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2")

    def racing_gate(model: RankingModel) -> GateResult:
        promote(url, "ltr-1", by="mallory")  # another process wins while this gate runs
        return passing(model)

    promote(url, "ltr-2", gate=racing_gate)
    assert statuses(url) == {"ltr-1": "retired", "ltr-2": "active"}


def test_rollback_walks_back_through_promotions(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2", "ltr-3")
    for name in ("ltr-1", "ltr-2", "ltr-3"):
        promote(url, name)
    assert rollback(url) == "ltr-2"
    assert statuses(url) == {"ltr-1": "retired", "ltr-2": "active", "ltr-3": "retired"}
    with session_scope(url) as session:
        assert "rolled back by bob" in registry.get_model(session, "ltr-3").notes
        assert registry.active_model(session).retired_at is None  # type: ignore[union-attr]
    assert rollback(url) == "ltr-1"  # not ltr-3, which was rolled back
    assert rollback(url) is None  # nothing was active before ltr-1: no model served
    assert set(statuses(url).values()) == {"retired"}
    with pytest.raises(RegistryError, match="no model is active"):
        rollback(url)


def test_rollback_without_a_previous_model_serves_no_model(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1")
    promote(url, "ltr-1")
    assert rollback(url) is None
    with session_scope(url) as session:
        assert registry.active_model(session) is None


def test_rollback_after_re_promotion(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2", "ltr-3")
    promote(url, "ltr-1")
    promote(url, "ltr-2")
    assert rollback(url) == "ltr-1"
    promote(url, "ltr-3")
    assert rollback(url) == "ltr-1"  # what ltr-3 replaced, not the rolled-back ltr-2


def test_artifact_gate(tmp_path: Path) -> None:
    def model(path: Path) -> RankingModel:
        return RankingModel(name="ltr-x", artifact_path=str(path))

    missing = registry.artifact_gate(model(tmp_path / "nowhere"))
    assert not missing.passed and "does not exist" in missing.detail
    partial = registry.artifact_gate(model(artifacts(tmp_path, "partial", complete=False)))
    assert not partial.passed and "lacks plugin_model.json" in partial.detail
    broken = artifacts(tmp_path, "broken")
    (broken / "plugin_model.json").write_text("{not json")
    assert "not valid JSON" in registry.artifact_gate(model(broken)).detail
    assert registry.artifact_gate(model(artifacts(tmp_path, "good"))).passed


@pytest.fixture()
def cli_url(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(models_commands.app, list(args), env={"USER": "dave"})


def test_cli_list_promote_rollback(cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the artifact check here: the real parity gate needs OpenSearch and a trained model,
    # and is exercised end to end by tests/integration/test_shopper_simulation.py.
    monkeypatch.setattr(models_commands, "default_gate", registry.artifact_gate)
    uploaded: list[str] = []  # the feature store's side is tested against the real node (test_engine_ranking.py)
    monkeypatch.setattr(models_commands, "store_upload", lambda model: uploaded.append(model.name))
    empty = invoke("list")
    assert empty.exit_code == 0 and "no models registered yet" in empty.stdout
    register(cli_url, tmp_path, "ltr-1", "ltr-2", click_model="pbm")

    promoted = invoke("promote", "ltr-1")
    assert promoted.exit_code == 0, promoted.output
    assert "ltr-1 is now active (promoted by dave)" in promoted.stdout and "gate passed" in promoted.stdout
    promoted = invoke("promote", "ltr-2", "--by", "erin")
    assert promoted.exit_code == 0 and "ltr-1 retired" in promoted.stdout

    table = invoke("list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "status", "created"]
    assert lines[1].startswith("ltr-2") and "active" in lines[1] and "erin" in lines[1]
    assert HASH[:12] in lines[1] and "pbm" in lines[1] and "0.4100 (test)" in lines[1]
    rows = json.loads(invoke("list", "--json").stdout)
    assert [(r["name"], r["status"], r["promoted_by"]) for r in rows] == [("ltr-2", "active", "erin"),
                                                                           ("ltr-1", "retired", "dave")]

    back = invoke("rollback")
    assert back.exit_code == 0 and "ltr-2 retired; model ltr-1 is active again" in back.stdout
    assert uploaded == ["ltr-1"]  # uploaded before the registry switched back
    back = invoke("rollback", "--by", "erin")
    assert back.exit_code == 0 and "no previous model" in back.stdout
    again = invoke("rollback")
    assert again.exit_code == 1 and again.stderr.strip() == "error: no model is active: there is nothing to roll back"


def test_cli_promotion_errors(cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    register(cli_url, tmp_path, "ltr-1")
    unknown = invoke("promote", "ltr-9")
    assert unknown.exit_code == 1 and "no model 'ltr-9'" in unknown.stderr

    monkeypatch.setattr(models_commands, "default_gate", lambda model: GateResult(
        False, checked=10, max_abs_diff=0.5, differences=["'hammer' doc 4: 2.0 vs 1.5"], detail="scores differ"))
    refused = invoke("promote", "ltr-1")
    assert refused.exit_code == 1
    assert len(refused.stderr.strip().splitlines()) == 1 and "'hammer' doc 4: 2.0 vs 1.5" in refused.stderr
    assert statuses(cli_url) == {"ltr-1": "candidate"}

    monkeypatch.setattr(models_commands, "default_gate", registry.artifact_gate)  # the artifact folder is gone
    for file in (tmp_path / "ltr-1").iterdir():
        file.unlink()
    (tmp_path / "ltr-1").rmdir()
    gone = invoke("promote", "ltr-1")
    assert gone.exit_code == 1 and "does not exist" in gone.stderr
    assert statuses(cli_url) == {"ltr-1": "candidate"}


def test_cli_says_when_the_database_is_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        result = invoke("list")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "shelfrank db upgrade" in result.stderr


def test_model_rows_are_read_back(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1")
    with session_scope(url) as session:
        row = session.scalars(select(RankingModel)).one()
        assert row.metrics["test"]["ndcg@10"] == 0.41 and row.featureset_hash == HASH
