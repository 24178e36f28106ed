"""``shelfrank train``: a LambdaMART candidate from the shop's own behaviour (or judgments)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.db import migrate
from core.db.session import session_scope
from core.settings import get_settings
from evaluation import judgments as judgments_io
from ltr.click_labels import NotEnoughClicks
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, require_fields
from ltr.ranker.featureset import DEFAULT_FEATURESET, DEFAULT_PER_SEARCH_FEATURESET, FEATURESETS, default_featureset
from ltr.ranker.profiles import CatalogTraits
from ltr.ranker.search_dataset import DEBIAS
from ltr.ranker.labels import LABEL_SOURCES
from ltr.registry import RegistryError
from ltr.serving.xgboost_json import ModelConversionError
from storefront.factory import build_search_service


@user_errors
def train(
    labels: str = typer.Option("clickmodel", "--labels", help=f"Label source: {', '.join(LABEL_SOURCES)} "
                               "(clickmodel = debiased click-model relevance per query; ctr = raw CTR, position bias left in; "
                               "actions = one group per search, labelled by that shopper's clicks, carts and purchases: "
                               "what personalised featuresets need)."),
    debias: str = typer.Option("position", "--debias", help=f"With --labels actions: {', '.join(DEBIAS)} "
                               "(LightGBM position-aware lambdarank, inverse-propensity weights, or none)."),
    click_model: str = typer.Option("auto", "--click-model", help="auto, pbm, cascade, dbn or ubm."),
    judgments: Path = typer.Option(None, "--judgments", help="With --labels judgments: the judgments file."),
    fmt: str = typer.Option("csv", "--format", help="Judgments format: csv, trec or homedepot."),
    split: str = typer.Option("train", help="With judgments: which fixed split to train on (train or all)."),
    featureset: str = typer.Option(None, "--featureset", help=f"One of: {', '.join(FEATURESETS)} (default: "
                                   f"{DEFAULT_FEATURESET}; {DEFAULT_PER_SEARCH_FEATURESET} with --labels actions)."),
    days: float = typer.Option(28.0, "--days", help="Label window: searches of the last N days; behaviour "
                               "features are computed from the events before it."),
    window: int = typer.Option(None, "--window", help="Fused candidates per query (default: SHELFRANK_RERANK_WINDOW)."),
    name: str = typer.Option(None, "--name", help="Model name (default: ltr-<time>)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as one JSON object."),
) -> None:
    """Train a LightGBM LambdaMART model and register it as a candidate (promote it to serve it)."""
    from ltr.ranker.job import TrainingRequest, train_and_register  # LightGBM: only when training
    from ltr.ranker.train import TrainingError, TrainParams

    settings = get_settings()
    featureset = featureset or default_featureset(labels)
    if featureset not in FEATURESETS:
        raise fail(f"unknown featureset {featureset!r}; use one of {', '.join(FEATURESETS)}")
    if debias not in DEBIAS:
        raise fail(f"unknown --debias {debias!r}; use one of {', '.join(DEBIAS)}")
    loaded = None
    if labels == "judgments":
        if judgments is None:
            raise fail("--labels judgments needs --judgments FILE")
        try:
            loaded = judgments_io.select_split(judgments_io.load(judgments, fmt), split)
        except (OSError, judgments_io.JudgmentsError) as exc:
            raise fail(str(exc)) from None
    url = settings.effective_database_url
    migrate.ensure_current(url)
    service = build_search_service(settings, index, record=False)
    require_fields(service.client, service.index, FEATURESETS[featureset])
    extractor = FeatureExtractor(FEATURESETS[featureset], EngineFeatureLogger(service.client, service.index),
                                 service.encoder.vector)
    request = TrainingRequest(labels=labels, click_model=click_model, days=days,
                              min_support=settings.click_model_min_support, window=window or settings.rerank_window,
                              judgments=loaded, params=TrainParams.from_settings(settings), name=name, debias=debias,
                              unlabelled_weight=settings.ltr_unlabelled_weight)
    try:
        with session_scope(url) as session:
            outcome = train_and_register(session, request, service.candidates, extractor,
                                         settings.state_dir / "models", progress=not as_json,
                                         traits=CatalogTraits(service.client, service.index))
            summary = {"name": outcome.model.name, "status": outcome.model.status, "queries": outcome.queries,
                       "rows": outcome.rows, "metrics": outcome.model.metrics, "artifact": str(outcome.artifact.folder),
                       "featureset": featureset, "labels": labels, "click_model": outcome.model.click_model}
    except (NotEnoughClicks, TrainingError, ModelConversionError, RegistryError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"trained {summary['name']} on {summary['queries']} queries ({summary['rows']} rows, "
               f"{summary['metrics']['trees']} trees); validation nDCG@10 {summary['metrics']['valid']['ndcg@10']:.4f}")
    typer.echo(f"saved in {summary['artifact']}; registered as a candidate. Serve it with: "
               f".venv/bin/shelfrank models promote {summary['name']}")


@user_errors
def retrain_command(
    labels: str = typer.Option("clickmodel", "--labels", help="clickmodel, ctr or judgments (see `train`)."),
    judgments: Path = typer.Option(None, "--judgments", help="With --labels judgments: the judgments file "
                                   "(default: the train split of the judgments stored in the database)."),
    fmt: str = typer.Option("csv", "--format", help="Judgments format: csv, trec or homedepot."),
    featureset: str = typer.Option(DEFAULT_FEATURESET, "--featureset", help=f"One of: {', '.join(FEATURESETS)}."),
    days: float = typer.Option(28.0, "--days", help="Label window in days."),
    min_gain: float = typer.Option(None, "--min-gain", help="Held-out nDCG@10 gain needed over what is served "
                                   "(default: SHELFRANK_RETRAIN_MIN_GAIN)."),
    index: str = typer.Option(None, "--index", help="Catalogue alias (default: SHELFRANK_DEFAULT_INDEX)."),
    as_json: bool = typer.Option(False, "--json", help="Print the outcome as one JSON object."),
) -> None:
    """Train a candidate on all but a fixed held-out slice of the labelled queries, and promote it only if it
    ranks that slice better than what is served (the active model, or the hybrid) and passes the parity gate.
    The nightly worker task runs the same."""
    from ltr.ranker.job import TrainingRequest  # LightGBM: only when training
    from ltr.ranker.train import TrainingError, TrainParams
    from ltr.retrain import retrain

    settings = get_settings()
    loaded = None
    if labels == "judgments" and judgments is not None:  # without a file: the stored train-split judgments
        try:
            loaded = judgments_io.select_split(judgments_io.load(judgments, fmt), "train")  # never the test split
        except (OSError, judgments_io.JudgmentsError) as exc:
            raise fail(str(exc)) from None
    request = TrainingRequest(labels=labels, days=days, min_support=settings.click_model_min_support,
                              window=settings.rerank_window, judgments=loaded, params=TrainParams.from_settings(settings),
                              unlabelled_weight=settings.ltr_unlabelled_weight)
    try:
        report = retrain(settings, request, featureset=featureset, index=index, by=f"retrain:{_who()}",
                         min_gain=min_gain)
    except (NotEnoughClicks, TrainingError, ModelConversionError, RegistryError, ValueError) as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(f"{report.model}: {'promoted' if report.promoted else 'rejected'}: {report.reason}")
    if report.compaction is not None:
        typer.echo(f"segments: {report.compaction.describe()}")


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001
        return "unknown"
