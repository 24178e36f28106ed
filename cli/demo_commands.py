"""``shelfrank demo``: bring up the local stack and run the main job end to end on real data.

Each feature issue grows this command. Today it does four things: start OpenSearch, migrate the
metadata database, index the Home Depot catalogue (BM25 fields plus BERT vectors), and show a few
shopper queries answered both ways. Then it prints where to look.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.errors import user_errors
from core.db import migrate
from core.localnode import LocalNode
from core.opensearch_client import make_client
from core.settings import get_settings
from encoders.factory import load_cached_encoder
from indexer import pipeline
from indexer.sources import ImportReport, read_catalog
from indexer.versions import live_index
from storefront.factory import build_search_service
from storefront.request import SearchRequest

HOMEDEPOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "homedepot" / "train.csv"
SAMPLE_QUERIES = ("cordless drill", "outdoor lighting for patio", "white kitchen faucet")


@user_errors
def demo(
    catalog: Path = typer.Option(HOMEDEPOT, help="Home Depot train.csv (the shared data set)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
) -> None:
    """Start the local stack, index the Home Depot catalogue, answer sample queries, print where to look."""
    settings = get_settings()
    alias = index or settings.default_index
    node = LocalNode(settings, progress=lambda line: typer.echo(line, err=True))
    status = node.start()
    migrate.upgrade(settings.effective_database_url)
    client = make_client(settings)
    encoder = load_cached_encoder(settings)

    if live_index(client, alias) is None:
        typer.echo(f"Indexing the Home Depot catalogue from {catalog} (first run encodes ~55k titles on "
                   "the CPU: a few minutes; later runs reuse the embedding cache) ...")
        report = ImportReport(source=str(catalog))
        result = pipeline.rebuild(client, alias, read_catalog(catalog, "homedepot", report=report), encoder,
                                  settings, progress=True)
        typer.echo(report.summary())
        typer.echo(f"{alias} -> {result.index}: {result.documents} products in {result.seconds:.0f}s")
    else:
        typer.echo(f"{alias} is already indexed ({client.count(index=alias)['count']} products); "
                   "rebuild it with: .venv/bin/shelfrank index rebuild")

    service = build_search_service(settings, alias, record=False)
    for query in SAMPLE_QUERIES:
        typer.secho(f"\n{query!r}", bold=True)
        bm25 = client.search(index=alias, body={"size": 3, "_source": ["title"],
                                                "query": {"match": {"title": query}}})
        vector = encoder.encode([query])[0].tolist()
        knn = client.search(index=alias, body={"size": 3, "_source": ["title"],
                                               "query": {"knn": {"embedding": {"vector": vector, "k": 3}}}})
        for label, response in (("BM25  ", bm25), ("vector", knn)):
            for hit in response["hits"]["hits"]:
                typer.echo(f"  {label} {hit['_score']:7.3f}  {hit['_source']['title'][:90]}")
        served = service.search(SearchRequest(query=query, size=3), record=False)
        for item in served.results:
            typer.echo(f"  {served.config:6.6} {item['score']:7.3f}  {item['title'][:90]}")

    typer.echo("")
    typer.echo(f"OpenSearch {status.version} ({status.health}) at {status.url}; plugins: {', '.join(status.plugins)}")
    typer.echo(f"  index status: .venv/bin/shelfrank index status --index {alias}")
    typer.echo(f"  node logs:    {node.root / 'logs'}")
    typer.echo(f"Database: {settings.effective_database_url}")
    typer.echo("Stop the node with: .venv/bin/shelfrank opensearch stop")
