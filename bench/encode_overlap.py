"""Would sending BM25 while the query encodes shorten a never-seen query's first stage?

Usage: .venv/bin/python bench/encode_overlap.py [--queries 380]

- ``sequential`` (served): encode, then the one ``_msearch`` (BM25 top 100 with facets and the exact cosines
  that need the vector, k-NN top 30);
- ``overlapped``: the encode in a thread while BM25 with its facets goes out (no cosines: the vector is not
  there yet), then a second ``_msearch``: the k-NN and the BM25 hits' exact cosines (an ids query).

Each query is encoded afresh by the uncached encoder (a cold query), both variants per query, their order
alternating. Then the parts alone on 200 of them: the encode, BM25 with facets, both overlapped, and the
second request. Train-split queries; the node and the encoder share this machine's cores, as in serving.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from indexer import schema  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import Filters  # noqa: E402
from storefront.retrieval import bm25_body, hit_id, knn_body, query_vector_param  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=380)
    args = parser.parse_args()
    service = build_search_service(get_settings(), record=False)
    encoder = service.encoder.encoder  # below the query-vector cache: every encode is a cold one
    client, index, none = service.client, service.index, Filters()
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(3).shuffle(queries)
    queries = queries[: args.queries + 20]
    pool = ThreadPoolExecutor(1)

    def encode(query: str) -> list[float]:
        return query_vector_param(encoder.encode([query])[0])

    def cosines(ids: list[str], vector: list[float]) -> dict:
        return {"size": len(ids), "stored_fields": "_none_", "docvalue_fields": [schema.ID],
                "query": {"ids": {"values": ids}},
                "script_fields": {"vector_similarity": {"script": {
                    "source": f"cosineSimilarity(params.query_value, doc['{schema.VECTOR}'])",
                    "params": {"query_value": vector}}}}}

    def sequential(query: str) -> None:
        vector = encode(query)
        client.msearch(body=[{"index": index}, bm25_body(query, none, 100, vector=vector),
                             {"index": index}, knn_body(vector, none, 30)])

    def overlapped(query: str) -> None:
        pending = pool.submit(encode, query)
        bm25 = client.search(index=index, body=bm25_body(query, none, 100))
        ids = [hit_id(hit) for hit in bm25["hits"]["hits"]]
        vector = pending.result()
        client.msearch(body=[{"index": index}, knn_body(vector, none, 30), {"index": index}, cosines(ids, vector)])

    variants: dict[str, Callable[[str], None]] = {"sequential": sequential, "overlapped": overlapped}
    for query in queries[:20]:
        for run in variants.values():
            run(query)
    wall: dict[str, list[float]] = {name: [] for name in variants}
    for i, query in enumerate(queries[20:]):
        for name in (list(variants) if i % 2 else list(variants)[::-1]):
            started = time.perf_counter()
            variants[name](query)
            wall[name].append((time.perf_counter() - started) * 1000)
    print(f"{len(queries) - 20} cold train queries, index {index}")
    for name, values in wall.items():
        print(f"{name:28} p50 {statistics.median(values):6.2f} ms  p90 {sorted(values)[int(len(values) * 0.9)]:6.2f} ms")

    parts: dict[str, list[float]] = {"encode": [], "BM25 + facets": [], "encode while BM25 + facets": [],
                                     "k-NN + cosines of the BM25 hits": [], "the served _msearch": []}

    def timed(name: str, run: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = run()
        parts[name].append((time.perf_counter() - started) * 1000)
        return result

    for query in queries[20:220]:
        vector = timed("encode", lambda q=query: encode(q))
        bm25 = timed("BM25 + facets", lambda q=query: client.search(index=index, body=bm25_body(q, none, 100)))
        timed("encode while BM25 + facets",
              lambda q=query: (pool.submit(encode, q), client.search(index=index, body=bm25_body(q, none, 100)))[0].result())
        ids = [hit_id(hit) for hit in bm25["hits"]["hits"]]
        timed("k-NN + cosines of the BM25 hits", lambda v=vector, i=ids: client.msearch(
            body=[{"index": index}, knn_body(v, none, 30), {"index": index}, cosines(i, v)]))
        timed("the served _msearch", lambda q=query, v=vector: client.msearch(
            body=[{"index": index}, bm25_body(q, none, 100, vector=v), {"index": index}, knn_body(v, none, 30)]))
    print("the parts alone, 200 queries:")
    for name, values in parts.items():
        print(f"{name:34} p50 {statistics.median(values):6.2f} ms")


if __name__ == "__main__":
    main()
