"""Retrain, and promote only what ranks better than what is served: the nightly job, for every face.

events -> labels (click model chosen by held-out likelihood, or judgments) -> features -> LambdaMART
on all but a fixed held-out slice of the labelled queries -> candidate registered -> quality gate
(held-out nDCG@10 against the active model, or the hybrid when none is active, by at least
``retrain_min_gain``, graded by the shop's train-split judgments when it has them) -> parity gate (LightGBM against the engine's ``sltr``) -> promoted. A
candidate that fails either gate is rejected with the reason in its notes; the served model stays.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from core.access import audit
from core.db import migrate
from core.db.session import session_scope
from core.settings import Settings
from indexer.segments import Compaction, compact
from ltr import promotion, registry
from evaluation import judgment_store
from ltr.quality_gate import QualityVerdict, holdout_ndcgs, is_holdout_query, judged_slice, verdict
from ltr.ranker.artifacts import load_artifact
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor, require_fields
from ltr.ranker.featureset import DEFAULT_FEATURESET, FEATURESETS
from ltr.ranker.job import TrainingRequest, train_and_register
from ltr.ranker.profiles import CatalogTraits
from ltr.ranker.train import TrainingError
from ltr.registry import PromotionRefused
from storefront.factory import build_search_service


@dataclass(frozen=True)
class RetrainReport:
    model: str
    promoted: bool
    reason: str
    candidate_ndcg: float
    served_ndcg: float
    served_by: str
    holdout_queries: int
    trained_queries: int
    gain_low: float | None = None  # the held-out gain's one-sided 95% lower bound (None: no held-out query)
    #: The merge of the segments the query history's writes left (a candidate's, then the served model's again).
    compaction: Compaction | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def stored_train_judgments(url: str) -> dict[str, dict[str, float]]:
    """The shop's stored judgments of the train split, never the test split: the quality gate's grades, and
    what ``labels=judgments`` learns from when no file is given (the nightly task, the console)."""
    with session_scope(url) as session:
        return judgment_store.load(session, "train")


def retrain(settings: Settings, request: TrainingRequest, *, featureset: str = DEFAULT_FEATURESET,
            index: str | None = None, by: str = "retrain", min_gain: float | None = None,
            progress: Callable[[float], None] | None = None) -> RetrainReport:
    """Train a candidate and promote it only if both gates pass; returns what happened and why.
    ``progress`` hears the share done after each stage (features and training are most of it)."""
    report = progress or (lambda _share: None)
    if featureset not in FEATURESETS:
        raise ValueError(f"unknown featureset {featureset!r}; use one of {', '.join(FEATURESETS)}")
    gain = settings.retrain_min_gain if min_gain is None else min_gain
    url = settings.effective_database_url
    migrate.ensure_current(url)
    judged = stored_train_judgments(url)
    if request.labels == "judgments" and request.judgments is None:
        if not judged:
            raise TrainingError("labels=judgments: no judgments of the train split are stored; import some with "
                                "`shelfrank judgments import FILE` (or give a file)")
        request = replace(request, judgments=judged)
    service = build_search_service(settings, index, record=False)
    require_fields(service.client, service.index, FEATURESETS[featureset])
    extractor = FeatureExtractor(FEATURESETS[featureset], EngineFeatureLogger(service.client, service.index),
                                 service.encoder.vector)
    with session_scope(url) as session:
        outcome = train_and_register(session, request, service.candidates, extractor, settings.state_dir / "models",
                                     traits=CatalogTraits(service.client, service.index), holdout=is_holdout_query)
        name = outcome.model.name
    report(0.75)
    held_out = outcome.holdout
    assert held_out is not None
    gate_data, grades, graded_by = held_out, None, f"the training labels ({request.labels})"
    judged_held_out = judged_slice(held_out, judged)
    if judged_held_out is not None:
        gate_data, grades, graded_by = judged_held_out, judged, "the shop's judgments (train split)"
    candidate = holdout_ndcgs(gate_data, outcome.artifact.booster.predict(gate_data.features), grades=grades)
    with session_scope(url) as session:
        active = registry.active_model(session)
        served_by, served = "hybrid", holdout_ndcgs(gate_data, grades=grades)
        if active is not None:
            current = load_artifact(Path(active.artifact_path))
            if current.featureset.names == extractor.featureset.names:
                served_by, served = active.name, holdout_ndcgs(gate_data, current.booster.predict(gate_data.features),
                                                               grades=grades)
    quality: QualityVerdict = verdict(candidate, served, served_by, gain, graded_by=graded_by)
    promoted, reason = quality.promote, quality.reason
    report(0.8)
    with session_scope(url) as session:
        if promoted:
            try:
                previous = registry.active_model(session)
                registry.promote(session, name, by=by, gate=promotion.settings_gate(settings, index))
                # No person clicked this: the entry names the job and who started it (beat, console:ada...).
                audit.record(session, by if by.startswith("retrain") else f"retrain:{by}", "model.promote", name,
                             {"previous": previous.name if previous else None, "quality_gate": reason})
                promotion.after_switch(session, service.client, service.index, settings)
            except PromotionRefused as exc:
                promoted, reason = False, f"{reason}; but the parity gate failed: {exc.gate_result.summary()}"
        if not promoted:
            registry.reject(session, name, reason)
    # The parity gate wrote the candidate's query history (and the served one's back if it refused it).
    wrote = quality.promote and promotion.serves_history(outcome.artifact)
    compaction = compact(service.client, service.index, settings) if wrote else None
    return RetrainReport(name, promoted, reason, round(quality.candidate_ndcg, 6), round(quality.served_ndcg, 6),
                         served_by, len(gate_data.groups), outcome.queries,
                         None if math.isnan(quality.gain_low) else round(quality.gain_low, 6), compaction)
