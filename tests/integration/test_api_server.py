"""``shelfrank api serve`` as deployed (the compose file's command line): gunicorn worker processes against the real node and a SQLite file.

Concurrent shoppers are answered while the metadata database is locked by another writer (the
``database is locked`` 500 of the issue), every impression of every answered search is in the
database after a clean shutdown (SIGTERM), and a node that cannot be reached gets a 503 with a
retry hint.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.db import migrate
from tests.compose_commands import compose_command
from tests.integration.test_storefront_search import CATALOGUE

pytestmark = pytest.mark.integration
QUERIES = ["cordless drill", "exterior paint", "outdoor lights", "screwdriver", "white paint gallon", "drill kit",
           "lantern", "hammer drill", "solar path lights", "satin paint"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen  # type: ignore[type-arg]
    database: Path
    log: Path

    def stop(self) -> str:
        """SIGTERM, as a process manager would send; returns the server's log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        return self.log.read_text()


def post(url: str, payload: dict, timeout: float = 10.0) -> tuple[int, dict, dict]:  # type: ignore[type-arg]
    request = urllib.request.Request(url + "/api/v1/search", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), dict(exc.headers)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(**env: str) -> Server:
        database = tmp_path / f"api-{len(servers)}.db"
        migrate.upgrade(f"sqlite:///{database}")
        port = free_port()
        log = tmp_path / f"server-{len(servers)}.log"
        environment = {**os.environ, "SHELFRANK_DATABASE_URL": f"sqlite:///{database}", "SHELFRANK_API_WORKERS": "2",
                       "SHELFRANK_API_THREADS": "4", "SHELFRANK_RECORD_FLUSH_INTERVAL_S": "0.2", **env}
        with log.open("w") as out:
            # The compose file's command line (gunicorn), on a local port.
            process = subprocess.Popen(compose_command("api", port), stdout=out, stderr=subprocess.STDOUT,
                                       env=environment)
        server = Server(f"http://127.0.0.1:{port}", process, database, log)
        servers.append(server)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # both workers booted and warmed up (encoder loaded)
            assert process.poll() is None, log.read_text()
            if log.read_text().count("Booting worker") >= 2:
                try:
                    with urllib.request.urlopen(server.url + "/api/v1/health", timeout=2):  # noqa: S310
                        return server
                except OSError:
                    pass
            time.sleep(0.5)
        raise AssertionError(f"the API did not come up:\n{log.read_text()}")

    yield start
    for server in servers:
        server.stop()


def stored(database: Path) -> tuple[set[str], int]:
    with sqlite3.connect(database) as db:
        searches = {row[0] for row in db.execute("SELECT search_id FROM searches")}
        return searches, db.execute("SELECT count(*) FROM impressions").fetchone()[0]


def test_concurrent_shoppers_are_answered_while_the_database_is_locked_and_nothing_is_lost(
        build_catalogue: Callable[..., str], start_server: Callable[..., Server]) -> None:
    alias = build_catalogue("test-api-server-catalogue", CATALOGUE)
    server = start_server(SHELFRANK_DEFAULT_INDEX=alias)

    holder = sqlite3.connect(server.database, isolation_level=None, timeout=30)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing (a big event import, say) holds the lock
    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: post(server.url, {"query": QUERIES[i % len(QUERIES)], "size": 5,
                                                                "user_id": f"u{i % 7}"}), range(160)))
        statuses = [status for status, _body, _headers in answers]
        assert statuses == [200] * 160, {s: statuses.count(s) for s in set(statuses)}
        assert stored(server.database)[0] == set()  # nothing could be written yet, and nobody waited for it
    finally:
        holder.execute("COMMIT")
        holder.close()

    bodies = [body for _status, body, _headers in answers]
    assert all(body["results"] for body in bodies)
    log = server.stop()  # clean shutdown: the buffers are written before the workers exit
    searches, impressions = stored(server.database)
    assert searches == {body["search_id"] for body in bodies}
    assert impressions == sum(len(body["results"]) for body in bodies)
    assert "recorder closed" in log and "Traceback" not in log


def test_an_unreachable_node_gets_a_503_with_a_retry_hint(start_server: Callable[..., Server]) -> None:
    server = start_server(SHELFRANK_OPENSEARCH_URL=f"http://127.0.0.1:{free_port()}")
    status, body, headers = post(server.url, {"query": "drill"})
    assert status == 503 and "unavailable" in body["error"]
    assert headers["Retry-After"] == "1" and body["retry_after_s"] == 1
    status, body, _headers = post(server.url, {"query": "drill", "size": 1000})
    assert status == 400 and body["field"] == "size"  # bad requests still say what is wrong


def test_readiness_against_the_real_node_and_database(tmp_path: Path, opensearch_node) -> None:  # type: ignore[no-untyped-def]
    from api.app import create_app
    from core.settings import get_settings

    url = f"sqlite:///{tmp_path / 'ready.db'}"
    migrate.upgrade(url)
    client = create_app(get_settings().model_copy(update={"database_url": url})).test_client()
    response = client.get("/api/v1/ready")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok",
                                                                   "opensearch": "ok"}


def test_readiness_names_a_query_encoder_other_than_the_one_the_live_index_was_built_with(
        build_catalogue: Callable[..., str], bert_encoder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An API started with another model than the rebuild's (a fine-tuned copy, same dimension) gets cosines
    that mean nothing and no error: readiness names both models, and stays ready (a worse hybrid beats no
    search for every API of the shop at once)."""
    from dataclasses import replace
    from types import SimpleNamespace

    from api.app import create_app
    from core.settings import get_settings

    alias = build_catalogue("test-api-dev-catalogue", CATALOGUE)
    url = f"sqlite:///{tmp_path / 'ready.db'}"
    migrate.upgrade(url)
    built = SimpleNamespace(index=alias, encoder=SimpleNamespace(identity=bert_encoder.identity))
    client = create_app(get_settings().model_copy(update={"database_url": url}), built).test_client()  # type: ignore[arg-type]
    response = client.get("/api/v1/ready")
    assert response.status_code == 200 and response.get_json()["query_encoder"] == "ok"

    finetuned = replace(bert_encoder.identity, name="minilm-shop-finetuned", weights_sha256="f" * 64)
    built.encoder.identity = finetuned
    response = client.get("/api/v1/ready")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert bert_encoder.identity.key in body["query_encoder"] and finetuned.key in body["query_encoder"]
    assert "SHELFRANK_MODEL_PATH" in body["query_encoder"]


def test_the_development_server_answers_and_writes_its_impressions_on_ctrl_c(
        build_catalogue: Callable[..., str], tmp_path: Path) -> None:
    """``shelfrank api serve --dev``: one process (Flask's server), the same app; searches are answered while
    the database is locked, and Ctrl-C still writes the buffered impressions once it is free again."""
    alias = build_catalogue("test-api-dev-catalogue", CATALOGUE)
    database = tmp_path / "dev.db"
    migrate.upgrade(f"sqlite:///{database}")
    port, log = free_port(), tmp_path / "dev.log"
    shelfrank = str(Path(compose_command("api", port)[0]))
    environment = {**os.environ, "SHELFRANK_DATABASE_URL": f"sqlite:///{database}", "SHELFRANK_DEFAULT_INDEX": alias}
    with log.open("w") as out:
        # As in a terminal: a test run started in the background (``make test &``) ignores SIGINT, and a child
        # inherits that, so Ctrl-C would never reach the server.
        process = subprocess.Popen([shelfrank, "api", "serve", "--dev", "--host", "127.0.0.1", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=environment,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    url = f"http://127.0.0.1:{port}"
    holder = sqlite3.connect(database, isolation_level=None, timeout=30)
    interrupted = False
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(url + "/api/v1/health", timeout=2):  # noqa: S310
                    break
            except OSError:
                assert time.monotonic() < deadline, f"the development server did not come up:\n{log.read_text()}"
                time.sleep(0.5)
        holder.execute("BEGIN EXCLUSIVE")  # nothing can be written until after Ctrl-C
        answers = [post(url, {"query": query, "size": 5}) for query in QUERIES[:4]]
        assert [status for status, _body, _headers in answers] == [200] * 4
        assert all(body["results"] for _status, body, _headers in answers)
        assert "Booting worker" not in log.read_text()  # not gunicorn
        process.send_signal(signal.SIGINT)
        interrupted = True
        time.sleep(1.0)
        assert process.poll() is None  # still writing: it waits for the database rather than dropping the pages
    finally:
        if holder.in_transaction:
            holder.execute("COMMIT")
        holder.close()
        if not interrupted and process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # the development server writes its threads' stacks to its log
            time.sleep(1.0)
            process.kill()
            pytest.fail(f"the development server did not exit 60 s after Ctrl-C:\n{log.read_text()[-8000:]}")
    searches, impressions = stored(database)
    assert searches == {body["search_id"] for _status, body, _headers in answers}
    assert impressions == sum(len(body["results"]) for _status, body, _headers in answers)
