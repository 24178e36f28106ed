"""Changes made outside the console are in its audit log too: the ``shelfrank`` command's promotions,
rollbacks and judgment imports name ``cli:<user>``. (The retrain job's automatic promotion, recorded by
ltr.retrain as ``retrain:<who started it>``, needs the node and a trained model to run at all:
tests/integration/test_retrain_gate.py checks it.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import judgments_commands, models_commands
from core.access import audit
from core.db import migrate
from core.db.models import AuditEntry
from core.db.session import session_scope
from core.settings import get_settings
from ltr import registry

HASH = "ab" * 32


@pytest.fixture()
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    database = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate.upgrade(database)
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", database)
    monkeypatch.setenv("SHELFRANK_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHELFRANK_OPENSEARCH_URL", "http://127.0.0.1:9")  # the switch's template write fails fast
    # The parity gate and the feature store need the node: tests/unit/test_model_registry.py replaces them too.
    monkeypatch.setattr(models_commands, "default_gate", registry.artifact_gate)
    monkeypatch.setattr(models_commands, "store_upload", lambda model: None)
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def entries(url: str) -> list[tuple[str, str, str, dict]]:
    with session_scope(url) as session:
        return [(e.actor, e.action, e.target, e.detail)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def register(url: str, root: Path, *names: str) -> None:
    with session_scope(url) as session:
        for name in names:
            folder = root / name
            folder.mkdir()
            (folder / "model.txt").write_text("tree\n")
            (folder / "plugin_model.json").write_text("{}")
            registry.register_candidate(session, name=name, featureset="shelfrank_v1", featureset_hash=HASH,
                                        artifact_path=folder, params={}, metrics={})


def test_a_cli_promotion_and_rollback_are_in_the_audit_log(url: str, tmp_path: Path) -> None:
    register(url, tmp_path, "ltr-1", "ltr-2")
    runner = CliRunner()
    for args in (["promote", "ltr-1"], ["promote", "ltr-2", "--by", "erin"], ["rollback"]):
        result = runner.invoke(models_commands.app, args, env={"USER": "dave"})
        assert result.exit_code == 0, result.output
    refused = runner.invoke(models_commands.app, ["promote", "ltr-9"], env={"USER": "dave"})
    assert refused.exit_code == 1  # nothing changed, nothing recorded
    logged = entries(url)
    assert [(actor, action, target) for actor, action, target, _detail in logged] == [
        ("cli:dave", "model.promote", "ltr-1"), ("cli:erin", "model.promote", "ltr-2"),
        ("cli:dave", "model.rollback", "ltr-2")]
    assert logged[1][3]["previous"] == "ltr-1" and "holds model.txt" in logged[1][3]["gate"]  # the gate report
    assert logged[2][3] == {"restored": "ltr-1"}


def test_a_cli_judgments_import_is_in_the_audit_log(url: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("query,product_id,grade\ndrill,p1,2\nhammer,p2,1\n")
    bad.write_text(f"query,product_id,grade\n{'x' * 501},p1,2\n")
    runner = CliRunner()
    assert runner.invoke(judgments_commands.app, ["import", str(good)], env={"USER": "dave"}).exit_code == 0
    refused = runner.invoke(judgments_commands.app, ["import", str(bad)], env={"USER": "dave"})
    assert refused.exit_code == 1 and "bad.csv:2: query must be at most 500 characters" in refused.stderr
    assert entries(url) == [("cli:dave", "judgments.import", "good.csv",
                             {"queries": 2, "pairs": 2, "replaced": False})]


def test_the_command_line_actor_names_the_user_or_at_least_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    assert audit.command_line_actor("erin ") == "cli:erin"
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "dave")
    assert audit.command_line_actor() == "cli:dave"

    def nobody() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(audit.getpass, "getuser", nobody)
    assert audit.command_line_actor() == "cli"
