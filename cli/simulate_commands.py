"""``shelfrank simulate``: synthetic shoppers against the running search and events APIs."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api import client as api_client
from api.simulated_shoppers import http_simulator
from cli.errors import fail, user_errors
from core.settings import get_settings
from evaluation import judgments as judgments_io
from ltr.simulation.behaviour import CLICK_MODELS

DEFAULT_RANKERS = "hybrid-minmax,bm25,hybrid-rrf,vector"


@user_errors
def simulate(
    sessions: int = typer.Option(1000, "--sessions", min=1, help="Shopping sessions to simulate."),
    click_model: str = typer.Option("pbm", "--click-model", help=f"How shoppers click: {', '.join(CLICK_MODELS)}."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same events (stored once)."),
    judgments: Path = typer.Option(..., "--judgments", help="Judged queries whose grades drive shopper relevance "
                                   "(the Home Depot train.csv, or CSV query,product_id,grade)."),
    fmt: str = typer.Option("homedepot", "--format", help="Judgments format: homedepot or csv."),
    split: str = typer.Option("train", help="Which fixed split's queries shoppers type: train, test or all."),
    queries: int = typer.Option(None, "--queries", min=1, help="Use only N queries of the split (seeded sample)."),
    rankers: str = typer.Option(DEFAULT_RANKERS, help="Comma-separated retrieval configurations; traffic is "
                                "split evenly between them (the variation lets click models separate position "
                                "bias from relevance)."),
    shoppers: int = typer.Option(1000, "--shoppers", min=1, help="Distinct simulated shoppers."),
    reuse_pages: bool = typer.Option(False, "--reuse-pages", help="Fetch each (query, ranker) page once, then "
                                     "replay it as search events (fast; for large simulations)."),
    days: float = typer.Option(28.0, help="With --reuse-pages, spread sessions over the last N days."),
    api: str = typer.Option(None, "--api", help="Base URL of the running API (default: http://API_HOST:API_PORT)."),
    truth: Path = typer.Option(None, "--truth", help="Write the simulator's ground truth (examination "
                               "propensities, true attractiveness per query and product) to this JSON file."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object on the last line."),
    api_key: str = typer.Option(None, "--api-key", help="The shop API key events are sent with "
                                "(`shelfrank admin create-key simulator`)."),
) -> None:
    """Shoppers with latent tastes issue real queries, read the real result pages and click, add to cart
    and buy by a known click model; every event goes through the events API."""
    settings = get_settings()
    if click_model not in CLICK_MODELS:
        raise fail(f"--click-model must be one of {', '.join(CLICK_MODELS)}")
    if fmt not in ("homedepot", "csv"):
        raise fail("--format must be homedepot or csv")
    if split not in ("train", "test", "all"):
        raise fail("--split must be train, test or all")
    try:
        loaded = judgments_io.load(judgments, fmt)
    except (OSError, judgments_io.JudgmentsError) as exc:
        raise fail(str(exc)) from None
    selected = judgments_io.select_split(loaded, split)
    names = sorted(selected)
    if queries and queries < len(names):
        import random

        names = sorted(random.Random(seed).sample(names, queries))
    if not names:
        raise fail(f"no judged queries in the {split} split")
    if settings.api_require_key and not api_key:
        raise fail("the events API needs a shop API key: run  shelfrank admin create-key simulator  and pass "
                   "--api-key KEY")
    base_url = (api or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    simulator = http_simulator(base_url, {q: selected[q] for q in names}, judgments if fmt == "homedepot" else None,
                               api_key=api_key, rankers=[r.strip() for r in rankers.split(",") if r.strip()], click_model=click_model,
                               seed=seed, shoppers=shoppers, reuse_pages=reuse_pages, days=days)
    try:
        result = simulator.run(sessions, progress=not as_json)
    except api_client.SearchApiError as exc:
        raise fail(f"the API at {base_url} refused a request: {exc}") from None
    except OSError as exc:
        raise fail(f"cannot reach the API at {base_url} ({exc}); start it with: shelfrank api serve") from None
    if truth:
        truth.parent.mkdir(parents=True, exist_ok=True)
        truth.write_text(json.dumps({
            **result.summary(),
            "attractiveness": [{"query": q, "product_id": p, "attractiveness": a}
                               for (q, p), a in sorted(result.true_attractiveness.items())]}))
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"{summary['sessions']} sessions, {summary['searches']} searches; events sent: "
               + ", ".join(f"{k} {v}" for k, v in summary["events"].items())
               + f"; rejected {summary['rejected']}, already stored {summary['duplicates']}")
    typer.echo("true examination by position: " + " ".join(f"{x:.2f}" for x in summary["examination"]))
