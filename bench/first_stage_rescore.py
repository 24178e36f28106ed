"""Would one round trip make the engine rerank cheap? The hybrid's ``_msearch`` alone, followed by a
second ``sltr`` search (the serving path today), and with the ``sltr`` rescore inside the first stage.

Usage: .venv/bin/python bench/first_stage_rescore.py [--queries 150] [--featureset shelfrank-v2-engine]

Needs the Home Depot catalogue indexed (`make demo` does it). Only an engine-only featureset (no
first-stage values) can rescore inside the first stage: each retriever's sub-request then carries the
rescore over its own top candidates. Variants, each timed over the same test-split queries twice (the
second round reported), one client, query vectors encoded beforehand:

- the served hybrid ``_msearch`` (BM25 100 with facets and exact cosines, k-NN 30): the baseline;
- two trips: that, then one ``sltr`` search over the first ``window`` candidates of the union;
- one trip, in place: the BM25 and k-NN sub-requests rescored over their own top a / b (BM25's own
  scores of those a are then lost: an ``_msearch`` cannot return named-query scores on 2.19);
- one trip, three sub-requests: the BM25 query kept as it is plus a rescored copy of its top a.

The featureset is stored without a model (every feature computed, nothing learned), so the figures are
the features' cost, the same for any model on them. Speed only: no relevance is read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _sltr import featureset_rescore, ids_search, timed  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.ranker.extract import document_behaviour, sltr_params  # noqa: E402
from ltr.ranker.featureset import FEATURESETS, engine_only  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.request import Filters  # noqa: E402
from storefront.retrieval import bm25_body, hit_id, knn_body, query_vector_param  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--featureset", default="shelfrank-v2-engine",
                        choices=sorted(n for n, fs in FEATURESETS.items() if engine_only(fs)))
    parser.add_argument("--index", default=None)
    args = parser.parse_args()
    featureset = FEATURESETS[args.featureset]
    service = build_search_service(get_settings(), args.index, record=False)
    client, index = service.client, service.index
    store = FeatureStore(client, index)
    store.ensure_featureset(featureset)
    config = service.configs[service.default_config]
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "test"))[: args.queries]
    vectors = {q: query_vector_param(service.encoder.vector(q)) for q in queries}

    def rescore(query: str, window: int) -> dict:
        params = sltr_params(featureset, query, [], document_behaviour({}), None, vectors[query])
        return featureset_rescore(featureset.store_name, store.name, params, window)

    def first_stage(query: str) -> list[dict]:
        bm25 = bm25_body(query, Filters(), config.candidates, vector=vectors[query], fields=config.fields)
        return [bm25, knn_body(vectors[query], Filters(), config.knn_k, config.ef_search)]

    def msearch(bodies: list[dict]) -> dict:
        payload: list[dict] = []
        for body in bodies:
            payload.extend([{"index": index}, body])
        return client.msearch(body=payload)

    def two_trips(query: str, window: int) -> None:
        response = msearch(first_stage(query))
        union = list(dict.fromkeys(hit_id(h) for part in response["responses"] for h in part["hits"]["hits"]))
        ids = union[:window]
        client.search(index=index, body={**ids_search(ids), "rescore": rescore(query, len(ids))})

    def in_place(query: str, a: int, b: int) -> None:
        bm25, knn = first_stage(query)
        bm25["rescore"], knn["rescore"] = rescore(query, a), rescore(query, b)
        knn["script_fields"] = bm25["script_fields"]  # the k-NN hits' cosines, now that _score is the model's
        msearch([bm25, knn])

    def three(query: str, a: int, b: int) -> None:
        bm25, knn = first_stage(query)
        top = bm25_body(query, Filters(), a, facets=False, fields=config.fields)
        top["rescore"], knn["rescore"] = rescore(query, a), rescore(query, b)
        knn["script_fields"] = bm25["script_fields"]
        msearch([bm25, top, knn])

    def report(label: str, run: Callable[[str], object], baseline: float | None) -> float:
        p50, _took = timed(queries, run)
        print(f"{label:44} {p50:8.2f} {p50 / baseline if baseline else 1.0:7.2f}", flush=True)
        return p50

    print(f"{len(queries)} test queries, index {index}, featureset {featureset.name}, config {config.name}")
    print(f"{'variant':44} {'p50 ms':>8} {'ratio':>7}")
    base = report("hybrid _msearch", lambda q: msearch(first_stage(q)), None)
    for window in (200, 50):
        report(f"two trips, union top {window}", lambda q, w=window: two_trips(q, w), base)
    for a, b in ((100, 30), (50, 30), (30, 30), (20, 20)):
        report(f"one trip in place, BM25 top {a}, k-NN top {b}", lambda q, a=a, b=b: in_place(q, a, b), base)
    for a, b in ((100, 30), (30, 30), (20, 20)):
        report(f"one trip, 3 sub-requests, {a} / {b}", lambda q, a=a, b=b: three(q, a, b), base)


if __name__ == "__main__":
    main()
