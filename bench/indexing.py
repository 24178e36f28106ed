"""Bulk indexing throughput and full rebuild time of the Home Depot catalogue (54.7k products).

Usage: .venv/bin/python bench/indexing.py [--limit N]   (needs the local node: shelfrank opensearch start)

The bench runs four steps, each into its own throw-away alias:
1. A cold full rebuild, streamed from the file, with an empty embedding cache: read, validate, encode,
   bulk-index, verify and swap the alias.
2. A warm full rebuild, where every vector comes from the cache. This is bulk indexing with precomputed
   vectors.
3. A baseline: the same documents bulk-indexed into an index with no vector field, so the difference shows
   what the HNSW vectors cost.
4. The peak RSS of this process, which stays bounded because products stream in chunks of 1,024.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from core.opensearch_client import make_client  # noqa: E402
from core.settings import get_settings  # noqa: E402
from encoders.cache import CachedEncoder, EmbeddingCache  # noqa: E402
from encoders.factory import load_encoder  # noqa: E402
from indexer import pipeline  # noqa: E402
from indexer.documents import to_document  # noqa: E402
from indexer.sources import read_catalog  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="index only the first N products")
    parser.add_argument("--warm-only", action="store_true",
                        help="skip the cold rebuild; take vectors from the shared embedding cache (fill it first)")
    args = parser.parse_args()

    settings = get_settings()
    client = make_client(settings)
    work = Path(tempfile.mkdtemp(prefix="shelfrank-bench-"))
    cache_path = settings.cache_dir / "embeddings.sqlite" if args.warm_only else work / "embeddings.sqlite"
    encoder = CachedEncoder(load_encoder(settings), EmbeddingCache(cache_path))
    alias = "bench-catalog"
    baseline_index = "bench-catalog-text-only"
    products = lambda: itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), args.limit)  # noqa: E731
    rows: list[tuple[str, float, int]] = []
    try:
        rss_after_cold = 0.0
        if not args.warm_only:
            started = time.perf_counter()
            cold = pipeline.rebuild(client, alias, products(), encoder, settings, progress=True)
            rows.append(("full rebuild, cold (encode + index)", time.perf_counter() - started, cold.documents))
            rss_after_cold = peak_rss_mb()

        started = time.perf_counter()
        warm = pipeline.rebuild(client, alias, products(), encoder, settings, progress=True)
        rows.append((f"full rebuild, precomputed vectors, {settings.bulk_concurrency} in flight",
                     time.perf_counter() - started, warm.documents))

        client.indices.delete(index=baseline_index, ignore_unavailable=True)
        client.indices.create(index=baseline_index, body={"settings": {"number_of_replicas": 0,
                                                                       "refresh_interval": "-1"}})
        started = time.perf_counter()
        count = 0
        for chunk in pipeline._chunks(products(), pipeline.ENCODE_CHUNK):
            actions = []
            for product in chunk:
                doc = to_document(product, [])
                doc.pop("embedding")
                actions.append({"_index": baseline_index, "_id": product.id, "_source": doc})
            pipeline.bulk_write(client, actions, settings)
            count += len(chunk)
        client.indices.refresh(index=baseline_index)
        rows.append(("baseline: same docs, no vector field", time.perf_counter() - started, count))
    finally:
        client.indices.delete(index=baseline_index, ignore_unavailable=True)
        versions = client.indices.get(index=f"{alias}-v*", allow_no_indices=True, ignore_unavailable=True)
        if versions:
            client.indices.delete(index=",".join(versions))
        shutil.rmtree(work, ignore_errors=True)

    baseline = rows[-1][1] / rows[-1][2]
    print(f"\n{'step':40} {'docs':>7} {'seconds':>8} {'docs/s':>8} {'x baseline time/doc':>20}")
    for label, seconds, docs in rows:
        print(f"{label:40} {docs:7d} {seconds:8.1f} {docs / seconds:8.0f} {seconds / docs / baseline:20.2f}")
    print(f"encoded {encoder.stats.misses} texts, served {encoder.stats.hits} from the cache")
    print(f"peak RSS of this process: {rss_after_cold:.0f} MB after the cold rebuild, {peak_rss_mb():.0f} MB at the end")


if __name__ == "__main__":
    main()
