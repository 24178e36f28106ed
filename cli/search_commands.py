"""``shelfrank search``, ``shelfrank eval`` and ``shelfrank api serve``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.settings import get_settings
from evaluation import judgments as judgments_io
from evaluation.reports import save_results
from evaluation.runner import EvaluationResult, evaluate
from storefront.factory import build_search_service
from storefront.request import InvalidRequest, parse_search_request
from storefront.service import SearchUnavailable

api_app = typer.Typer(help="The storefront HTTP API.", no_args_is_help=True)


@user_errors
def search(
    query: str = typer.Argument(..., help="What the shopper typed."),
    user: str = typer.Option(None, "--user", help="Shopper id (pseudonymised before storage)."),
    config: str = typer.Option(None, "--config", help="Retrieval configuration (default: SHELFRANK_SEARCH_CONFIG)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    size: int = typer.Option(10, help="Results per page."),
    page: int = typer.Option(1, help="Page number, from 1."),
    debug: bool = typer.Option(False, "--debug", help="Show per-stage scores, the model's per-feature "
                               "contributions and the latency breakdown."),
    as_json: bool = typer.Option(False, "--json", help="Print the full response as JSON."),
) -> None:
    """Search the catalogue as a shopper would (records the impressions like the API does)."""
    from ltr.ranker.serving import storefront_service  # LightGBM: only when a search runs

    settings = get_settings()
    service = storefront_service(settings, index)
    payload = {"query": query, "size": size, "page": page, "debug": debug, "user_id": user, "config": config}
    try:
        request = parse_search_request({k: v for k, v in payload.items() if v is not None}, tuple(service.configs))
        result = service.search(request)
    except (InvalidRequest, SearchUnavailable) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    typer.echo(f"search_id {result.search_id} · config {result.config} · {result.total_candidates} candidates")
    for item in result.results:
        typer.echo(f"{item['position']:3d}. {item['score']:8.4f}  {item['id']:>10}  {item['title']}")
        if debug:
            stages = ", ".join(f"{k}={v:.4f}" for k, v in item["stages"].items())
            typer.echo(f"{'':16}{stages}")
            explanation = item.get("explanation")
            if explanation:
                terms = ", ".join(f"{t['feature']} {t['contribution']:+.3f}" for t in explanation["contributions"])
                typer.echo(f"{'':16}why: {terms}, others {explanation['other_features']:+.3f}, "
                           f"base {explanation['bias']:+.3f}")
    if debug and result.debug:
        typer.echo("latency ms: " + ", ".join(f"{k}={v}" for k, v in result.debug["latency_ms"].items()))
    for facet, buckets in result.facets.items():
        if buckets:
            typer.echo(f"{facet}: " + ", ".join(f"{b['value']} ({b['count']})" for b in buckets[:8]))


@user_errors
def eval_command(
    judgments: Path = typer.Option(..., "--judgments", help="Judgments file (CSV query,product_id,grade; TREC qrels; "
                                   "or the Home Depot train.csv)."),
    config: list[str] = typer.Option(..., "--config", help="Retrieval configuration(s) to evaluate, repeatable; "
                                     "'ltr' is the default configuration reranked by the active model."),
    fmt: str = typer.Option("csv", "--format", help="csv, trec or homedepot."),
    topics: Path = typer.Option(None, "--topics", help="TREC topics file: lines of 'qid<TAB>query'."),
    query_column: str = typer.Option("query", help="CSV column holding the query."),
    product_column: str = typer.Option("product_id", help="CSV column holding the product id."),
    grade_column: str = typer.Option("grade", help="CSV column holding the grade (0 = not relevant)."),
    split: str = typer.Option("test", help="test, train or all (the split is fixed: see evaluation/judgments.py)."),
    limit: int = typer.Option(None, help="Evaluate only the first N queries of the split (sorted)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    out: Path = typer.Option(None, "--out", help="Folder for per-query CSV, JSON and the plot."),
    as_json: bool = typer.Option(False, "--json", help="Print the averages as one JSON object on the last line."),
) -> None:
    """nDCG@10, recall@100, MRR@10 and ERR@10 of named retrieval configurations on judged queries."""
    settings = get_settings()
    try:
        loaded = judgments_io.load(judgments, fmt, topics, query_column=query_column, product_column=product_column,
                                   grade_column=grade_column) if fmt == "csv" else judgments_io.load(judgments, fmt, topics)
    except (OSError, judgments_io.JudgmentsError) as exc:
        raise fail(str(exc)) from None
    if split not in ("test", "train", "all"):
        raise fail("--split must be test, train or all")
    selected = judgments_io.select_split(loaded, split)
    if limit:
        selected = {q: selected[q] for q in sorted(selected)[:limit]}
    if not selected:
        raise fail(f"no judged queries in the {split} split")
    service = build_search_service(settings, index, record=False)
    unknown = [c for c in config if c not in service.configs and c != "ltr"]
    if unknown:
        raise fail(f"unknown config {unknown[0]!r}; choose from {', '.join([*service.configs, 'ltr'])}")
    rankers = {name: (lambda q, name=name: service.ranking(q, name, 100)) for name in config if name != "ltr"}
    if "ltr" in config:
        from ltr.ranker.serving import storefront_service

        served = storefront_service(settings, index, record=False)
        if served.reranker.name == "none":
            raise fail("no learning-to-rank model is active (shelfrank models list / promote)")
        rankers["ltr"] = lambda q: served.ranking(q, settings.search_config, 100)
    results: list[EvaluationResult] = []
    for name in config:
        try:
            results.append(evaluate(rankers[name], selected, name, progress=not as_json))
        except SearchUnavailable as exc:
            raise fail(str(exc)) from None
    folder = out or settings.state_dir / "eval" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    save_results(results, folder, split)
    for result in results:
        metrics = "  ".join(f"{k}={v:.4f}" for k, v in result.averages.items() if k != "queries")
        typer.echo(f"{result.config:15} {metrics}  ({result.averages['queries']} {split} queries)")
    typer.echo(f"saved per-query results and a plot in {folder}")
    if as_json:
        summary = results[0].averages if len(results) == 1 else {r.config: r.averages for r in results}
        typer.echo(json.dumps(summary))


@user_errors
def tune_fusion(
    judgments: Path = typer.Option(..., "--judgments", help="Judgments file (as for eval)."),
    fmt: str = typer.Option("csv", "--format", help="csv, trec or homedepot."),
    topics: Path = typer.Option(None, "--topics", help="TREC topics file."),
    limit: int = typer.Option(1000, help="Train queries to use (sorted, so the sample is fixed)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
) -> None:
    """Grid-search the fusion method and vector weight on the TRAIN split (never the test split)."""
    from evaluation.tuning import collect, grid_search

    settings = get_settings()
    try:
        loaded = judgments_io.select_split(judgments_io.load(judgments, fmt, topics), "train")
    except (OSError, judgments_io.JudgmentsError) as exc:
        raise fail(str(exc)) from None
    queries = sorted(loaded)[:limit]
    service = build_search_service(settings, index, record=False)
    candidates = collect(service.candidate_lists, queries, progress=True)
    ranking = grid_search(candidates, loaded)
    for row in ranking[:10]:
        typer.echo(f"{row.method:7} vector_weight={row.vector_weight:.1f}  ndcg@10={row.ndcg_at_10:.4f}")
    best = ranking[0]
    typer.echo(f"best on {len(queries)} train queries: SHELFRANK_SEARCH_CONFIG=hybrid-{best.method} "
               f"SHELFRANK_HYBRID_VECTOR_WEIGHT={best.vector_weight}")


@api_app.command("serve")
@user_errors
def serve(
    host: str = typer.Option(None, help="Bind address (default: SHELFRANK_API_HOST)."),
    port: int = typer.Option(None, help="Port (default: SHELFRANK_API_PORT)."),
    dev: bool = typer.Option(False, "--dev", help="Flask's single-process development server instead "
                             "(reloads nothing, one process; for debugging only)."),
) -> None:
    """Serve POST /api/v1/search and /api/v1/events with gunicorn: SHELFRANK_API_WORKERS processes of
    SHELFRANK_API_THREADS threads; impressions are written in batches off the request path, and
    SIGTERM / Ctrl-C finishes the requests in flight and writes every buffered impression."""
    settings = get_settings()
    host, port = host or settings.api_host, port or settings.api_port
    if dev:
        import faulthandler
        import signal

        from werkzeug.serving import run_simple

        # `kill -USR1 PID` prints every thread's stack (a server that will not stop says where it waits);
        # gunicorn keeps USR1 for reopening its logs, so only the development server does this.
        faulthandler.register(signal.SIGUSR1, all_threads=True)

        from api.app import create_app, shutdown

        app = create_app(settings)
        try:
            run_simple(host, port, app, threaded=True)
        finally:
            shutdown(app)
        return
    from api.server import serve as serve_production

    serve_production(settings, host, port)
