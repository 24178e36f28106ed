"""Would numeric doc values make the match features cheap? The title's tokens read as keyword doc values
(``title_terms``, what the v2 match features read) against the same tokens as long hash codes.

Usage: .venv/bin/python bench/title_codes_probe.py --index products-ft [--queries 60]

bench/feature_cost.py shows that the three v2 match features spend most of their time loading
``title_terms``. This probe writes each product's token codes (Java's ``String.hashCode`` of every token,
what painless computes for a string) into a ``title_term_codes`` long field of ``--index`` with partial
updates, merges the index to one segment, then times three script features per candidate over the
served hybrid's fused candidates of ``--queries`` test queries (speed only, no relevance read): three
that read ``title_terms``, three that read ``title_term_codes``, and three that compute an exact query
coverage over the codes (binary search: doc values come sorted). **It changes the index**: point it at
a bench copy (`shelfrank index rebuild --index products-ft ...`), not the live catalogue. Stored
featuresets are named ``bench-codes-*`` and deleted at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

from opensearchpy import helpers

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _sltr import featureset_rescore, ids_search, timed  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from indexer import schema  # noqa: E402
from indexer.title_terms import tokens  # noqa: E402
from ltr.store import FeatureStore  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402

CODES = "title_term_codes"


def java_hash(text: str) -> int:
    """``String.hashCode()`` as Java computes it (signed 32 bits), for tokens in the basic plane."""
    h = 0
    for ch in text:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _guard(field: str) -> str:
    return f"if (!doc.containsKey('{field}') || doc['{field}'].size() == 0) {{ return 0.0; }} def t = doc['{field}']; "


SCRIPTS = {
    "3 scripts reading title_terms (keyword doc values)": _guard(schema.TITLE_TERMS) + "return (double) t.size();",
    "3 scripts reading title_term_codes (long doc values)": _guard(CODES) + "return (double) t.size();",
    "3 exact coverage scripts over title_term_codes": _guard(CODES) + (
        "int n = t.size(); int found = 0; for (def w : params.query_codes) { long x = (long) w; int lo = 0; "
        "int hi = n - 1; while (lo <= hi) { int mid = (lo + hi) >>> 1; long v = t.get(mid); "
        "if (v < x) { lo = mid + 1; } else if (v > x) { hi = mid - 1; } else { found++; break; } } } "
        "return params.query_codes.size() == 0 ? 0.0 : (double) found / params.query_codes.size();"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", required=True, help="a bench copy of the catalogue: this probe writes to it")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    service = build_search_service(get_settings(), args.index, record=False)
    client = service.client
    (physical,) = client.indices.get_mapping(index=args.index)
    client.indices.put_mapping(index=physical, body={"properties": {CODES: {"type": "long", "index": False,
                                                                            "doc_values": True}}})
    started = time.perf_counter()

    def updates():  # type: ignore[no-untyped-def]
        for hit in helpers.scan(client, index=physical, query={"_source": [schema.TITLE_TERMS]}):
            terms = hit["_source"].get(schema.TITLE_TERMS) or []
            yield {"_op_type": "update", "_index": physical, "_id": hit["_id"],
                   "doc": {CODES: [java_hash(t) for t in terms]}}

    written = sum(1 for ok, _item in helpers.streaming_bulk(client, updates(), chunk_size=1000) if ok)
    client.indices.forcemerge(index=physical, max_num_segments=1, request_timeout=900)
    print(f"{written} products given {CODES} and merged in {time.perf_counter() - started:.0f} s")

    store = FeatureStore(client, args.index)
    store.ensure()
    queries = sorted(select_split(load_homedepot(HOMEDEPOT), "test"))[: args.queries]
    pools = {q: [c.product_id for c in service.candidates(q)] for q in queries}
    print(f"{len(queries)} test queries, {statistics.fmean(len(p) for p in pools.values()):.0f} fused candidates")
    names = []
    for label, source in SCRIPTS.items():
        name = f"bench-codes-{uuid.uuid4().hex[:8]}"
        names.append(name)
        features = [{"name": f"f{i}", "params": ["keywords", "query_codes"], "template_language": "script_feature",
                     "template": {"lang": "painless", "source": source, "params": {}}} for i in range(3)]
        client.transport.perform_request("PUT", f"/_ltr/{store.name}/_featureset/{name}",
                                         body={"featureset": {"name": name, "features": features}})

        def search(query: str, name: str = name) -> dict:
            params = {"keywords": query, "query_codes": [java_hash(t) for t in tokens(query)]}
            body = {**ids_search(pools[query]), "rescore": featureset_rescore(name, store.name, params, len(pools[query]))}
            return client.search(index=args.index, body=body)

        wall, took = timed(queries, search)
        print(f"{label:54} p50 {wall:6.2f} ms  took {took:6.2f} ms", flush=True)
    for name in names:
        client.transport.perform_request("DELETE", f"/_ltr/{store.name}/_featureset/{name}")


if __name__ == "__main__":
    main()
