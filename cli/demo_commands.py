"""``shelfrank demo``: the shop's whole loop on real data, as a newcomer first sees it.

It starts the local OpenSearch node and Redis, migrates the metadata database, imports the Home Depot
judgments into SQL, indexes the catalogue (BM25 fields plus BERT vectors), answers a few queries three
ways, and leaves three services running in the background: a Celery worker, the storefront API and the
admin console (with an admin login it creates). Simulated shoppers then use the search and events APIs;
the *worker* refreshes the products' behaviour, fits the click model, trains, gates and promotes (or refuses)
a LambdaMART model (then one on the stored judgments, unless the served model already learned from them), and
evaluates what is served; the demo prints nDCG@10 on the test split for BM25, the hybrid and the served
ranking, and where to look. ``shelfrank demo --stop`` (``make demo-stop``) stops everything it started.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from pathlib import Path

import typer
from sqlalchemy import select
from tqdm import tqdm

from cli.errors import fail, user_errors
from core.access import api_keys, users
from core.background import BackgroundService, ServiceDidNotStart
from core.db import migrate
from core.db.models import TaskRun
from core.db.session import session_scope
from core.localnode import LocalNode
from core.opensearch_client import make_client
from core.redis_server import LocalRedis
from core.settings import Settings, get_settings
from evaluation import judgment_store
from evaluation.judgments import load_homedepot, select_split
from indexer.segments import Compaction
from indexer.sources import ImportReport, read_catalog
from indexer.versions import live_index
from storefront.request import SearchRequest

DEMO_QUERIES = 100  # few enough that each (query, product) pair is seen often: click models need support
SAMPLE_QUERIES = ("cordless drill", "outdoor lighting for patio", "white kitchen faucet")
DEMO_ADMIN = "demo-admin"


def services(settings: Settings) -> list[BackgroundService]:
    """What the demo leaves running, in start order (the worker first: the others queue jobs for it)."""
    return [
        BackgroundService("worker", ("worker",)),
        BackgroundService("api", ("api", "serve"), f"http://127.0.0.1:{settings.api_port}/api/v1/health"),
        BackgroundService("console", ("admin", "serve"), f"http://127.0.0.1:{settings.admin_port}/login"),
    ]


@user_errors
def demo(
    catalog: Path = typer.Option(None, help="A file of Home Depot columns (product_uid, product_title, search_term, "
                                 "relevance); default: the setting SHELFRANK_DEMO_CATALOG, which defaults to the shared "
                                 "Home Depot train.csv."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    sessions: int = typer.Option(8000, "--sessions", min=1, help="Simulated shopping sessions."),
    stop: bool = typer.Option(False, "--stop", help="Stop what the demo started (worker, API, console, Redis, "
                              "the node) and exit; their data stays."),
) -> None:
    """The shop's whole loop on the Home Depot data: index, serve, shoppers, the worker's retrain, evaluation."""
    # The heavy parts (torch, LightGBM, Flask) load when the demo runs, not when the CLI starts.
    from encoders.factory import load_cached_encoder
    from indexer import pipeline
    from storefront.factory import build_search_service

    settings = get_settings()
    if stop:
        _stop(settings)
        return
    catalog = catalog or settings.demo_catalog
    if not catalog.is_file():
        raise fail(f"the demo's catalogue {catalog} does not exist: set SHELFRANK_DEMO_CATALOG or pass --catalog "
                   "(a CSV of Home Depot columns: product_uid, product_title, search_term, relevance)")
    started = time.monotonic()
    alias = index or settings.default_index
    node = LocalNode(settings, progress=lambda line: typer.echo(line, err=True))
    status = node.start()
    LocalRedis(settings).start()
    migrate.upgrade(settings.effective_database_url)
    client = make_client(settings)
    encoder = load_cached_encoder(settings)
    _judgments(settings, catalog)

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

    typer.secho("\nServices (left running; `make demo-stop` stops them)", bold=True)
    for background in services(settings):
        try:
            pid, now = background.start(settings)
        except ServiceDidNotStart as exc:
            raise fail(str(exc)) from None
        typer.echo(f"  {background.name:8} pid {pid} ({'started' if now else 'already running'}); "
                   f"log {background.log_file(settings)}")
    login = _console_admin(settings)

    clickmodel_folder = _shoppers_and_click_models(settings, alias, catalog, sessions)
    refreshed = _worker_job(settings, "behaviour-refresh", "Behaviour refresh in the worker: what shoppers did, "
                            "onto the products the engine's behaviour features read", index=alias)
    done = refreshed.get("result") or {}
    if refreshed.get("status") == "succeeded":
        typer.echo(f"behaviour refresh: {done.get('updated')} products updated, {done.get('unchanged')} kept, "
                   f"{done.get('cleared')} cleared")
        if done.get("compaction"):
            typer.echo(f"segments: {Compaction(**done['compaction']).describe()}")
    else:
        typer.echo(f"behaviour refresh {refreshed.get('status')}: {refreshed.get('detail')}")
    _retrain(settings, alias, "clickmodel", "Retrain in the worker on the shoppers' clicks: click model, labels, "
             "features, LambdaMART, quality and parity gates")
    if _served_labels(settings) != "judgments":
        _retrain(settings, alias, "judgments", "Retrain in the worker on the shop's judgments (train split only), as "
                 "a shop with a judged query set does; the same gates against what is served now")
    evaluated = _worker_job(settings, "evaluate", "Evaluation in the worker: the served ranking and the hybrid on "
                            "the test split's judgments", index=alias)
    _relevance_table(settings, service, evaluated.get("result") or {})

    typer.echo("")
    typer.echo(f"OpenSearch {status.version} ({status.health}) at {status.url}; plugins: {', '.join(status.plugins)}")
    typer.echo(f"Storefront API: http://127.0.0.1:{settings.api_port}/api/v1/search  (POST {{\"query\": \"cordless "
               "drill\"}); search template for direct callers: shelfrank-search (README)")
    typer.echo(f"Admin console:  http://localhost:{settings.admin_port}/  {login}")
    typer.echo("Worker runs:    .venv/bin/shelfrank tasks status   (also the console's Tasks page)")
    typer.echo(f"Click model:    {clickmodel_folder}/examination.png and estimates.csv")
    typer.echo(f"Database:       {settings.effective_database_url}")
    typer.echo(f"Demo took {time.monotonic() - started:.0f}s. Stop it all with: make demo-stop")


def _retrain(settings: Settings, alias: str, labels: str, title: str) -> None:
    """One retrain in the worker, and what its gates decided."""
    retrained = _worker_job(settings, "retrain", title, labels=labels, index=alias)
    outcome = retrained.get("result") or {}
    if retrained.get("status") == "succeeded":
        verdict = "promoted" if outcome.get("promoted") else "not promoted"
        typer.echo(f"{outcome.get('model')}: {verdict}: {outcome.get('reason')}")
        if outcome.get("compaction"):
            typer.echo(f"segments: {Compaction(**outcome['compaction']).describe()}")
    else:
        typer.echo(f"retrain {retrained.get('status')}: {retrained.get('detail') or retrained.get('result')}")


def _served_labels(settings: Settings) -> str | None:
    """What the served model learned from ("clickmodel", "judgments"; "" if its registry row does not say), or
    None when no model is served.

    Clicks of 100 demo queries seldom beat the hybrid by enough for the quality gate; a model learned from
    the judgments does, so the demo trains one unless one is served already (a second run skips it)."""
    from ltr import registry

    with session_scope(settings.effective_database_url) as session:
        active = registry.active_model(session)
        return None if active is None else str((active.params or {}).get("labels") or "")


def _stop(settings: Settings) -> None:
    for background in reversed(services(settings)):
        typer.echo(f"{background.name}: {'stopped' if background.stop(settings) else 'was not running'}")
    typer.echo(f"redis: {'stopped' if LocalRedis(settings).stop() else 'was not running'}")
    typer.echo(f"opensearch: {'stopped' if LocalNode(settings).stop() else 'was not running'}")


def _judgments(settings: Settings, catalog: Path) -> None:
    """The Home Depot judgments into SQL, once: previews, the quality gate and evaluations read them there."""
    with session_scope(settings.effective_database_url) as session:
        if judgment_store.totals(session)["pairs"]:
            return
        report = judgment_store.import_judgments(session, load_homedepot(catalog), f"file:{catalog.name}", "demo")
    typer.echo(f"imported {report.pairs} judgments for {report.queries} queries into the database")


def _console_admin(settings: Settings) -> str:
    """The console login the demo creates once; its password is kept in a file only this user can read."""
    secret = settings.state_dir / "demo-admin-password.txt"
    with session_scope(settings.effective_database_url) as session:
        if users.find_user(session, DEMO_ADMIN) is None:
            password = secrets.token_urlsafe(12)
            users.create_user(session, DEMO_ADMIN, password, "admin")
            secret.write_text(password + "\n")
            secret.chmod(0o600)
    if not secret.exists():
        return f"(log in as {DEMO_ADMIN}; its password was set outside the demo)"
    return f"user {DEMO_ADMIN}, password {secret.read_text().strip()}  (kept in {secret})"


def _worker_job(settings: Settings, name: str, title: str, timeout_s: float = 3600.0, **kwargs: object) -> dict:
    """Queue ``name`` for the background worker and follow its recorded run until it ends."""
    from workers.tasks import TASKS  # the demo is a face: it may use the workers' own app

    typer.secho(f"\n{title}", bold=True)
    result = TASKS[name].apply_async(kwargs={**kwargs, "started_by": "demo"})
    deadline = time.monotonic() + timeout_s
    with tqdm(total=100, desc=name, unit="%", bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]") as bar:
        while not result.ready():
            if time.monotonic() > deadline:
                raise fail(f"{name} did not finish within {timeout_s:.0f}s; see .venv/bin/shelfrank tasks status")
            with session_scope(settings.effective_database_url) as session:
                run = session.scalars(select(TaskRun).where(TaskRun.task_id == result.id)
                                      .order_by(TaskRun.id.desc()).limit(1)).first()
                if run is not None and run.progress is not None:
                    bar.n = round(100 * run.progress)
                    bar.refresh()
            time.sleep(1.0)
        bar.n = 100
        bar.refresh()
    outcome = result.get(propagate=False)
    if not isinstance(outcome, dict):
        raise fail(f"{name} failed in the worker: {outcome}; see {settings.state_dir / 'run' / 'worker.log'}")
    return outcome


def _relevance_table(settings: Settings, service, evaluated: dict) -> None:  # type: ignore[no-untyped-def]
    """nDCG@10 / recall@100 on the test split: BM25 here, the hybrid and the served ranking from the worker."""
    from evaluation.runner import evaluate

    with session_scope(settings.effective_database_url) as session:
        test = judgment_store.load(session, "test")
    bm25 = evaluate(lambda q: service.ranking(q, "bm25", 100), test, "bm25", progress=True).averages
    rows = [("BM25", bm25), ("hybrid", evaluated.get("hybrid") or {}),
            (f"served ({evaluated.get('model') or 'no model: the hybrid'})", evaluated.get("served") or {})]
    typer.secho(f"\nRelevance on {len(test)} test-split queries", bold=True)
    typer.echo(f"  {'ranking':44} {'nDCG@10':>8} {'recall@100':>10} {'MRR@10':>8}")
    for label, metrics in rows:
        typer.echo(f"  {label[:44]:44} {metrics.get('ndcg@10', float('nan')):8.4f} "
                   f"{metrics.get('recall@100', float('nan')):10.4f} {metrics.get('mrr@10', float('nan')):8.4f}")


def _shoppers_and_click_models(settings: Settings, alias: str, catalog: Path, sessions: int) -> Path:
    """Simulated shoppers use the real APIs (served here on a free port), then click models are fitted."""
    from werkzeug.serving import make_server

    from api.app import create_app
    from api.simulated_shoppers import http_simulator
    from ltr.click_labels import fit_click_model, save_fit
    from storefront.factory import build_search_service

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
