"""Lifecycle of the local node: provision (fetch + assemble, cached), start, stop, status, wipe.

Layout under ``settings.opensearch_dir``::

    dist/opensearch-<version>-<fingerprint>/   assembled home (read-only once built)
    config/  data/  logs/  tmp/  run/opensearch.pid

Downloads stay in ``settings.cache_dir`` so that wiping the node never re-downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from core.localnode import maven
from core.localnode.assemble import assemble
from core.localnode.errors import NodeError
from core.localnode.java import find_java_home
from core.localnode.recipe import NodeRecipe, PluginSpec, default_recipe
from core.processes import running_pid, stop_pid_file
from core.settings import Settings

CLUSTER_NAME = "shelfrank-local"
Progress = Callable[[str], None]


@dataclass
class ProvisionReport:
    home: Path
    downloaded: bool
    assembled: bool
    seconds: float


@dataclass
class NodeStatus:
    url: str
    running: bool
    managed: bool = False  # started by this project (our pid file), not some other server
    pid: int | None = None
    version: str | None = None
    plugins: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    health: str | None = None


def _http_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (local URL)
        return json.loads(response.read())


class LocalNode:
    """One local single-node cluster, bound to the host and port of ``settings.opensearch_url``."""

    def __init__(self, settings: Settings, recipe: NodeRecipe | None = None, progress: Progress = print) -> None:
        self.settings = settings
        self.recipe = recipe or default_recipe()
        self.progress = progress
        self.root = settings.opensearch_dir
        parts = urlsplit(settings.opensearch_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 9200
        self.url = settings.opensearch_url

    # -- paths -----------------------------------------------------------------------------
    @property
    def pid_file(self) -> Path:
        return self.root / "run" / "opensearch.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "logs" / f"{CLUSTER_NAME}.log"

    @property
    def downloads(self) -> maven.Downloads:
        return maven.Downloads(self.settings.cache_dir / "downloads" / f"opensearch-{self.recipe.version}-{self.recipe.fingerprint}")

    def plugin_zip(self, plugin: PluginSpec) -> Path:
        """Where ``plugin``'s zip comes from: Maven Central's download first, else the artifacts folder.

        A zip taken from the folder is copied into the download cache (outside the repository),
        so later starts need the folder no more than they need Maven. Every plugin is required
        (search, vectors and learning to rank all run in the engine), so when neither route has
        it the error names both.
        """
        cached = self.downloads.plugin_zip(plugin)
        if cached.is_file():
            return cached
        folder = self.settings.opensearch_artifacts_dir
        if folder and (folder / plugin.file_name).is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(cached.name + ".partial")
            shutil.copyfile(folder / plugin.file_name, partial)
            partial.rename(cached)
            return cached
        where = (f"SHELFRANK_OPENSEARCH_ARTIFACTS_DIR={folder} has no {plugin.file_name}" if folder
                 else "SHELFRANK_OPENSEARCH_ARTIFACTS_DIR is not set")
        raise NodeError(
            f"the {plugin.name} plugin ({plugin.coordinate}) is required but could not be obtained: Maven Central "
            f"(or this machine's mirror of it) does not have it, and {where}. Either let Maven reach "
            f"{plugin.coordinate}, or put {plugin.file_name} in a folder, set SHELFRANK_OPENSEARCH_ARTIFACTS_DIR "
            "to it (`make setup` uses ../shared/opensearch-plugins when that folder exists), and run "
            "`shelfrank opensearch provision` again"
        )

    # -- provisioning ----------------------------------------------------------------------
    def provision(self) -> ProvisionReport:
        """Fetch (first time only) and assemble (when the recipe changed) the node's home."""
        started = time.monotonic()
        java_home = find_java_home(self.settings.java_home)
        downloads = self.downloads
        downloaded = not downloads.marker.exists()
        if downloaded:
            self.progress(
                f"Fetching OpenSearch {self.recipe.version} and its plugins from Maven Central "
                f"(first time only) into {downloads.root} ..."
            )
            maven.fetch(self.recipe, downloads, self.settings.maven_command, self.settings.cache_dir / "maven")
        zips = [self.plugin_zip(plugin) for plugin in self.recipe.plugins]
        target = self.root / "dist" / f"opensearch-{self.recipe.version}-{self.recipe.fingerprint}-{_zips_key(zips)}"
        assembled = not (target / ".assembled").exists()
        if assembled:
            self.progress(f"Assembling the node in {target} ...")
            assemble(self.recipe, downloads, zips, target, java_home)
        return ProvisionReport(target, downloaded, assembled, seconds=time.monotonic() - started)

    # -- lifecycle ---------------------------------------------------------------------------
    def _managed_pid(self) -> int | None:
        return running_pid(self.pid_file)

    def status(self) -> NodeStatus:
        pid = self._managed_pid()
        try:
            root = _http_json(self.url + "/")
        except (urllib.error.URLError, OSError, ValueError):
            return NodeStatus(url=self.url, running=False, managed=pid is not None, pid=pid)
        info = _http_json(self.url + "/_nodes/_local/plugins")
        node = next(iter(info.get("nodes", {}).values()), {})
        health = _http_json(self.url + "/_cluster/health").get("status")
        return NodeStatus(
            url=self.url,
            running=True,
            managed=pid is not None and root.get("cluster_name") == CLUSTER_NAME,
            pid=pid,
            version=root.get("version", {}).get("number"),
            plugins=sorted(p["name"] for p in node.get("plugins", [])),
            modules=sorted(m["name"] for m in node.get("modules", [])),
            health=health,
        )

    def _check_can_bind(self) -> None:
        if self.host not in ("127.0.0.1", "localhost"):
            raise NodeError(
                f"SHELFRANK_OPENSEARCH_URL={self.url} is not local; the local node binds to 127.0.0.1 "
                "only (use http://127.0.0.1:<port>)"
            )
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                raise NodeError(
                    f"port {self.port} on 127.0.0.1 is already in use by another process; stop it or "
                    f"choose another port with SHELFRANK_OPENSEARCH_URL=http://127.0.0.1:<port>"
                )

    def _write_config(self, home: Path) -> None:
        config = self.root / "config"
        config.mkdir(parents=True, exist_ok=True)
        shutil.copy2(home / "config" / "log4j2.properties", config / "log4j2.properties")
        # The stock options point GC logs and heap dumps at paths relative to the (read-only)
        # distribution; send them to this node's own logs/ and data/ instead.
        logs, data = self.root / "logs", self.root / "data"
        options = (home / "config" / "jvm.options").read_text()
        options = options.replace("=logs/", f"={logs}/").replace("HeapDumpPath=data", f"HeapDumpPath={data}")
        (config / "jvm.options").write_text(options)
        (config / "jvm.options.d").mkdir(exist_ok=True)
        heap = self.settings.opensearch_heap
        (config / "jvm.options.d" / "shelfrank-heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
        (config / "opensearch.yml").write_text(
            "# Written by `shelfrank opensearch start`; edits are overwritten.\n"
            f"cluster.name: {CLUSTER_NAME}\n"
            "node.name: shelfrank-local-1\n"
            "network.host: 127.0.0.1\n"
            f"http.port: {self.port}\n"
            "transport.port: 9300-9400\n"
            "discovery.type: single-node\n"
            f"path.data: {self.root / 'data'}\n"
            f"path.logs: {self.root / 'logs'}\n"
            # A development disk that is nearly full must not turn test indices read-only.
            "cluster.routing.allocation.disk.threshold_enabled: false\n"
        )

    def _service_account(self) -> tuple[int, int] | None:
        """As root, the uid/gid of the system user the node runs as (created on first use)."""
        if os.geteuid() != 0:
            return None
        name = self.settings.opensearch_user
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(self.root),
                 "--shell", "/usr/sbin/nologin", name],
                check=True, capture_output=True,
            )
            entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid

    def start(self, wait_s: float = 180.0) -> NodeStatus:
        current = self.status()
        if current.running:
            if current.managed:
                return current
            raise NodeError(
                f"another OpenSearch (or other server) already answers at {self.url}; stop it or "
                "choose another port with SHELFRANK_OPENSEARCH_URL"
            )
        self._check_can_bind()
        home = self.provision().home
        java_home = find_java_home(self.settings.java_home)
        for sub in ("data", "logs", "tmp", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._write_config(home)
        self.pid_file.unlink(missing_ok=True)
        account = self._service_account()
        command = [str(home / "bin" / "opensearch"), "-p", str(self.pid_file), "-q"]
        if account:
            uid, gid = account
            for sub in ("config", "data", "logs", "tmp", "run"):
                _chown_tree(self.root / sub, uid, gid)
            command = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"] + command
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "JAVA_HOME": str(java_home),
            "OPENSEARCH_JAVA_HOME": str(java_home),
            "OPENSEARCH_PATH_CONF": str(self.root / "config"),
            "OPENSEARCH_TMPDIR": str(self.root / "tmp"),
        }
        console = open(self.root / "logs" / "console.log", "ab")  # noqa: SIM115 (handed to the child)
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            start_new_session=True, cwd=self.root,
        )
        console.close()
        self.progress(f"Starting OpenSearch {self.recipe.version} at {self.url} (logs: {self.root / 'logs'}) ...")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise NodeError(f"OpenSearch exited during startup (code {process.returncode}):\n{self._log_tail()}")
            status = self.status()
            if status.running and status.health in ("green", "yellow"):
                return status
            time.sleep(1.0)
        raise NodeError(f"OpenSearch did not become ready within {wait_s:.0f}s:\n{self._log_tail()}")

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the node this project started; False when it was not running."""
        return stop_pid_file(self.pid_file, timeout_s, poll_s=0.3)

    def wipe(self, include_cache: bool = False) -> list[Path]:
        """Stop the node and delete its data and logs (and, with ``include_cache``, every download)."""
        self.stop()
        removed = [self.root / sub for sub in ("data", "logs", "tmp", "run", "config")]
        if include_cache:
            removed += [self.root / "dist", self.settings.cache_dir / "downloads", self.settings.cache_dir / "maven"]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        return removed

    def _log_tail(self, lines: int = 25) -> str:
        for path in (self.log_file, self.root / "logs" / "console.log"):
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log output)"


def _zips_key(zips: list[Path]) -> str:
    """Identifies the set of plugin zips baked into an assembled home."""
    digest = hashlib.sha256()
    for path in sorted(zips, key=lambda p: p.name):
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:8]


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)
