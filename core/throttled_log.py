"""A warning that may fire thousands of times a second (every search while a dependency is down),
logged at most once per interval with how often it happened since the last line."""

from __future__ import annotations

import logging
import threading
import time


class ThrottledWarning:
    def __init__(self, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self.logger, self.interval_s = logger, interval_s
        self._lock = threading.Lock()
        self._since = 0
        self._last = -float("inf")

    def __call__(self, message: str, *args: object) -> None:
        """Count one occurrence; log ``message % args`` and the count if the interval has passed."""
        with self._lock:
            self._since += 1
            now = time.monotonic()
            if now - self._last < self.interval_s:
                return
            count, self._since, self._last = self._since, 0, now
        self.logger.warning(message + " (%d times since the last warning)", *args, count)
