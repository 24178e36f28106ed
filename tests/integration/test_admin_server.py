"""``shelfrank admin serve`` as deployed (the compose file's command line): gunicorn workers, a login over real HTTP, a clean SIGTERM."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from core.access import users
from core.db import migrate
from core.db.session import session_scope
from tests.compose_commands import compose_command
from tests.integration.test_api_server import free_port

pytestmark = pytest.mark.integration


def test_the_console_server_logs_a_user_in_over_http_and_stops_cleanly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'console.db'}"
    migrate.upgrade(url)
    with session_scope(url) as session:
        users.create_user(session, "ada", "correct horse battery", "admin")
    port = free_port()
    log = tmp_path / "admin.log"
    env = {**os.environ, "SHELFRANK_DATABASE_URL": url, "SHELFRANK_STATE_DIR": str(tmp_path),
           "SHELFRANK_ADMIN_WORKERS": "2",
           # Python's cookie jar, unlike browsers, sends no Secure cookie to http://localhost (the browser
           # tests keep the default).
           "SHELFRANK_ADMIN_COOKIE_SECURE": "false"}
    with log.open("w") as out:
        process = subprocess.Popen(compose_command("admin", port), stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://localhost:{port}"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = opener.open(f"{base}/login", timeout=5).read().decode()
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "ada", "password": "correct horse battery",
                                       "csrf_token": token}).encode()
        overview = opener.open(f"{base}/login", data=form, timeout=30)
        assert overview.url == f"{base}/" and "ada (admin)" in overview.read().decode()
        # Both workers sign and check sessions with one secret, generated once (0600) for the machine.
        assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
        for _ in range(6):
            assert "ada (admin)" in opener.open(f"{base}/tasks", timeout=30).read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()
    assert "Booting worker" in log.read_text()
