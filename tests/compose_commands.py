"""The command lines docker-compose.yml runs, for the tests that start the same servers locally."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[1] / "docker-compose.yml"


def compose_command(service: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """``service``'s command from the compose file, run with this checkout's ``shelfrank`` and bound to
    ``host``:``port`` instead of the container's 0.0.0.0 and fixed port; every other argument as deployed."""
    command = list(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"][service]["command"])
    assert command[0] == "shelfrank", command
    for option, value in (("--host", host), ("--port", str(port))):
        assert option in command, f"{service}'s command sets no {option}: {command}"
        command[command.index(option) + 1] = value
    return [str(Path(sys.executable).parent / "shelfrank"), *command[1:]]
