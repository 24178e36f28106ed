"""``shelfrank demo``: bring up the local stack and run the main job end to end on real data.

Each feature issue grows this command. Today it starts OpenSearch, migrates the metadata database,
indexes the Home Depot catalogue (BM25 fields plus BERT vectors), shows a few shopper queries
answered three ways, lets simulated shoppers use the search and events APIs, fits click models on
their clicks, trains a LambdaMART model on the click model's labels, promotes it through the
parity gate, shows a reranked query with its explanations, and prints where to look.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timezone
from pathlib import Path

import typer
from werkzeug.serving import make_server

from api.app import create_app
from api.simulated_shoppers import http_simulator
from core.access import api_keys
from cli.errors import user_errors
from core.db import migrate
from core.db.session import session_scope
from core.localnode import LocalNode
from core.opensearch_client import make_client
from core.settings import Settings, get_settings
from encoders.factory import load_cached_encoder
from evaluation.judgments import load_homedepot, select_split
from indexer import pipeline
from indexer.sources import ImportReport, read_catalog
from indexer.versions import live_index
from ltr.click_labels import fit_click_model, save_fit
from storefront.factory import build_search_service
from storefront.request import SearchRequest

HOMEDEPOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "homedepot" / "train.csv"
DEMO_QUERIES = 100  # few enough that each (query, product) pair is seen often: click models need support
SAMPLE_QUERIES = ("cordless drill", "outdoor lighting for patio", "white kitchen faucet")


@user_errors
def demo(
    catalog: Path = typer.Option(HOMEDEPOT, help="Home Depot train.csv (the shared data set)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    sessions: int = typer.Option(8000, "--sessions", min=1, help="Simulated shopping sessions."),
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

    clickmodel_folder = _shoppers_and_click_models(settings, alias, catalog, sessions)
    model_name = _train_and_promote(settings, alias)

    typer.echo("")
    typer.echo(f"OpenSearch {status.version} ({status.health}) at {status.url}; plugins: {', '.join(status.plugins)}")
    typer.echo(f"  index status: .venv/bin/shelfrank index status --index {alias}")
    typer.echo(f"  node logs:    {node.root / 'logs'}")
    typer.echo(f"Database: {settings.effective_database_url}  (.venv/bin/shelfrank events stats)")
    typer.echo(f"Click model: {clickmodel_folder}/examination.png and estimates.csv")
    typer.echo(f"Ranking model {model_name} is active: .venv/bin/shelfrank models list; "
               ".venv/bin/shelfrank search \"cordless drill\" --debug shows why each result ranks where it does")
    typer.echo("Serve the storefront API with: .venv/bin/shelfrank api serve  (POST /api/v1/search, /api/v1/events)")
    typer.echo("Stop the node with: .venv/bin/shelfrank opensearch stop")


def _shoppers_and_click_models(settings: Settings, alias: str, catalog: Path, sessions: int) -> Path:
    """Simulated shoppers use the real APIs (served here on a free port), then click models are fitted."""
    typer.secho(f"\nSimulated shoppers: {sessions} sessions over {DEMO_QUERIES} train queries, 4 rankers", bold=True)
    queries = select_split(load_homedepot(catalog), "train")
    names = sorted(random.Random(0).sample(sorted(queries), DEMO_QUERIES))
    service = build_search_service(settings, alias)
    server = make_server("127.0.0.1", 0, create_app(settings, service), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with session_scope(settings.effective_database_url) as session:  # the shoppers' frontend sends with a key
        issued = api_keys.create_key(session, "demo shoppers", by="demo")
    try:
        simulator = http_simulator(f"http://127.0.0.1:{server.server_port}", {q: queries[q] for q in names},
                                   catalog, api_key=issued.key,
                                   rankers=["hybrid-minmax", "bm25", "hybrid-rrf", "vector"], reuse_pages=True, seed=0)
        result = simulator.run(sessions, progress=True)
    finally:
        server.shutdown()
        with session_scope(settings.effective_database_url) as session:
            api_keys.revoke_key(session, issued.record.id, by="demo")
    typer.echo(f"sent {dict(result.counts)}; {result.duplicates} were already stored by an earlier demo run")
    with session_scope(settings.effective_database_url) as session:
        fit = fit_click_model(session, depth=settings.click_model_depth,
                              min_support=settings.click_model_min_support)
    folder = save_fit(fit, settings.state_dir / "clickmodels" / "demo")
    typer.echo(fit.selection.table())
    summary = fit.summary()
    typer.echo("examination by position, fitted: " + " ".join("-" if x is None else f"{x:.2f}"
                                                               for x in summary["examination"]))
    typer.echo("                  the shoppers': " + " ".join(f"{x:.2f}" for x in result.examination))
    typer.echo(f"{summary['labelled_pairs']} (query, product) pairs have enough impressions for a label")
    return folder


def _train_and_promote(settings: Settings, alias: str) -> str:
    """LambdaMART on the demo shoppers' clicks (click-model labels), promoted through the parity gate."""
    from ltr import promotion, registry
    from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger
    from ltr.ranker.featureset import SHOP_FEATURES
    from ltr.ranker.job import TrainingRequest, train_and_register
    from ltr.ranker.serving import storefront_service
    from ltr.ranker.train import TrainParams

    typer.secho("\nLearning to rank: LambdaMART on the click model's labels", bold=True)
    service = build_search_service(settings, alias, record=False)
    extractor = FeatureExtractor(SHOP_FEATURES, EngineFeatureLogger(service.client, service.index))
    request = TrainingRequest(labels="clickmodel", min_support=settings.click_model_min_support,
                              window=settings.rerank_window, params=TrainParams.from_settings(settings),
                              name=f"demo-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")
    with session_scope(settings.effective_database_url) as session:
        outcome = train_and_register(session, request, service.candidates, extractor,
                                     settings.state_dir / "models", progress=True)
        metrics = outcome.model.metrics
        typer.echo(f"trained {outcome.model.name} on {outcome.queries} queries ({outcome.rows} rows, "
                   f"{metrics['trees']} trees); validation nDCG@10 {metrics['valid']['ndcg@10']:.4f}")
    checks = []

    shop_gate = promotion.settings_gate(settings, alias)  # the demo's own catalogue, whatever the default

    def gate(model):  # type: ignore[no-untyped-def]
        checks.append(shop_gate(model))
        return checks[-1]

    with session_scope(settings.effective_database_url) as session:
        registry.promote(session, request.name, by="demo", gate=gate)
    with session_scope(settings.effective_database_url) as session:
        template = promotion.after_switch(session, service.client, alias, settings).template
    typer.echo(f"promoted {request.name}; parity gate: {checks[-1].summary()}; search template: {template}")
    served = storefront_service(settings, alias, record=False)
    query = SAMPLE_QUERIES[0]
    result = served.search(SearchRequest(query=query, size=3, debug=True), record=False)
    typer.secho(f"\n{query!r} reranked by {result.debug['reranker']}", bold=True)
    for item in result.results:
        typer.echo(f"  {item['score']:+7.3f}  {item['title'][:90]}")
        explanation = item.get("explanation")
        if explanation:
            terms = ", ".join(f"{t['feature']} {t['contribution']:+.2f}" for t in explanation["contributions"][:4])
            typer.echo(f"           why: {terms}")
    return request.name
