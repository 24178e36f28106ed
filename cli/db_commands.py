"""``shelfrank db upgrade|current``: the metadata database schema."""

from __future__ import annotations

import typer

from cli.errors import user_errors
from core.db import migrate
from core.settings import get_settings


def _shown(url: str) -> str:
    """The URL as logs may keep it: without its password (the migrate service's output lands in docker logs)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

app = typer.Typer(help="Manage the metadata database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
@user_errors
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    url = get_settings().effective_database_url
    migrate.upgrade(url, revision)
    typer.echo(f"database {_shown(url)} is at revision {migrate.current_revision(url)}")


@app.command()
@user_errors
def current() -> None:
    """Print the schema revision of the configured database; exit code 1 when it is behind."""
    url = get_settings().effective_database_url
    revision = migrate.current_revision(url)
    typer.echo(f"{_shown(url)}: revision {revision or '(empty)'}; latest {migrate.head_revision()}")
    migrate.ensure_current(url)
