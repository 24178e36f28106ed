"""The stored search template against the storefront API, for the same queries and the same model.

    .venv/bin/python bench/search_template.py --queries 200 --clients 1 4

Needs the Home Depot catalogue indexed (`shelfrank catalog import ../shared/data/homedepot/train.csv --format
homedepot`). A model on the engine featureset (`shelfrank-v1-engine`, everything computed in OpenSearch) is
trained on the judgments of `--train-queries` train-split queries, promoted through the engine parity gate in a
fresh database, and written into a bench-only template (`shelfrank-search-<alias>`, so the shop's own
`shelfrank-search` is untouched). Then, interleaved per concurrency level (the first round warms up):

- *api*: `POST /api/v1/search` to `shelfrank api serve` (gunicorn) over that database: hybrid-minmax fusion of
  BM25 and k-NN, then the model's `sltr` rescore of the fused window; the API encodes the query (warm cache).
- *template*: `POST /<alias>/_search/template` with the query vector (encoded here beforehand, as a storefront
  would with its own encoder cache): BM25 + k-NN in one bool query, the window rescored by `sltr`.
- *template-bm25*: the same template without the vector (BM25 first stage, cosine feature 0).

With `--served`, nothing is trained: the shop's own active model and its stored `shelfrank-search` template (as
the last promotion wrote them) are timed, the API serving a copy of the shop's SQLite database (so the bench's
searches are recorded there, not in the shop's). Training a bench model of a featureset with the query history
would write that model's history onto the live documents at its promotion, so the bench trains only
`shelfrank-v1-engine`.

Prints p50 / p99 / QPS and the ratio to the API, and nDCG@10 of each on those test queries.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import random
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from load_test import percentile  # noqa: E402
from storefront_load import ApiServer  # noqa: E402

from core.db import migrate  # noqa: E402
from core.db.session import session_scope  # noqa: E402
from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from evaluation.metrics import ndcg_at  # noqa: E402
from ltr import promotion, registry, search_template  # noqa: E402
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor  # noqa: E402
from ltr.ranker.featureset import ENGINE_FEATURES  # noqa: E402
from ltr.ranker.job import TrainingRequest, train_and_register  # noqa: E402
from ltr.ranker.train import TrainParams  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive HTTP connection per thread, to the API or to OpenSearch."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.local = threading.local()

    def post(self, path: str, body: dict) -> dict:
        if not hasattr(self.local, "connection"):
            self.local.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        connection = self.local.connection
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {str(payload)[:300]}")
        return payload


def served_setup(settings, client, alias: str, folder: Path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A copy of the shop's SQLite database, and the shop's template, which must rerank with its active model."""
    url = settings.effective_database_url
    if not url.startswith("sqlite:///"):
        raise SystemExit("--served copies the shop's SQLite database; with another database, run without it")
    # SQLite's backup API, not a file copy: the shop's database runs in WAL mode, and its latest writes may
    # still sit in the -wal file beside it.
    with sqlite3.connect(url.removeprefix("sqlite:///")) as source, sqlite3.connect(folder / "shop.db") as copy:
        source.backup(copy)
    database = f"sqlite:///{folder / 'shop.db'}"
    with session_scope(database) as session:
        active = registry.active_model(session)
    template = search_template.template_id(alias, settings.default_index)
    served = search_template.served_model(client, template)
    if active is None or served != active.name:
        raise SystemExit(f"template {template} reranks with {served or 'no model'}, the shop serves "
                         f"{active.name if active else 'no model'}: `shelfrank models sync` writes it")
    print(f"model {active.name} ({active.featureset}); template {template}")
    return database, template


def bench_model(settings, service, judgments, train_queries: int, folder: Path) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A v1-engine model on ``train_queries`` train queries' judgments, promoted in a fresh database, and
    a bench-only template for it."""
    database = f"sqlite:///{folder / 'shop.db'}"
    migrate.upgrade(database)
    alias, window = service.index, settings.rerank_window
    train = select_split(judgments, "train")
    chosen = sorted(random.Random(0).sample(sorted(train), train_queries))
    extractor = FeatureExtractor(ENGINE_FEATURES, EngineFeatureLogger(service.client, alias), service.encoder.vector)
    name = f"bench-engine-{hashlib.sha256(str(chosen).encode()).hexdigest()[:8]}-{int(time.time())}"
    request = TrainingRequest(labels="judgments", judgments={q: train[q] for q in chosen}, window=window, name=name,
                              params=TrainParams.from_settings(settings))
    with session_scope(database) as session:
        outcome = train_and_register(session, request, service.candidates, extractor, folder / "models", progress=True)
    with session_scope(database) as session:
        registry.promote(session, name, by="bench", gate=lambda model: promotion.engine_gate(
            session, service.client, alias, model, service.candidates, window, service.encoder.vector))
    template = search_template.template_id(alias, default_index := f"{alias}-bench-default")
    with session_scope(database) as session:
        plan = promotion.sync_search_template(session, service.client, alias, default_index, window)
    print(f"model {name}: {outcome.model.metrics['trees']} trees on {outcome.queries} queries; template {template}: "
          f"{plan.reason}")
    return database, template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200, help="test-split queries timed")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--train-queries", type=int, default=300)
    parser.add_argument("--index", default=None)
    parser.add_argument("--served", action="store_true",
                        help="time the shop's active model and its shelfrank-search template (no bench model)")
    args = parser.parse_args()
    settings = get_settings()
    folder = Path(tempfile.mkdtemp(prefix="shelfrank-template-"))
    service = build_search_service(settings, args.index, record=False)
    alias, window = service.index, settings.rerank_window
    judgments = load_homedepot(HOMEDEPOT)
    if args.served:
        database, template = served_setup(settings, service.client, alias, folder)
    else:
        database, template = bench_model(settings, service, judgments, args.train_queries, folder)
    queries = sorted(select_split(judgments, "test"))[: args.queries]
    vectors = {q: [float(x) for x in service.encoder.vector(q)] for q in queries}
    api = ApiServer(free_port(), folder / "api.log", env={"SHELFRANK_DATABASE_URL": database,
                                                          "SHELFRANK_STATE_DIR": str(folder / "state")})
    api_client, engine_client = Client(api.url), Client(settings.opensearch_url)
    for query in queries:
        api_client.post("/api/v1/search", {"query": query})  # warm the API workers' query vectors
    rankings: dict[str, dict[str, list[str]]] = {"api": {}, "template": {}, "template-bm25": {}}

    def search(kind: str, query: str) -> float:
        started = time.perf_counter()
        if kind == "api":
            answer = api_client.post("/api/v1/search", {"query": query, "size": 10})
            ids = [r["id"] for r in answer["results"]]
        else:
            params = {"keywords": query, "size": 10, **({"query_vector": vectors[query]} if kind == "template" else {})}
            hits = engine_client.post(f"/{alias}/_search/template", {"id": template, "params": params})["hits"]["hits"]
            ids = [h["_source"]["id"] for h in hits]
        elapsed = (time.perf_counter() - started) * 1000
        rankings[kind][query] = ids
        return elapsed

    print(f"{len(queries)} test queries, index {alias}, window {window}")
    print(f"{'clients':>7} {'path':14} {'p50 ms':>8} {'p99 ms':>8} {'QPS':>7} {'p50 vs api':>10}")
    figures = []
    try:
        for clients in args.clients:
            for _round in range(2):
                rows = {}
                for kind in rankings:
                    began = time.perf_counter()
                    with ThreadPoolExecutor(clients) as pool:
                        latencies = list(pool.map(lambda q, k=kind: search(k, q), queries))
                    rows[kind] = (percentile(latencies, 0.5), percentile(latencies, 0.99),
                                  len(latencies) / (time.perf_counter() - began))
            for kind, (p50, p99, qps) in rows.items():
                ratio = p50 / rows["api"][0]
                figures.append({"clients": clients, "path": kind, "p50_ms": round(p50, 1), "p99_ms": round(p99, 1),
                                "qps": round(qps, 1), "p50_ratio": round(ratio, 2)})
                print(f"{clients:>7} {kind:14} {p50:8.1f} {p99:8.1f} {qps:7.1f} {ratio:10.2f}")
    finally:
        api.stop()
    test = select_split(judgments, "test")
    for kind, ranked in rankings.items():
        score = sum(ndcg_at(ranked[q], test[q], 10) for q in queries) / len(queries)
        print(f"nDCG@10 {kind}: {score:.4f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
