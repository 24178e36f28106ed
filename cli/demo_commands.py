"""``shelfrank demo``: bring up the local stack and run the main job end to end.

Each feature issue grows this command; today it provisions and starts OpenSearch and
migrates the metadata database, then prints where to look.
"""

from __future__ import annotations

import typer

from cli.errors import user_errors
from core.db import migrate
from core.localnode import LocalNode
from core.settings import get_settings


@user_errors
def demo() -> None:
    """Start the local stack (OpenSearch, database) and print where to look."""
    settings = get_settings()
    node = LocalNode(settings, progress=lambda line: typer.echo(line, err=True))
    status = node.start()
    migrate.upgrade(settings.effective_database_url)
    typer.echo("")
    typer.echo(f"OpenSearch {status.version} ({status.health}) at {status.url}")
    typer.echo(f"  plugins: {', '.join(status.plugins)}")
    typer.echo(f"  modules: {', '.join(status.modules)}")
    typer.echo(f"  logs:    {node.root / 'logs'}")
    typer.echo(f"Database: {settings.effective_database_url} (revision {migrate.current_revision(settings.effective_database_url)})")
    typer.echo("Stop the node with: .venv/bin/shelfrank opensearch stop")
