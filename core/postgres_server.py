"""A local PostgreSQL for the tests and the demo, from Debian's `postgresql` package: its own data folder
under the state directory, bound to 127.0.0.1 on ``settings.local_postgres_port``, trust auth for local
connections only. Production uses the compose file's PostgreSQL; this is never it.

PostgreSQL refuses to run as root, so as root the cluster runs as the package's ``postgres`` user, from a
folder that user owns (like the local OpenSearch node).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from core.settings import Settings

USER = "shelfrank"


class PostgresUnavailable(RuntimeError):
    """The local PostgreSQL cannot be started; the message says what to do."""


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise PostgresUnavailable("PostgreSQL is not installed: run `apt-get install -y postgresql` (as root; "
                                  "`make setup` does it when run as root)")
    return Path(found[-1]).parent


class LocalPostgres:
    def __init__(self, settings: Settings) -> None:
        self.port = settings.local_postgres_port
        self.root = Path("/var/lib/shelfrank/postgres") if os.geteuid() == 0 else settings.state_dir / "postgres"
        self.data = self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True)

    def running(self) -> bool:
        return self._run(str(_binaries() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0

    def start(self, wait_s: float = 60.0) -> str:
        """Start it unless it runs already; returns the URL of its ``postgres`` database."""
        if self.running():
            return self.url()
        bin_dir = _binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            done = self._run(str(bin_dir / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                             "--encoding=UTF8", "--no-instructions")
            if done.returncode:
                raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-1500:]}")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
        done = self._run(str(bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "postgres.log"),
                         "-o", options, "-w", "-t", str(int(wait_s)), "start")
        if done.returncode:
            log = (self.root / "postgres.log").read_text()[-2000:] if (self.root / "postgres.log").exists() else ""
            raise PostgresUnavailable(f"PostgreSQL did not start on port {self.port}: {done.stderr.strip()}\n{log}")
        deadline = time.monotonic() + wait_s
        while not self.running():
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"PostgreSQL did not answer on port {self.port} within {wait_s:.0f}s")
            time.sleep(0.2)
        return self.url()

    def stop(self) -> bool:
        if not self.running():
            return False
        self._run(str(_binaries() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        return True

    def create_database(self, name: str) -> str:
        """A fresh, empty database (an existing one of that name is dropped first); returns its URL."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user={USER} dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
