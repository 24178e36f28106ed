"""Turn the errors a user can act on into one clear line and an exit code, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def user_errors_caught() -> tuple[type[Exception], ...]:
    """The errors a user can act on. Imported when a command fails, not when the CLI starts: their modules
    pull in the OpenSearch client, Alembic and NumPy, which `shelfrank --help` has no use for."""
    from core.db.migrate import DatabaseNotReady
    from core.localnode import NodeError
    from indexer.sources import CatalogSourceError
    from indexer.versions import IndexerError
    from ltr.behaviour_sync import BehaviourSyncError
    from ltr.click_labels import NotEnoughClicks
    from ltr.history_sync import HistorySyncError
    from ltr.ranker.extract import IndexLacksFields
    from ltr.store import FeatureStoreError

    return (NodeError, DatabaseNotReady, IndexerError, CatalogSourceError,
            FeatureStoreError, BehaviourSyncError, HistorySyncError, NotEnoughClicks, IndexLacksFields,
            ConnectionError, FileNotFoundError)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator for commands: known errors become ``error: ...`` on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

            if isinstance(exc, OpenSearchConnectionError):
                raise fail(f"cannot reach OpenSearch ({exc.info}); is it running? (shelfrank opensearch start)") from None
            if isinstance(exc, user_errors_caught()):
                raise fail(str(exc)) from None
            raise

    return wrapper
