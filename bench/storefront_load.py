"""The storefront under load, through HTTP: the figures of issue 13 in one run.

Usage: .venv/bin/python bench/storefront_load.py [--duration 30] [--soak 300] [--clients 16]
       [--single 300] [--no-restart] [--out DIR]

Needs the Home Depot catalogue indexed and a model active (`make demo` does both). Steps, each
on distinct, never-repeated Home Depot train-split queries (shuffled with a fixed seed; every
step takes its own slice, so every query vector is cold):

1. in-process: the storefront service as the API builds it (hybrid, the active model, buffered
   recording), ``--clients`` threads for ``--duration`` s: the baseline of the API/in-process ratio;
2. ``shelfrank api serve`` (gunicorn, settings from the environment) started as a user would;
3. HTTP at 1 client (``--single`` queries) and at ``--clients`` clients (``--duration`` s);
4. the soak: ``--clients`` clients for ``--soak`` s, RSS of the API's processes and of the node
   sampled every 5 s, OpenSearch stopped and started again in the middle (unless ``--no-restart``);
   then SIGTERM to the API and every impression of every answered search counted in the database.

Prints the figures, writes them as JSON and a timeline plot (QPS, p99, errors, the restart) in --out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import Outcome, default_queries, percentile, run, summary  # noqa: E402

from core.db.models import Impression, Search  # noqa: E402
from core.db.session import session_scope  # noqa: E402
from core.localnode.node import LocalNode  # noqa: E402
from core.settings import get_settings  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402


def in_process(queries: list[str], clients: int, duration_s: float) -> dict:  # type: ignore[type-arg]
    """QPS and latency of the same service in this process (no HTTP, no JSON, no server)."""
    service = storefront_service(get_settings(), serving=True)
    service.encoder.vector("warm up")
    feed, lock, latencies = iter(queries), threading.Lock(), []
    stop_at = time.perf_counter() + duration_s

    def shopper() -> None:
        while time.perf_counter() < stop_at:
            with lock:
                query = next(feed)
            started = time.perf_counter()
            service.search(SearchRequest(query=query))
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    began = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(shopper) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - began
    service.close()
    return {"requests": len(latencies), "qps": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "reranker": service.reranker.name}  # type: ignore[union-attr]


class ApiServer:
    """``shelfrank api serve`` in a subprocess, up when both workers answer."""

    def __init__(self, port: int, log: Path, env: dict[str, str] | None = None) -> None:
        self.port, self.log = port, log
        self.url = f"http://127.0.0.1:{port}"
        with log.open("w") as out:
            self.process = subprocess.Popen([str(Path(sys.executable).parent / "shelfrank"), "api", "serve",
                                             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                            env={**os.environ, **(env or {})})
        workers = get_settings().api_workers
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the API exited:\n{log.read_text()}")
            if log.read_text().count("Booting worker") >= workers and len(self.pids()) > workers:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        time.sleep(15)  # the workers warm up (encoder load) after booting
                        return
                except OSError:
                    pass
            time.sleep(0.5)
        raise SystemExit("the API did not come up in 300 s")

    def pids(self) -> list[int]:
        try:
            master = psutil.Process(self.process.pid)
            return [master.pid] + [c.pid for c in master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> float:
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=120)
        return time.perf_counter() - started


def cpu_seconds(api_pids: list[int], node_pid: int | None) -> dict[str, float]:
    """User + system CPU seconds so far: the API's processes together, the node, this process (the load)."""
    def total(pids: list[int]) -> float:
        seconds = 0.0
        for pid in pids:
            try:
                times = psutil.Process(pid).cpu_times()
                seconds += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return seconds

    return {"api": total(api_pids), "opensearch": total([node_pid] if node_pid else []),
            "load_generator": total([os.getpid()])}


def rss_mb(pids: list[int]) -> dict[int, float]:
    sizes = {}
    for pid in pids:
        try:
            sizes[pid] = psutil.Process(pid).memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            pass
    return sizes


def soak(server: ApiServer, queries: list[str], clients: int, duration_s: float, restart: bool) -> dict:  # type: ignore[type-arg]
    settings = get_settings()
    node = LocalNode(settings)
    result: dict = {}  # type: ignore[type-arg]
    samples: list[tuple[float, dict[int, float]]] = []
    restart_window: list[float] = []
    began = time.perf_counter()

    def load() -> None:
        result["outcomes"], result["wall"] = run(server.url, queries, clients, duration_s, 10**7, timeout_s=5.0,
                                                 progress=False, clock=began)

    loader = threading.Thread(target=load)
    loader.start()
    restarted = not restart
    while loader.is_alive():
        elapsed = time.perf_counter() - began
        node_pid = node.status().pid
        samples.append((elapsed, rss_mb(server.pids() + ([node_pid] if node_pid else []))))
        if not restarted and elapsed >= duration_s / 2:
            restarted = True
            restart_window.append(time.perf_counter() - began)
            node.stop()
            node.start()
            restart_window.append(time.perf_counter() - began)
            print(f"  node restarted between {restart_window[0]:.0f} s and {restart_window[1]:.0f} s", file=sys.stderr)
        print(f"\r  soak {elapsed:5.0f}/{duration_s:.0f} s", end="", file=sys.stderr)
        time.sleep(5)
    print(file=sys.stderr)
    return {"outcomes": result["outcomes"], "wall": result["wall"], "rss": samples, "restart": restart_window}


def rss_drift(samples: list[tuple[float, dict[int, float]]], skip_s: float = 30.0) -> dict[int, dict]:  # type: ignore[type-arg]
    """Per process: RSS after the first ``skip_s`` (warm-up) and at the end, and the change in percent."""
    by_pid: dict[int, list[float]] = defaultdict(list)
    for elapsed, sizes in samples:
        if elapsed >= skip_s:
            for pid, size in sizes.items():
                by_pid[pid].append(size)
    return {pid: {"first_mb": round(v[0]), "last_mb": round(v[-1]), "max_mb": round(max(v)),
                  "change_pct": round(100 * (v[-1] - v[0]) / v[0], 1)} for pid, v in by_pid.items() if len(v) > 2}


def recorded(outcomes: list[Outcome]) -> dict:  # type: ignore[type-arg]
    answered = {o.search_id: o.results for o in outcomes if o.status == 200 and o.search_id}
    expected = sum(answered.values())
    found_searches = found_impressions = 0
    ids = sorted(answered)
    with session_scope(get_settings().effective_database_url) as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            found_searches += session.scalar(select(func.count()).select_from(Search)
                                             .where(Search.search_id.in_(chunk)))
            found_impressions += session.scalar(select(func.count()).select_from(Impression)
                                                .where(Impression.search_id.in_(chunk)))
    return {"answered_searches": len(answered), "stored_searches": found_searches,
            "expected_impressions": expected, "stored_impressions": found_impressions}


def restart_figures(outcomes: list[Outcome], window: list[float]) -> dict:  # type: ignore[type-arg]
    if not window:
        return {}
    start, back = window
    during = [o for o in outcomes if start <= o.started <= back]
    failed_after = [o.started for o in outcomes if o.started > back and o.status != 200]
    return {"node_down_s": round(back - start, 1), "requests_during": len(during),
            "statuses_during": {str(s): sum(1 for o in during if o.status == s) for s in {o.status for o in during}},
            "503_with_retry_after_during": sum(1 for o in during if o.status == 503 and o.retry_after),
            "slowest_during_ms": round(max((o.latency_ms for o in during), default=0)),
            "last_failure_after_node_back_s": round(max(failed_after) - back, 1) if failed_after else 0.0}


def plot(outcomes: list[Outcome], window: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seconds: dict[int, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        seconds[int(outcome.started)].append(outcome)
    xs = sorted(seconds)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(xs, [sum(o.status == 200 for o in seconds[x]) for x in xs], label="answered / s")
    top.plot(xs, [sum(o.status != 200 for o in seconds[x]) for x in xs], label="errors / s", color="red")
    bottom.plot(xs, [percentile([o.latency_ms for o in seconds[x] if o.status == 200], 0.99) for x in xs],
                label="p99 ms (answered)")
    for ax in (top, bottom):
        if window:
            ax.axvspan(window[0], window[1], color="orange", alpha=0.3, label="OpenSearch restarting")
        ax.legend(loc="upper right")
    bottom.set_xlabel("seconds into the soak")
    fig.suptitle("Storefront API soak: 16 clients, distinct queries")
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per measured load step")
    parser.add_argument("--soak", type=float, default=300.0, help="soak seconds (0: no soak)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--single", type=int, default=300, help="queries of the 1-client step")
    parser.add_argument("--no-restart", action="store_true", help="do not restart OpenSearch during the soak")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    out = args.out or settings.state_dir / "bench" / "storefront-load"
    out.mkdir(parents=True, exist_ok=True)
    queries = default_queries()
    random.Random(0).shuffle(queries)
    slices = iter(range(0, 10**9, 4000))
    print(f"{len(queries)} distinct train queries; API: {settings.api_workers} workers x {settings.api_threads} "
          f"threads; config {settings.search_config}, rerank engine {settings.rerank_engine}", file=sys.stderr)

    def fresh(n: int = 4000) -> list[str]:
        start = next(slices) % len(queries)
        return (queries[start:] + queries[:start])[:n] if n <= len(queries) else queries

    figures: dict = {"settings": {"workers": settings.api_workers, "threads": settings.api_threads,  # type: ignore[type-arg]
                                  "config": settings.search_config, "engine": settings.rerank_engine}}
    figures["in_process"] = in_process(fresh(), args.clients, args.duration)
    print(f"in-process, {args.clients} threads: {figures['in_process']}", file=sys.stderr)
    server = ApiServer(args.port, out / "api.log")
    try:
        outcomes, wall = run(server.url, fresh(args.single), 1, 3600, args.single, 5.0)
        figures["http_1_client"] = summary(outcomes, wall)
        print(f"HTTP, 1 client: {figures['http_1_client']}", file=sys.stderr)
        node_pid = LocalNode(settings).status().pid
        before = cpu_seconds(server.pids(), node_pid)
        outcomes, wall = run(server.url, fresh(), args.clients, args.duration, 10**7, 5.0)
        after = cpu_seconds(server.pids(), node_pid)
        figures[f"http_{args.clients}_clients"] = summary(outcomes, wall)
        answered = max(1, sum(o.status == 200 for o in outcomes))
        figures["cpu_ms_per_search"] = {k: round(1000 * (after[k] - before.get(k, 0.0)) / answered, 1) for k in after}
        figures["api_to_in_process_qps"] = round(figures[f"http_{args.clients}_clients"]["qps"]
                                                 / figures["in_process"]["qps"], 2)
        print(f"HTTP, {args.clients} clients: {figures[f'http_{args.clients}_clients']}", file=sys.stderr)
        soaked = None
        if args.soak > 0:
            start = next(slices) % len(queries)
            soaked = soak(server, queries[start:] + queries[:start], args.clients, args.soak, not args.no_restart)
    finally:
        figures["shutdown_s"] = round(server.stop(), 1)
    if soaked is not None:
        outcomes = soaked["outcomes"]
        figures["soak"] = {**summary(outcomes, soaked["wall"]), "rss": rss_drift(soaked["rss"]),
                           "restart": restart_figures(outcomes, soaked["restart"]), "recorded": recorded(outcomes)}
        plot(outcomes, soaked["restart"], out / "soak.png")
        errors_outside = [o for o in outcomes if o.status != 200 and not (
            soaked["restart"] and soaked["restart"][0] <= o.started <= soaked["restart"][1] + 30)]
        figures["soak"]["errors_outside_restart"] = len(errors_outside)
        figures["soak"]["errors_outside_restart_first"] = [
            {"at_s": round(o.started, 1), "status": o.status, "error": o.error} for o in errors_outside[:5]]
    (out / "figures.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    print(f"figures and plot in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
