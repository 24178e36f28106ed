"""Rankings for many queries at once, for offline jobs such as mining fine-tuning negatives.

They use the storefront's own BM25 query (:func:`storefront.retrieval.bm25_body`), so what an
offline job learns from is what shoppers are shown, and batch a few hundred queries per
``_msearch`` instead of one round trip each.
"""

from __future__ import annotations

from collections.abc import Sequence

from opensearchpy import OpenSearch
from tqdm import tqdm

from storefront.request import Filters
from storefront.retrieval import bm25_body, hit_id
from storefront.service import SearchUnavailable

QUERIES_PER_REQUEST = 200


def bm25_rankings(client: OpenSearch, index: str, queries: Sequence[str], depth: int,
                  progress: bool = False) -> dict[str, list[str]]:
    """Query -> product ids of its top ``depth`` BM25 hits, best first. A failed query stops the
    whole job (:class:`SearchUnavailable`), since a partial ranking would silently skew it."""
    ranked: dict[str, list[str]] = {}
    starts = range(0, len(queries), QUERIES_PER_REQUEST)
    for start in tqdm(starts, desc="BM25 rankings", unit="batch", disable=not progress):
        part = queries[start:start + QUERIES_PER_REQUEST]
        payload: list[dict] = []
        for query in part:
            payload += [{"index": index}, bm25_body(query, Filters(), depth, facets=False)]
        for query, response in zip(part, client.msearch(body=payload)["responses"]):
            if "error" in response:
                raise SearchUnavailable(f"the BM25 query for {query!r} failed: {response['error']}")
            ranked[query] = [hit_id(hit) for hit in response["hits"]["hits"]]
    return ranked
