"""Embedding rebuild throughput: in-process (what `shelfrank index rebuild` does) against the workers'
chunked rebuild with 1 and 2 worker processes, each from an empty embedding cache (every text encoded).

    .venv/bin/python bench/embedding_rebuild.py --products 3000

Needs the local node (`shelfrank opensearch start`) and redis-server. The catalogue is the first N Home
Depot products, indexed once into the alias `bench-embeddings` (with the shared embedding cache); each
measured rebuild then re-encodes all of them with a fresh cache. Prints products/s and the ratio to the
in-process rebuild; `--out` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
from sqlalchemy import select

from core.db import migrate
from core.db.models import RebuildJob
from core.db.session import session_scope
from core.opensearch_client import make_client
from core.redis_server import LocalRedis
from core.settings import get_settings
from encoders.cache import CachedEncoder, EmbeddingCache
from encoders.factory import load_cached_encoder, load_encoder
from indexer import pipeline
from indexer.sources import read_catalog
from indexer.versions import list_versions
from workers.app import make_celery

HOMEDEPOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "homedepot" / "train.csv"
ALIAS = "bench-embeddings"
BENCH_REDIS_DB = 14


def in_process(settings, client, products: int) -> float:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as folder:
        encoder = CachedEncoder(load_encoder(settings), EmbeddingCache(Path(folder) / "embeddings.sqlite"))
        started = time.perf_counter()
        pipeline.rebuild(client, ALIAS, pipeline.iter_indexed_products(client, ALIAS), encoder, settings,
                         total=products)
        return time.perf_counter() - started


def with_workers(settings, concurrency: int, chunk_size: int, threads: int) -> float:  # type: ignore[no-untyped-def]
    broker_url = settings.broker_url.rsplit("/", 1)[0] + f"/{BENCH_REDIS_DB}"
    redis.Redis.from_url(broker_url).flushdb()
    folder = Path(tempfile.mkdtemp())
    database = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(database)
    env = {**os.environ, "SHELFRANK_BROKER_URL": broker_url, "SHELFRANK_DATABASE_URL": database,
           "SHELFRANK_CACHE_DIR": str(folder / "cache"), "SHELFRANK_ENCODER_CPU_THREADS": str(threads)}
    log = (folder / "worker.log").open("w")
    worker = subprocess.Popen([str(Path(sys.executable).parent / "shelfrank"), "worker", "--concurrency",
                               str(concurrency)], stdout=log, stderr=subprocess.STDOUT, env=env,
                              start_new_session=True)
    try:
        while "ready." not in (folder / "worker.log").read_text():
            if worker.poll() is not None:
                raise SystemExit((folder / "worker.log").read_text())
            time.sleep(0.2)
        celery = make_celery(settings.model_copy(update={"broker_url": broker_url}))
        started = time.perf_counter()
        celery.send_task("shelfrank.embeddings", kwargs={"index": ALIAS, "chunk_size": chunk_size,
                                                        "started_by": "bench"})
        while True:
            with session_scope(database) as session:
                job = session.scalar(select(RebuildJob))
                if job is not None and job.status != "running":
                    if job.status != "done":
                        raise SystemExit(f"the rebuild failed: {job.error}")
                    return time.perf_counter() - started
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=3000, help="Home Depot products in the catalogue.")
    parser.add_argument("--chunk-size", type=int, default=250, help="Products per chunk of the worker rebuild.")
    parser.add_argument("--out", type=Path, help="Write the figures as JSON here.")
    args = parser.parse_args()
    settings = get_settings()
    LocalRedis(settings).start()
    client = make_client(settings)
    catalogue = list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), args.products))
    pipeline.rebuild(client, ALIAS, catalogue, load_cached_encoder(settings), settings, allow_shrink=True)
    cores = os.cpu_count() or 1
    seconds = {"in-process": in_process(settings, client, len(catalogue))}
    for concurrency in (1, 2):
        # Each worker process gets its share of the cores for torch, as a deployment would configure it.
        seconds[f"{concurrency} worker(s)"] = with_workers(settings, concurrency, args.chunk_size,
                                                           max(1, cores // concurrency))
    base = seconds["in-process"]
    print(f"{len(catalogue)} products, chunks of {args.chunk_size}, {cores} cores")
    figures = {}
    for name, value in seconds.items():
        rate = len(catalogue) / value
        figures[name] = {"seconds": round(value, 1), "products_per_s": round(rate, 1),
                         "ratio_to_in_process": round(base / value, 2)}
        print(f"{name:14} {value:7.1f} s  {rate:7.1f} products/s  {base / value:5.2f}x the in-process rebuild")
    if args.out:
        args.out.write_text(json.dumps({"products": len(catalogue), "chunk_size": args.chunk_size, "cores": cores,
                                        "figures": figures}, indent=2))
    for name in list_versions(client, ALIAS):
        client.indices.delete(index=name, ignore_unavailable=True)


if __name__ == "__main__":
    main()
