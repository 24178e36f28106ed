"""Query encoding for the storefront: torch against ONNX Runtime, one query at a time and under concurrency.

Usage: .venv/bin/python bench/query_encoding.py [--queries 300] [--threads 8]

Distinct Home Depot train-split queries (2-6 words, as shoppers type them). For each runtime: p50/p99
of encoding one query, then queries/s when ``--threads`` request threads encode at once, alone and
through the micro-batching encoder (what an API worker runs). The baseline is today's torch encoder
with torch's default threads. Cosine against it over every query shows the vectors are the same.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import default_queries, percentile  # noqa: E402

from core.settings import get_settings  # noqa: E402
from encoders.batching import MicroBatchingEncoder  # noqa: E402
from encoders.bert import BertEncoder  # noqa: E402
from encoders.factory import load_query_encoder  # noqa: E402


def single(encoder, queries: list[str]) -> tuple[float, float, np.ndarray]:  # type: ignore[no-untyped-def]
    times, vectors = [], []
    for query in queries:
        started = time.perf_counter()
        vectors.append(encoder.encode([query])[0])
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.5), percentile(times, 0.99), np.stack(vectors)


def concurrent(encoder, queries: list[str], threads: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda q: encoder.encode([q]), queries))
    return len(queries) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    queries = default_queries()
    random.Random(0).shuffle(queries)
    queries = queries[:args.queries]
    settings = get_settings()
    runtimes = {
        "torch, default threads (baseline)": BertEncoder(settings.model_path, settings.encoder_max_length, "cpu"),
        "onnx runtime, 1 thread (storefront default)": load_query_encoder(settings),
    }
    reference = None
    print(f"{len(queries)} distinct queries; {args.threads} concurrent threads in the second column")
    print("| runtime | one query p50 ms | p99 ms | queries/s, concurrent | + micro-batching | max 1-cos |")
    print("|---|---|---|---|---|---|")
    base_qps = None
    for name, encoder in runtimes.items():
        single(encoder, queries[:20])  # warm up
        p50, p99, vectors = single(encoder, queries)
        reference = vectors if reference is None else reference
        drift = float(np.max(1 - np.sum(vectors * reference, axis=1)))
        qps = concurrent(encoder, queries, args.threads)
        batched = concurrent(MicroBatchingEncoder(encoder, max_batch=8), queries, args.threads)
        base_qps = base_qps or qps
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {qps:.0f} ({qps / base_qps:.2f}x) | {batched:.0f} "
              f"({batched / base_qps:.2f}x) | {drift:.1e} |")


if __name__ == "__main__":
    main()
