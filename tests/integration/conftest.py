"""Fixtures shared by the integration tests that run on the project's own PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from core.db import migrate
from core.postgres_server import LocalPostgres
from core.settings import Settings


@pytest.fixture(scope="module")
def postgres(settings: Settings) -> Iterator[LocalPostgres]:
    """The local cluster, stopped afterwards only if this module started it (and the node is not kept)."""
    server = LocalPostgres(settings)
    started_here = not server.running()
    server.start()
    yield server
    if started_here and not os.environ.get("SHELFRANK_KEEP_NODE"):
        server.stop()


@pytest.fixture
def postgres_url(postgres: LocalPostgres) -> str:
    """A fresh, migrated database of its own for each test."""
    database = postgres.create_database(f"shelfrank_test_{uuid.uuid4().hex[:8]}")
    migrate.upgrade(database)
    return database
