"""Whether the storefront encodes queries with the model the live index's vectors came from.

A k-NN query compares the query's vector with the documents'. Vectors of two models of the same dimension
(the bundled MiniLM and a shop's fine-tuned copy of it) give cosines that mean nothing, and nothing fails:
the hybrid just ranks worse. The index records the model that filled it (``indexer.versions.index_model``),
and searches follow it (:mod:`storefront.live_encoder`). When no local folder holds that model, or following
is off, the mismatch is named here. Searches are not refused for it: a shop would rather serve a worse
hybrid than nothing; ``/ready`` and the API's log say it.
"""

from __future__ import annotations

from opensearchpy import OpenSearch

from encoders.identity import ModelIdentity
from indexer.versions import live_index_model


def vectors_mismatch(client: OpenSearch, index: str, queries: ModelIdentity) -> str | None:
    """What is wrong when the live index behind ``index`` holds vectors of another model than ``queries``
    (the query encoder's identity); None when they match, or when the index or its record is missing
    (searches report those themselves)."""
    found = live_index_model(client, index)
    if found is None or found[1] is None or found[1] == queries:
        return None
    live, stored = found
    return (f"the live index {live} holds vectors of {stored.key}, but queries are encoded with {queries.key}: "
            "put that model's folder in SHELFRANK_ENCODERS_DIR (searches switch to it within 5 minutes unless "
            "SHELFRANK_QUERY_ENCODER_FOLLOW_S is 0) or SHELFRANK_MODEL_PATH, or rebuild the index with this one")
