"""What the segments the hourly behaviour refresh leaves cost the default search, and what merging them back buys.

Usage: .venv/bin/python bench/live_index_segments.py [--queries 50] [--passes 8] [--clients 1 16] [--refreshes 1]

The shop's live index is cloned twice (``_clone``: hard links, a write block of a moment on the live index,
which is not otherwise touched): copy A is merged to one segment, as a rebuild leaves it; copy B gets the
behaviour refresh's writes (``sync_behaviour``, what ``shelfrank index behaviour`` writes, without its merge;
``--tolerance`` 0 by default: every document whose stored values change) ``--refreshes`` times, and is left as
Lucene's merge policy settles it. The active model is put into each copy's feature store.
The default path (hybrid + the active model, in-process, distinct never-seen Home Depot train queries, each
query encoded cold) then runs on A and B in alternating passes (A B B A ...), so the machine's drift falls
on both alike; then B is merged as the refresh now does (``indexer.segments.compact``) and both run again:
the control, which should read 1.00x. The copies and their stores are deleted at the end. While the copies are
made (a moment) the live index refuses writes: do not run it beside a refresh or a sync.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from opensearchpy.exceptions import NotFoundError, TransportError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from search_latency import percentile, timed_pass  # noqa: E402

from core.db.session import session_scope  # noqa: E402
from core.opensearch_client import make_client  # noqa: E402
from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from indexer.segments import compact, segments_per_shard  # noqa: E402
from indexer.versions import physical_index  # noqa: E402
from ltr import registry  # noqa: E402
from ltr.behaviour_sync import sync_behaviour  # noqa: E402
from ltr.ranker.artifacts import load_artifact  # noqa: E402
from ltr.ranker.serving import storefront_service  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.request import SearchRequest  # noqa: E402


def write_blocked(client, index: str) -> bool:  # type: ignore[no-untyped-def]
    found = client.indices.get_settings(index=index, name="index.blocks.write")[index]["settings"]
    return str(found.get("index", {}).get("blocks", {}).get("write", "false")).lower() == "true"


def unblock(client, index: str, attempts: int = 5) -> None:  # type: ignore[no-untyped-def]
    """Lift the write block this bench put on the live index, retried; says loudly if it cannot."""
    for attempt in range(attempts):
        try:
            client.indices.put_settings(index=index, body={"index.blocks.write": None})
            return
        except TransportError as exc:
            if attempt == attempts - 1:
                print(f"THE LIVE INDEX {index} IS STILL WRITE-BLOCKED ({exc}); lift it with: curl -XPUT "
                      f"'localhost:9200/{index}/_settings' -H 'content-type: application/json' -d "
                      "'{\"index.blocks.write\": null}'", file=sys.stderr)
                raise
            time.sleep(1 + attempt)


def clone(client, live: str, target: str) -> None:  # type: ignore[no-untyped-def]
    """``target``: a copy of ``live`` sharing its segment files (a clone needs its source read-only a moment)."""
    replicas = client.indices.get_settings(index=live, name="index.number_of_replicas")[live]["settings"]
    try:
        client.indices.put_settings(index=live, body={"index.blocks.write": True})
        client.indices.clone(index=live, target=target, body={"settings": {
            "index.blocks.write": None, "index.number_of_replicas": replicas["index"]["number_of_replicas"]}})
    finally:
        unblock(client, live)
    client.cluster.health(index=target, wait_for_status="green")


def settle(client, index: str, timeout_s: float = 600.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until the merges Lucene's policy started after the writes are done (what an hour later sees)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        merges = client.indices.stats(index=index, metric="merge")["indices"][index]["total"]["merges"]
        if merges["current"] == 0:
            return
        time.sleep(2)


def state(client, index: str) -> str:  # type: ignore[no-untyped-def]
    docs = client.indices.stats(index=index, metric="docs")["indices"][index]["primaries"]["docs"]
    return f"{segments_per_shard(client, index)} segments, {docs['count']} docs + {docs['deleted']} deleted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=50, help="distinct queries per pass")
    parser.add_argument("--passes", type=int, default=8, help="passes per copy and client count (A B B A ...)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16], help="concurrent client threads")
    parser.add_argument("--tolerance", type=float, default=0.0, help="the refresh's behaviour_sync_tolerance (0: "
                        "every document whose stored values change, as in an hour with new events everywhere)")
    parser.add_argument("--refreshes", type=int, default=1, help="behaviour refreshes written to B, one after another "
                        "(the hours a live index goes without a merge)")
    parser.add_argument("--index", default=None, help="catalogue alias (default: SHELFRANK_DEFAULT_INDEX)")
    args = parser.parse_args()
    settings = get_settings()
    alias = args.index or settings.default_index
    client = make_client(settings)
    live = physical_index(client, alias)
    if live is None:
        raise SystemExit(f"no catalogue index behind {alias!r}: run `make demo` first")
    if write_blocked(client, live):
        raise SystemExit(f"{live} is write-blocked already (by someone else): the bench leaves it alone")
    with session_scope(settings.effective_database_url) as session:
        model = registry.active_model(session)
        if model is None:
            raise SystemExit("no model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
        name, artifact = model.name, load_artifact(Path(model.artifact_path))
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(13).shuffle(queries)
    needed = 30 + 2 * 2 * len(args.clients) * args.passes * args.queries
    if needed > len(queries):
        raise SystemExit(f"{needed} distinct queries needed, the train split has {len(queries)}: fewer passes")
    fresh = iter(queries)
    stamp = time.strftime("%Y%m%d%H%M%S")
    copies = {"A": f"bench-segments-a-{stamp}", "B": f"bench-segments-b-{stamp}"}
    merge_always = settings.model_copy(update={"index_compact_segments": 1, "index_merge_segments": 1})
    try:
        for copy in copies.values():
            clone(client, live, copy)
            FeatureStore(client, copy).upload_model(name, artifact.featureset, artifact.plugin_trees)
        print(f"{alias} ({live}, {state(client, live)}), model {name}")
        print(f"A: {compact(client, copies['A'], merge_always).describe()}")
        for _ in range(args.refreshes):
            started = time.monotonic()
            with session_scope(settings.effective_database_url) as session:
                report = sync_behaviour(client, copies["B"], session, datetime.now(timezone.utc),
                                        tolerance=args.tolerance)
            settle(client, copies["B"])
            print(f"B: the behaviour refresh rewrote {report.updated} products in {time.monotonic() - started:.0f} s "
                  f"(merges settled): {state(client, copies['B'])}", flush=True)
        services = {key: storefront_service(settings, copy, record=False) for key, copy in copies.items()}
        for service in services.values():
            for query in [next(fresh) for _ in range(15)]:  # connections, JIT, the model's first load
                service.search(SearchRequest(query=query, size=10), record=False)

        def compare(label: str) -> None:
            print(f"\n{label}: A {state(client, copies['A'])}; B {state(client, copies['B'])}")
            print(f"{'clients':>7} {'A p50':>7} {'A p99':>7} {'A QPS':>6} {'B p50':>7} {'B p99':>7} {'B QPS':>6} "
                  f"{'B/A p50':>7}")
            for clients in args.clients:
                latencies: dict[str, list[float]] = {"A": [], "B": []}
                seconds = dict.fromkeys(latencies, 0.0)
                for n in range(args.passes * 2):
                    key = "AB"[(n + n // 2) % 2]  # A B B A A B B A ...
                    lat, secs = timed_pass(services[key], [next(fresh) for _ in range(args.queries)], None, clients)
                    latencies[key] += lat
                    seconds[key] += secs
                f = {k: (statistics.median(v), percentile(v, 0.99), len(v) / seconds[k]) for k, v in latencies.items()}
                print(f"{clients:7} {f['A'][0]:7.1f} {f['A'][1]:7.1f} {f['A'][2]:6.1f} {f['B'][0]:7.1f} "
                      f"{f['B'][1]:7.1f} {f['B'][2]:6.1f} {f['B'][0] / f['A'][0]:6.2f}x", flush=True)

        compare("B as the refresh left it")
        print(f"B: {compact(client, copies['B'], merge_always).describe()}")
        compare("B merged (the control)")
    finally:
        if write_blocked(client, live):  # an interrupted clone: the block was this bench's (checked at the start)
            unblock(client, live)
        for copy in copies.values():
            try:
                client.indices.delete(index=copy, ignore_unavailable=True)
                client.transport.perform_request("DELETE", f"/_ltr/{FeatureStore(client, copy).name}")
            except NotFoundError:
                pass
            except TransportError as exc:
                print(f"could not delete {copy} or its feature store: {exc}", file=sys.stderr)


if __name__ == "__main__":
    main()
