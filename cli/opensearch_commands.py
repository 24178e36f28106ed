"""``shelfrank opensearch start|stop|status|wipe|provision``: the local development node."""

from __future__ import annotations

import json

import typer

from cli.errors import user_errors
from core.localnode import LocalNode, NodeStatus
from core.settings import get_settings

app = typer.Typer(
    help="Run the local single-node OpenSearch (with k-NN and Learning to Rank) assembled from "
    "Maven Central. Development and tests only; production uses docker-compose.",
    no_args_is_help=True,
)


def _node() -> LocalNode:
    return LocalNode(get_settings(), progress=lambda line: typer.echo(line, err=True))


def _print_status(status: NodeStatus, expected_plugins: list[str]) -> None:
    typer.echo(f"url:      {status.url}")
    typer.echo(f"version:  {status.version}")
    typer.echo(f"health:   {status.health}")
    typer.echo(f"pid:      {status.pid if status.managed else '(not started by shelfrank)'}")
    typer.echo(f"plugins:  {', '.join(status.plugins) or '(none)'}")
    typer.echo(f"modules:  {', '.join(status.modules) or '(none)'}")
    missing = [name for name in expected_plugins if name not in status.plugins]
    if missing:
        typer.secho(f"missing:  {', '.join(missing)} (this node was not assembled by Shelfrank, or an older "
                    "assembly lacks it: run `shelfrank opensearch wipe --cache --yes` and start again)",
                    fg=typer.colors.RED)


@app.command()
@user_errors
def provision() -> None:
    """Download (first time only) and assemble the node without starting it."""
    report = _node().provision()
    state = "downloaded" if report.downloaded else "cached downloads"
    typer.echo(f"node home: {report.home} ({state}, {'assembled' if report.assembled else 'already assembled'}, "
               f"{report.seconds:.1f}s)")


@app.command()
@user_errors
def start(
    wait: float = typer.Option(180.0, help="Seconds to wait for the node to become ready."),
) -> None:
    """Provision if needed, start the node in the background and wait until it is ready."""
    node = _node()
    _print_status(node.start(wait_s=wait), [p.name for p in node.recipe.plugins])


@app.command()
@user_errors
def stop() -> None:
    """Stop the node started by ``shelfrank opensearch start``."""
    if _node().stop():
        typer.echo("stopped")
    else:
        typer.echo("not running (nothing to stop)")


@app.command()
@user_errors
def status(as_json: bool = typer.Option(False, "--json", help="Print the status as one JSON object.")) -> None:
    """Print version, health, plugins and modules; exit code 1 when the node is not running."""
    node = _node()
    current = node.status()
    if as_json:
        typer.echo(json.dumps(current.__dict__))
    elif current.running:
        _print_status(current, [p.name for p in node.recipe.plugins])
    else:
        typer.secho(f"OpenSearch is not running at {current.url} (start it with: shelfrank opensearch start)",
                    err=True)
    if not current.running:
        raise typer.Exit(1)


@app.command()
@user_errors
def wipe(
    cache: bool = typer.Option(False, "--cache", help="Also delete the downloads and the assembled node."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Stop the node and delete its data and logs (every local index is lost)."""
    if not yes:
        typer.confirm("Delete all local OpenSearch data?", abort=True)
    for path in _node().wipe(include_cache=cache):
        typer.echo(f"removed {path}")
