"""The ``shelfrank`` command as a user meets it: cached provisioning, clear errors, a full lifecycle."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.localnode import LocalNode
from core.settings import Settings

pytestmark = pytest.mark.integration

SHELFRANK = str(Path(sys.executable).parent / "shelfrank")


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHELFRANK, *args], capture_output=True, text=True, env={**os.environ, **env},
                          timeout=300, check=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_second_provision_downloads_nothing(opensearch_node: LocalNode) -> None:
    downloads = opensearch_node.downloads.root
    before = {p: p.stat().st_mtime_ns for p in downloads.rglob("*")}
    # With Maven unavailable, any attempt to download would fail loudly.
    result = run_cli("opensearch", "provision", SHELFRANK_MAVEN_COMMAND="/nonexistent/mvn")
    assert result.returncode == 0, result.stderr
    assert "cached downloads" in result.stdout and "already assembled" in result.stdout
    assert {p: p.stat().st_mtime_ns for p in downloads.rglob("*")} == before


def test_unknown_subcommand_is_a_usage_error() -> None:
    result = run_cli("opensearch", "launch")
    assert result.returncode == 2
    assert "No such command 'launch'" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_a_node_that_is_not_running() -> None:
    result = run_cli("opensearch", "status", SHELFRANK_OPENSEARCH_URL=f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "not running" in result.stderr and "shelfrank opensearch start" in result.stderr
    assert "Traceback" not in result.stderr


def test_start_on_a_taken_port_names_the_port() -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        # The squatter accepts connections but never answers HTTP, like an unrelated service.
        result = run_cli("opensearch", "start", SHELFRANK_OPENSEARCH_URL=f"http://127.0.0.1:{port}",
                         SHELFRANK_OPENSEARCH_DIR=tempfile.mkdtemp(prefix="shelfrank-unused-"))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_remote_url_is_refused_for_the_local_node() -> None:
    result = run_cli("opensearch", "start", SHELFRANK_OPENSEARCH_URL="http://search.example.com:9200")
    assert result.returncode == 1
    assert "binds to 127.0.0.1 only" in result.stderr


@pytest.fixture
def second_node(settings: Settings, opensearch_node: LocalNode) -> Iterator[LocalNode]:
    """A separate node (own folder and port) sharing the download cache, so nothing is downloaded."""
    root = Path(tempfile.mkdtemp(prefix="shelfrank-node-"))
    root.chmod(0o755)  # as root the node runs as a system user that must enter this folder
    other = settings.model_copy(update={"opensearch_dir": root, "opensearch_url": f"http://127.0.0.1:{free_port()}",
                                        "opensearch_heap": "512m"})
    node = LocalNode(other, progress=lambda _line: None)
    yield node
    node.wipe(include_cache=False)


def test_start_stop_wipe_lifecycle(second_node: LocalNode) -> None:
    import json
    import urllib.request

    status = second_node.start()
    assert status.running and status.managed and status.health in ("green", "yellow")
    assert second_node.start().pid == status.pid  # starting again reuses the running node

    request = urllib.request.Request(second_node.url + "/lifecycle-probe/_doc/1?refresh=true",
                                     data=json.dumps({"title": "kept across restarts"}).encode(),
                                     headers={"content-type": "application/json"}, method="PUT")
    urllib.request.urlopen(request, timeout=30).read()

    assert second_node.stop() is True
    assert second_node.status().running is False
    assert second_node.stop() is False  # stopping a stopped node is not an error

    second_node.start()
    with urllib.request.urlopen(second_node.url + "/lifecycle-probe/_count", timeout=30) as response:
        assert json.loads(response.read())["count"] == 1

    second_node.wipe()
    assert not second_node.status().running
    second_node.start()
    with urllib.request.urlopen(second_node.url + "/_cat/indices?format=json", timeout=30) as response:
        assert "lifecycle-probe" not in {row["index"] for row in json.loads(response.read())}
    second_node.stop()
