"""How long the local OpenSearch node takes to provision and start, cold and cached.

Usage: .venv/bin/python bench/node_startup.py [--cold]

Without --cold, it reuses the download cache in ~/.cache/shelfrank and times:
- a cached provision, where nothing is downloaded or assembled (the baseline);
- assembling into a fresh node folder;
- a start and a stop.
With --cold, it also times a provision from nothing, using a temporary cache, which downloads
about 100 MB from Maven Central.

Each figure is printed in seconds and as a ratio to the cached provision measured in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
import time
from pathlib import Path

from core.localnode import LocalNode
from core.settings import get_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _timed(label: str, action, results: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    action()
    results[label] = time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="also provision from an empty download cache")
    args = parser.parse_args()

    base = get_settings()
    work = Path(tempfile.mkdtemp(prefix="shelfrank-bench-"))
    work.chmod(0o755)
    results: dict[str, float] = {}
    try:
        if args.cold:
            cold = base.model_copy(update={"cache_dir": work / "cold-cache", "opensearch_dir": work / "cold-node"})
            _timed("provision from nothing (download + assemble)", LocalNode(cold, progress=lambda _l: None).provision, results)
        settings = base.model_copy(update={"opensearch_dir": work / "node",
                                           "opensearch_url": f"http://127.0.0.1:{_free_port()}"})
        node = LocalNode(settings, progress=lambda _l: None)
        _timed("assemble from cached downloads", node.provision, results)
        _timed("cached provision (baseline)", node.provision, results)
        _timed("start until ready (cached)", node.start, results)
        _timed("stop", node.stop, results)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    baseline = results["cached provision (baseline)"]
    print(f"{'step':48} {'seconds':>9} {'x baseline':>11}")
    for label, seconds in results.items():
        print(f"{label:48} {seconds:9.3f} {seconds / baseline:11.0f}")


if __name__ == "__main__":
    main()
