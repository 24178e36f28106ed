"""What each feature of a featureset costs the engine: an ``sltr`` rescore over real fused candidates.

Usage: .venv/bin/python bench/feature_cost.py [--featureset shelfrank-v2-engine] [--queries 60]

Needs the Home Depot catalogue indexed (`make demo` does it). For the first ``--queries`` test-split
queries (speed only: no relevance is read) it takes the served hybrid's fused candidates, then times,
twice (the first round warms up, the second is reported), one search per query over those candidates:
the ids alone (the baseline), the whole featureset as an ``sltr`` rescore (no model: every feature
computed, nothing ranked), the whole featureset on the fused top 30 / 50 / 100 only, and each feature
alone. A script feature that only returns a constant is the control for what a script costs by itself,
one that only reads the title's token doc values shows what the match features pay before matching, and
one that only reads the product id (keyword doc values) what every stage, product and history feature pays
to find its candidate's params.
It prints the median client-side milliseconds and the mean server-side ``took``; the extra over the
ids-only row is what the feature adds to a rerank. Store entries it writes are named ``bench-cost-*``
and deleted at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _sltr import featureset_rescore, ids_search, timed  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from indexer import schema  # noqa: E402
from ltr.ranker.extract import document_behaviour, sltr_params  # noqa: E402
from ltr.ranker.featureset import FEATURESETS, FeatureSet, FeatureSpec  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402
from storefront.rerank_stage import Candidate  # noqa: E402

Body = Callable[[str], dict]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--featureset", default="shelfrank-v2-engine", choices=sorted(FEATURESETS))
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--index", default=None)
    args = parser.parse_args()
    featureset = FEATURESETS[args.featureset]
    service = build_search_service(get_settings(), args.index, record=False)
    client, index = service.client, service.index
    store = FeatureStore(client, index)
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "test"))[: args.queries]
    pools: dict[str, list[Candidate]] = {q: service.candidates(q) for q in queries}
    print(f"{len(queries)} test queries, {statistics.fmean(len(p) for p in pools.values()):.0f} fused candidates "
          f"on average, index {index}, featureset {featureset.name}")
    tag = uuid.uuid4().hex[:8]
    written: list[str] = []

    def ids_only(query: str, window: int | None = None) -> dict:
        return ids_search([c.product_id for c in pools[query][:window]])

    def rescored(subset: FeatureSet, window: int | None = None) -> Body:
        stored = FeatureSet(f"bench-cost-{tag}-{len(written)}", subset.features)
        store.ensure_featureset(stored)
        written.append(stored.store_name)

        def body(query: str) -> dict:
            request = ids_only(query, window)
            # The whole featureset's params: a product feature indexes the priors by its place in the whole.
            params = sltr_params(featureset, query, pools[query][:window], document_behaviour({}), None,
                                 service.encoder.vector(query))
            request["rescore"] = featureset_rescore(stored.store_name, store.name, params, request["size"])
            return request
        return body

    def report(label: str, body: Body) -> None:
        wall, took = timed(queries, lambda q: client.search(index=index, body=body(q)))
        print(f"{label:34} {wall:8.2f} {took:10.2f}", flush=True)

    print(f"{'search':34} {'p50 ms':>8} {'took ms':>10}")
    report("ids only", ids_only)
    report("all features", rescored(featureset))
    for window in (1, 10, 30, 50, 100):
        report(f"all features, fused top {window}", rescored(featureset, window))
    constant = FeatureSpec("constant", "match", {"source": "return 1.0;"})
    report("a constant script (control)", rescored(FeatureSet("control", (constant,))))
    terms = FeatureSpec("title_terms_read", "match", {"source": (
        f"if (!doc.containsKey('{schema.TITLE_TERMS}') || doc['{schema.TITLE_TERMS}'].size() == 0) {{ return 0.0; }} "
        f"List t = doc['{schema.TITLE_TERMS}']; return (double) t.size();")})
    report("a script reading title_terms only", rescored(FeatureSet("terms", (terms,))))
    identity = FeatureSpec("id_read", "match", {"source": f"return doc['{schema.ID}'].value.length();"})
    report("a script reading the product id only", rescored(FeatureSet("id", (identity,))))
    for spec in featureset.features:
        report(spec.name, rescored(FeatureSet(spec.name, (spec,))))
    for name in written:
        client.transport.perform_request("DELETE", f"/_ltr/{store.name}/_featureset/{name}")


if __name__ == "__main__":
    main()
