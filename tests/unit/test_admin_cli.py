"""``shelfrank admin create-user|create-key|revoke-key`` on a real SQLite database, each change in the audit
log as ``cli:<user>`` (core.access.audit.command_line_actor), like the other commands' changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cli import admin_commands
from core.access import api_keys, audit, users
from core.db import migrate
from core.db.models import ApiKey, AuditEntry
from core.db.session import session_scope
from core.settings import get_settings


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(database)
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", database)
    monkeypatch.setenv("SHELFRANK_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "dave")  # the login name the actor names
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(admin_commands.app, list(args), input=stdin)


def entries(url: str) -> list[tuple[str, str, str, dict]]:
    with session_scope(url) as session:
        return [(e.actor, e.action, e.target, e.detail)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_the_first_admin_is_created_from_the_command_line(url: str) -> None:
    short = invoke("create-user", "ada", "--password-stdin", stdin="short\n")
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    made = invoke("create-user", "ada", "--password-stdin", stdin="correct horse battery\n")
    assert made.exit_code == 0, made.output
    again = invoke("create-user", "ADA", "--role", "viewer", "--password-stdin", stdin="correct horse battery\n")
    assert again.exit_code != 0 and "already exists" in again.output
    with session_scope(url) as session:
        assert users.authenticate(session, "ada", "correct horse battery").role == "admin"
        assert users.authenticate(session, "ada", "wrong horse battery") is None
    assert entries(url) == [("cli:dave", "user.create", "ada", {"role": "admin"})]  # the refusals record nothing


def test_a_key_is_printed_once_works_and_stops_working_when_revoked(url: str) -> None:
    created = invoke("create-key", "storefront")
    key = created.output.strip()
    assert created.exit_code == 0 and key.startswith(api_keys.KEY_PREFIX)
    with session_scope(url) as session:
        record = api_keys.verify_key(session, key)
        assert record is not None and record.name == "storefront"
        key_id = record.id
    assert invoke("revoke-key", str(key_id)).exit_code == 0
    with session_scope(url) as session:
        assert api_keys.verify_key(session, key) is None
    assert "no API key with id 999" in invoke("revoke-key", "999").output
    prefix = key[:12]
    assert entries(url) == [("cli:dave", "api_key.create", "storefront", {"prefix": prefix}),
                            ("cli:dave", "api_key.revoke", "storefront", {"prefix": prefix})]
    with session_scope(url) as session:
        stored = session.get(ApiKey, key_id)
        assert (stored.created_by, stored.revoked_by) == ("cli:dave", "cli:dave")
