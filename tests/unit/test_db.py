from pathlib import Path

import pytest
from sqlalchemy import select

from core.db import migrate
from core.db.models import TaskRun
from core.db.session import session_scope


def test_fresh_database_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(migrate.DatabaseNotReady, match="run: shelfrank db upgrade"):
        migrate.ensure_current(url)


def test_upgrade_creates_the_schema_and_models_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shelfrank.db'}"
    migrate.upgrade(url)
    migrate.ensure_current(url)
    assert migrate.current_revision(url) == migrate.head_revision()
    with session_scope(url) as session:
        session.add(TaskRun(task="reindex", params={"index": "products"}))
    with session_scope(url) as session:
        run = session.scalars(select(TaskRun)).one()
        assert (run.task, run.status, run.params) == ("reindex", "running", {"index": "products"})
        assert run.started_at is not None


def test_upgrade_twice_is_harmless(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    migrate.upgrade(url)
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.head_revision()


def test_failed_transaction_is_rolled_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rollback.db'}"
    migrate.upgrade(url)
    with pytest.raises(RuntimeError):
        with session_scope(url) as session:
            session.add(TaskRun(task="retrain"))
            session.flush()
            raise RuntimeError("boom")
    with session_scope(url) as session:
        assert session.scalars(select(TaskRun)).all() == []


def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    """A model change without its migration (or the reverse) shows up here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db.models import Base
    from core.db.session import engine_for

    url = f"sqlite:///{tmp_path / 'schema.db'}"
    migrate.upgrade(url)
    with engine_for(url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
