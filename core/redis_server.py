"""The local Redis the workers use in development, tests and the demo (production uses the compose file's).

Like the local OpenSearch node: the Debian package's ``redis-server`` binary, started by us, bound to
127.0.0.1 on the broker URL's port, with its data, log and pid file under the state directory, so
nothing outside that folder is touched and several checkouts can each run their own.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import redis

from core.processes import running_pid, stop_pid_file
from core.settings import Settings


class RedisUnavailable(RuntimeError):
    """The broker cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class RedisStatus:
    url: str
    running: bool
    pid: int | None  # when started by us
    version: str | None


class LocalRedis:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.broker_url
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 6379
        self.root = settings.state_dir / "redis"

    @property
    def pid_file(self) -> Path:
        return self.root / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "redis.log"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def status(self) -> RedisStatus:
        """Running means ready for commands: a Redis still loading its append-only file answers INFO but
        refuses everything else with BusyLoadingError, so it does not count as running yet."""
        pid = self._managed_pid()
        try:
            info = self.client().info()
        except redis.RedisError:
            return RedisStatus(self.url, False, pid, None)
        ready = not int(info.get("loading", 0) or 0) and not int(info.get("async_loading", 0) or 0)
        return RedisStatus(self.url, ready, pid, str(info.get("redis_version")))

    def start(self, wait_s: float = 20.0) -> RedisStatus:
        """Start it unless something already answers on the broker URL; wait until it answers."""
        status = self.status()
        if status.running:
            return status
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise RedisUnavailable(f"the broker {self.url} does not answer, and only a local one can be started")
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server is not installed: run `apt-get install -y redis-server` "
                                   "(as root; `make setup` does it when run as root)")
        self.root.mkdir(parents=True, exist_ok=True)
        subprocess.run([binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.root),
                        "--daemonize", "yes", "--pidfile", str(self.pid_file), "--logfile", str(self.log_file),
                        "--appendonly", "yes", "--save", "", "--protected-mode", "yes"],
                       check=True, capture_output=True, text=True)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            status = self.status()
            if status.running:
                return status
            time.sleep(0.1)
        tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
        raise RedisUnavailable(f"redis-server did not answer on {self.url} within {wait_s:.0f}s; log:\n{tail}")

    def stop(self, timeout_s: float = 20.0) -> bool:
        """Stop the Redis we started (its data is kept); False when none of ours was running."""
        return stop_pid_file(self.pid_file, timeout_s)

    def _managed_pid(self) -> int | None:
        return running_pid(self.pid_file)
