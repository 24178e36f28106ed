"""What each part of the default first stage costs the node: BM25 with and without the facets and the exact
cosines, the k-NN search, and the whole ``_msearch`` the storefront sends.

Usage: .venv/bin/python bench/first_stage_parts.py [--queries 200]

Distinct train-split queries, their vectors encoded before timing; every query runs every variant in a
rotating order (two rounds, the first warms up). Prints the client's wall time and the node's ``took`` (whole
milliseconds, so read its mean) per variant. The question it answers: how much of the first stage could
move elsewhere (facets sent while the query encodes, say) and how much the two sub-searches overlap.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _data import HOMEDEPOT  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import Filters  # noqa: E402
from storefront.retrieval import bm25_body, knn_body, query_vector_param  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    service = build_search_service(get_settings(), record=False)
    tuning = service.current_tuning()
    config = tuning.configs[tuning.default_config]
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "train"))
    random.Random(7).shuffle(queries)
    queries = queries[: args.queries]
    vectors = {q: query_vector_param(service.encoder.vector(q)) for q in queries}
    none = Filters()

    def bm25(q: str, facets: bool, cosine: bool) -> dict:
        return bm25_body(q, none, config.candidates, facets=facets, vector=vectors[q] if cosine else None,
                         fields=config.fields, synonyms=config.synonyms)

    variants = {
        "BM25 + facets + cosines": lambda q: [bm25(q, True, True)],
        "BM25 + facets": lambda q: [bm25(q, True, False)],
        "BM25 + cosines": lambda q: [bm25(q, False, True)],
        "BM25 alone": lambda q: [bm25(q, False, False)],
        "facets alone (size 0)": lambda q: [bm25_body(q, none, 0, fields=config.fields, synonyms=config.synonyms)],
        "k-NN": lambda q: [knn_body(vectors[q], none, config.knn_k, config.ef_search)],
        "the storefront's _msearch": lambda q: [bm25(q, True, True), knn_body(vectors[q], none, config.knn_k,
                                                                              config.ef_search)],
    }
    wall: dict[str, list[float]] = {name: [] for name in variants}
    took: dict[str, list[int]] = {name: [] for name in variants}
    for warm_up in (True, False):
        for i, query in enumerate(queries):
            names = list(variants)
            names = names[i % len(names):] + names[: i % len(names)]
            for name in names:
                payload: list[dict] = []
                for body in variants[name](query):
                    payload += [{"index": service.index}, body]
                started = time.perf_counter()
                response = service.client.msearch(body=payload)
                if not warm_up:
                    wall[name].append((time.perf_counter() - started) * 1000)
                    took[name].append(max(part["took"] for part in response["responses"]))
    print(f"{len(queries)} train queries, index {service.index}, config {config.name} (BM25 top {config.candidates}, "
          f"k-NN top {config.knn_k})")
    print(f"{'variant':28} {'wall p50 ms':>11} {'took mean ms':>12}")
    for name in variants:
        print(f"{name:28} {statistics.median(wall[name]):11.2f} {statistics.mean(took[name]):12.2f}")


if __name__ == "__main__":
    main()
