"""The training job: stored events -> labels -> features -> LambdaMART -> artifact -> registry candidate.

I/O (database, OpenSearch through the extractor, files) is orchestrated here; every step it calls
is a pure function or a thin edge. A failure anywhere leaves the registry and the active model as
they were: the candidate is registered only after its artifact is complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy.orm import Session

from core.db.models import RankingModel
from ltr.click_labels import fit_click_model
from ltr.events.clicklog import iter_logged_searches
from ltr.features.loader import load_behaviour, search_queries
from ltr.ranker.artifacts import ModelArtifact, save_artifact
from ltr.ranker.dataset import RankingData, build_dataset
from ltr.ranker.extract import FeatureExtractor, behaviour_snapshot
from ltr.ranker.held_out_behaviour import HeldOutBehaviour
from ltr.ranker.labels import LABEL_SOURCES, Labels, click_model_labels, judgment_labels, naive_ctr_labels
from ltr.ranker.query_history import QueryHistory, history_from_labels
from ltr.ranker.reranker import TraitsLookup
from ltr.ranker.search_dataset import build_search_dataset, profiles_before
from ltr.ranker.train import TrainingError, TrainParams, train_lambdamart
from ltr.registry import register_candidate
from storefront.rerank_stage import Candidate



def is_validation_query(query: str) -> bool:
    """A fixed ~15% of the training queries, for early stopping (independent of order and run)."""
    return hashlib.sha256(("valid:" + query).encode()).digest()[0] < 38


@dataclass(frozen=True)
class TrainingRequest:
    labels: str = "clickmodel"
    click_model: str = "auto"
    days: float = 28.0  # label window; behaviour features come from before it
    min_support: int = 10
    window: int = 200
    judgments: Mapping[str, Mapping[str, float]] | None = None
    params: TrainParams = field(default_factory=TrainParams)
    name: str | None = None
    debias: str = "position"  # labels=actions: position, ipw or none (see ltr.ranker.search_dataset)
    #: Click labels: the weight of candidates the log never labelled (0, but unshown is not irrelevant).
    unlabelled_weight: float = 1.0


@dataclass(frozen=True, eq=False)
class TrainingOutcome:
    artifact: ModelArtifact
    model: RankingModel
    queries: int
    rows: int
    holdout: RankingData | None = None  # the held-out queries' rows, never trained on (when asked for)


def train_and_register(session: Session, request: TrainingRequest, candidates: Callable[[str], list[Candidate]],
                       extractor: FeatureExtractor, models_dir: Path, progress: bool = False,
                       traits: TraitsLookup | None = None,
                       holdout: Callable[[str], bool] | None = None) -> TrainingOutcome:
    """``traits`` (product id -> brand/department/price band) is needed by personalised featuresets.
    ``holdout`` picks queries kept out of training altogether (returned, for a quality gate)."""
    if request.labels not in LABEL_SOURCES:
        raise TrainingError(f"unknown label source {request.labels!r}; use one of {', '.join(LABEL_SOURCES)}")
    now = datetime.now(timezone.utc)
    start = now - timedelta(days=request.days)
    history = None
    if request.labels == "actions":
        data, click_model_name = _per_search_data(session, request, start, candidates, extractor, traits, progress)
    else:
        data, click_model_name, history = _per_query_data(session, request, start, candidates, extractor, progress)
    held_out = None
    if holdout is not None:
        chosen = [holdout(q) for q in data.queries]
        held_out, data = data.select(chosen), data.select([not c for c in chosen])
    valid = [is_validation_query(q) for q in data.queries]
    booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid),
                               extractor.featureset.names, request.params)
    name = request.name or f"ltr-{now.strftime('%Y%m%d-%H%M%S')}"
    metrics = {"valid": {"ndcg@10": round(float(booster.best_score["valid"]["ndcg@10"]), 6)},
               "trees": booster.best_iteration, "queries": len(data.groups), "rows": len(data)}
    artifact = save_artifact(models_dir / name, booster, extractor.featureset,
                             {"labels": request.labels, "click_model": click_model_name, "metrics": metrics,
                              # what the parity gate samples when the database holds no stored searches
                              "sample_queries": list(dict.fromkeys(data.queries))[:50],
                              "data_window": [start.isoformat(), now.isoformat()]},
                             history=history)
    model = register_candidate(session, name=name, featureset=extractor.featureset.name,
                               featureset_hash=extractor.featureset.hash, artifact_path=str(artifact.folder),
                               params={**request.params.as_dict(), "labels": request.labels,
                                       "debias": request.debias if request.labels == "actions" else None,
                                       "window": request.window, "min_support": request.min_support,
                                       "unlabelled_weight": request.unlabelled_weight},
                               metrics=metrics, click_model=click_model_name, data_window=(start, now))
    session.flush()
    return TrainingOutcome(artifact, model, len(data.groups), len(data), held_out)


def _per_query_data(session: Session, request: TrainingRequest, start: datetime,
                    candidates: Callable[[str], list[Candidate]], extractor: FeatureExtractor,
                    progress: bool) -> tuple[RankingData, str | None, QueryHistory | None]:
    """One group per query, graded by a click model, raw CTR or human judgments; and, for a featureset
    that reads the query history, the history those labels give (what the documents must hold when the
    model is served)."""
    click_model_name = None
    if request.labels == "judgments":
        if not request.judgments:
            raise TrainingError("labels=judgments needs a judgments file")
        max_grade = max(g for grades in request.judgments.values() for g in grades.values()) or 1.0
        labels: Labels = judgment_labels(request.judgments, max_grade)
    else:
        fit = fit_click_model(session, request.click_model, min_support=request.min_support, since=start)
        if request.labels == "clickmodel":
            click_model_name = fit.selection.name
            labels = click_model_labels(fit.selection.best, request.min_support)
        else:
            labels = naive_ctr_labels(fit.log, request.min_support)
    history = None
    if extractor.featureset.of_source("history"):
        # The documents' history holds these very labels: each row reads it without its own query.
        history = history_from_labels(labels)
        extractor = extractor.with_history(history)
    # Each query reads the behaviour before the label window without its own searches: what an unseen query finds.
    behaviour = HeldOutBehaviour(load_behaviour(session, until=start), search_queries(session, until=start), start)
    # Unjudged is irrelevant in judgments; never labelled by clicks may be unseen, so it may weigh less.
    weight = 1.0 if request.labels == "judgments" else request.unlabelled_weight
    data = build_dataset(sorted(labels), candidates, extractor, labels, unlabelled_as_zero=True,
                         unlabelled_weight=weight, behaviour=behaviour, window=request.window, progress=progress)
    return data, click_model_name, history


def _per_search_data(session: Session, request: TrainingRequest, start: datetime,
                     candidates: Callable[[str], list[Candidate]], extractor: FeatureExtractor,
                     traits: TraitsLookup | None, progress: bool) -> tuple[RankingData, str | None]:
    """One group per search of the label window, labelled by the shopper's own actions."""
    history = load_behaviour(session)
    if extractor.featureset.of_source("history"):
        raise TrainingError(f"featureset {extractor.featureset.name} reads the query history, which labels=actions "
                            "cannot leave each search's own clicks out of; train it with --labels clickmodel or judgments")
    personal = bool(extractor.featureset.of_source("user"))
    if personal and traits is None:
        raise TrainingError(f"featureset {extractor.featureset.name} is personalised: product traits are needed")
    examination, click_model_name = None, None
    if request.debias == "ipw":
        fit = fit_click_model(session, request.click_model, min_support=request.min_support, since=start)
        examination, click_model_name = fit.selection.best.examination, fit.selection.name
    searches = list(iter_logged_searches(session, since=start))
    profile_of = None
    if personal and traits is not None:
        profile_of = profiles_before(history, start, traits(a.product_id for a in history.actions))
    behaviour = behaviour_snapshot(history.before(start), start)
    data = build_search_dataset(searches, candidates, extractor, behaviour=behaviour, profile_of=profile_of,
                                debias=request.debias, examination=examination, window=request.window,
                                traits=traits, progress=progress)
    return data, click_model_name
