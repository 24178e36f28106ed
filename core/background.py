"""``shelfrank`` commands kept running in the background for the demo: the worker, the API, the console.

Each runs detached (its own session, so a Ctrl-C in the terminal that started it does not reach it), with
its pid file and log under ``state_dir/run``; starting one that already runs is a no-op, so a second
``make demo`` reuses what the first left running and ``make demo-stop`` stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.processes import running_pid, stop_pid_file
from core.settings import Settings


class ServiceDidNotStart(RuntimeError):
    """A background command exited or never answered; the message holds the end of its log."""


@dataclass(frozen=True)
class BackgroundService:
    name: str
    args: tuple[str, ...]  # after `shelfrank`
    ready_url: str | None = None  # answers 200 once the service serves; None: ready once started

    def pid_file(self, settings: Settings) -> Path:
        return settings.state_dir / "run" / f"{self.name}.pid"

    def log_file(self, settings: Settings) -> Path:
        return settings.state_dir / "run" / f"{self.name}.log"

    def pid(self, settings: Settings) -> int | None:
        return running_pid(self.pid_file(settings))

    def start(self, settings: Settings, wait_s: float = 120.0) -> tuple[int, bool]:
        """(pid, whether it was started now). Waits until ``ready_url`` answers."""
        pid = self.pid(settings)
        if pid is not None:
            return pid, False
        log = self.log_file(settings)
        log.parent.mkdir(parents=True, exist_ok=True)
        shelfrank = Path(sys.executable).parent / "shelfrank"
        with log.open("a") as out:
            process = subprocess.Popen([str(shelfrank), *self.args], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ))
        self.pid_file(settings).write_text(str(process.pid))
        deadline = time.monotonic() + wait_s
        while self.ready_url is not None:
            if process.poll() is not None:
                raise ServiceDidNotStart(f"`shelfrank {' '.join(self.args)}` exited ({process.returncode}); "
                                         f"its log {log}:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ServiceDidNotStart(f"`shelfrank {' '.join(self.args)}` did not answer {self.ready_url} within "
                                         f"{wait_s:.0f}s; its log {log}:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        return process.pid, True

    def stop(self, settings: Settings, timeout_s: float = 60.0) -> bool:
        """SIGTERM (gunicorn and Celery finish what they are doing), SIGKILL after ``timeout_s``."""
        return stop_pid_file(self.pid_file(settings), timeout_s)
