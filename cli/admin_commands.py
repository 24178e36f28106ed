"""``shelfrank admin serve|create-user|create-key|revoke-key``: the console and who may use the shop's APIs."""

from __future__ import annotations

import getpass
import sys

import typer

from cli.errors import fail, user_errors
from core.access import api_keys, audit, users
from core.access.users import ROLES, AccountError
from core.db import migrate
from core.db.session import session_scope
from core.settings import get_settings

app = typer.Typer(help="The admin console, its users, and the shop's API keys.", no_args_is_help=True)


def _url() -> str:
    url = get_settings().effective_database_url
    migrate.ensure_current(url)
    return url


@app.command("serve")
@user_errors
def serve(
    host: str = typer.Option(None, help="Bind address (default: SHELFRANK_ADMIN_HOST)."),
    port: int = typer.Option(None, help="Port (default: SHELFRANK_ADMIN_PORT)."),
    dev: bool = typer.Option(False, "--dev", help="Flask's development server (one process), for debugging."),
) -> None:
    """Serve the admin console with gunicorn (log in with a user from `shelfrank admin create-user`)."""
    settings = get_settings()
    _url()
    host, port = host or settings.admin_host, port or settings.admin_port
    if dev:
        from werkzeug.serving import run_simple

        from admin.app import create_app

        run_simple(host, port, create_app(settings), threaded=True)
        return
    from admin.server import serve as serve_production

    serve_production(settings, host, port)


@app.command("create-user")
@user_errors
def create_user(
    username: str = typer.Argument(..., help="Login name."),
    role: str = typer.Option("admin", help=f"One of {', '.join(ROLES)}."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input "
                                        "(for scripts) instead of prompting."),
) -> None:
    """Create a console user (the first admin, typically). The password is prompted for, never an argument."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (12+ characters): ")
        if getpass.getpass("Again: ") != password:
            raise fail("the passwords differ")
    try:
        with session_scope(_url()) as session:
            user = users.create_user(session, username, password, role)
            audit.record(session, audit.command_line_actor(), "user.create", user.username, {"role": user.role})
    except AccountError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"created {role} {username}; log in at http://{get_settings().admin_host}:{get_settings().admin_port}/login")


@app.command("create-key")
@user_errors
def create_key(name: str = typer.Argument(..., help="Who uses it, e.g. 'storefront-events'.")) -> None:
    """Create a shop API key for the events API and the write endpoints. It is printed once: store it."""
    who = audit.command_line_actor()
    try:
        with session_scope(_url()) as session:
            issued = api_keys.create_key(session, name, by=who)
            audit.record(session, who, "api_key.create", issued.record.name, {"prefix": issued.record.prefix})
    except ValueError as exc:
        raise fail(str(exc)) from None
    typer.echo(issued.key)


@app.command("revoke-key")
@user_errors
def revoke_key(key_id: int = typer.Argument(..., help="The key's id (see the console's API keys page).")) -> None:
    """Revoke a key: requests carrying it are refused from now on."""
    who = audit.command_line_actor()
    try:
        with session_scope(_url()) as session:
            record = api_keys.revoke_key(session, key_id, by=who)
            audit.record(session, who, "api_key.revoke", record.name, {"prefix": record.prefix})
    except LookupError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"revoked key {key_id} ({record.name})")
