"""Load-test a running storefront API: concurrent shoppers posting distinct queries, figures at the end.

Usage: .venv/bin/python bench/load_test.py --url http://127.0.0.1:8000 [--clients 16] [--duration 30]
       [--max-requests 100000] [--queries FILE] [--timeout 5] [--config NAME] [--json OUT]

Each client keeps one HTTP/1.1 connection (as a shop's backend would) and posts
``POST /api/v1/search`` with the next query of a shared list, so no two requests repeat a query
until the list runs out (the Home Depot train-split queries by default; ``--queries`` takes a file
of one query per line). Bounded in time (``--duration``) and in requests (``--max-requests``), and
loopback only: this is a tool for your own machine, not for anyone else's server.

Prints QPS, latency percentiles, status counts, 503s with their Retry-After, timeouts, and the
share of requests whose query was seen before; ``--json`` also writes every request (time, latency,
status, search id, results) for the caller's own accounting (the soak counts impressions from it).
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import socket
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402


@dataclass
class Outcome:
    started: float  # seconds since the test began
    latency_ms: float
    status: int  # HTTP status; 0 = no answer (timeout, connection refused or reset)
    search_id: str | None = None
    results: int = 0
    retry_after: str | None = None
    repeated_query: bool = False
    error: str | None = None


def loopback_only(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"--url must be http://HOST:PORT, got {url!r}")
    host = parts.hostname
    addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 80)}
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise SystemExit(f"refusing to load-test {host}: only loopback addresses (127.0.0.1, ::1, localhost)")
    return host, parts.port or 80


def default_queries() -> list[str]:
    """Distinct Home Depot queries of the train split (the fixed split; never the test queries)."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from evaluation.judgments import load_homedepot, select_split

    return sorted(select_split(load_homedepot(HOMEDEPOT), "train"))


class QueryFeed:
    """Hands out the queries in order to all clients; after the last one it starts over (and says so)."""

    def __init__(self, queries: list[str], offset: int = 0) -> None:
        self.queries, self.next, self.lock = queries, offset, threading.Lock()

    def take(self) -> tuple[str, bool]:
        with self.lock:
            i = self.next
            self.next += 1
        return self.queries[i % len(self.queries)], i >= len(self.queries)


def run(url: str, queries: list[str], clients: int, duration_s: float, max_requests: int, timeout_s: float,
        config: str | None = None, size: int = 10, offset: int = 0, progress: bool = True,
        clock: float | None = None) -> tuple[list[Outcome], float]:
    """Run the load; returns every request's outcome and the wall time it took. Outcome times count
    from ``clock`` (a ``time.perf_counter()`` value) when given, so a caller can line up its own events."""
    host, port = loopback_only(url)
    feed = QueryFeed(queries, offset)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    began = time.perf_counter() if clock is None else clock
    stop_at = time.perf_counter() + duration_s
    sent = Counter()

    def client() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
        while time.perf_counter() < stop_at:
            with lock:
                if sent["n"] >= max_requests:
                    break
                sent["n"] += 1
            query, repeated = feed.take()
            body = {"query": query, "size": size, **({"config": config} if config else {})}
            started = time.perf_counter()
            outcome = Outcome(started - began, 0.0, 0, repeated_query=repeated)
            try:
                connection.request("POST", "/api/v1/search", json.dumps(body),
                                   {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                outcome.status = response.status
                outcome.retry_after = response.getheader("Retry-After")
                if response.status == 200:
                    answer = json.loads(payload)
                    outcome.search_id, outcome.results = answer["search_id"], len(answer["results"])
                else:
                    outcome.error = json.loads(payload).get("error") if payload.startswith(b"{") else None
            except (OSError, http.client.HTTPException) as exc:
                outcome.error = f"{exc.__class__.__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=timeout_s)
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            with lock:
                outcomes.append(outcome)
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        time.sleep(1.0)
        if progress:
            elapsed = time.perf_counter() - began
            print(f"\r  {elapsed:5.0f}/{duration_s:.0f} s  {len(outcomes)} requests", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    return sorted(outcomes, key=lambda o: o.started), time.perf_counter() - stop_at + duration_s


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(outcomes: list[Outcome], wall_s: float) -> dict:  # type: ignore[type-arg]
    ok = [o.latency_ms for o in outcomes if o.status == 200]
    statuses = Counter(o.status for o in outcomes)
    return {"requests": len(outcomes), "wall_s": round(wall_s, 1), "qps": round(len(ok) / wall_s, 1),
            "p50_ms": round(percentile(ok, 0.5), 1), "p90_ms": round(percentile(ok, 0.9), 1),
            "p99_ms": round(percentile(ok, 0.99), 1), "max_ms": round(max(ok, default=float("nan")), 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "errors": sum(v for k, v in statuses.items() if k != 200),
            "no_answer": statuses.get(0, 0),
            "503_with_retry_after": sum(1 for o in outcomes if o.status == 503 and o.retry_after),
            "repeated_queries": sum(o.repeated_query for o in outcomes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (at most 3600)")
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--queries", type=Path, help="one query per line (default: Home Depot train queries)")
    parser.add_argument("--offset", type=int, default=0, help="start this far into the query list")
    parser.add_argument("--timeout", type=float, default=5.0, help="client timeout per request, seconds")
    parser.add_argument("--config", default=None, help="retrieval config (default: the API's)")
    parser.add_argument("--size", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write the summary and every request here")
    args = parser.parse_args()
    duration = min(args.duration, 3600.0)
    queries = ([q.strip() for q in args.queries.read_text().splitlines() if q.strip()] if args.queries
               else default_queries())
    outcomes, wall = run(args.url, queries, args.clients, duration, args.max_requests, args.timeout,
                         args.config, args.size, args.offset)
    figures = summary(outcomes, wall)
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps({"summary": figures, "requests": [asdict(o) for o in outcomes]}))


if __name__ == "__main__":
    main()
