"""Choosing a click model by held-out log-likelihood: the models make different assumptions about
how shoppers browse, and which holds for a shop is an empirical question of its own log."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ltr.clickmodels.base import ClickModel
from ltr.clickmodels.cascade import CascadeModel
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.dbn import DynamicBayesianNetwork
from ltr.clickmodels.pbm import PositionBasedModel
from ltr.clickmodels.prior import Prior
from ltr.clickmodels.ubm import UserBrowsingModel

MODELS: dict[str, type[ClickModel]] = {m.name: m for m in (PositionBasedModel, CascadeModel,
                                                            DynamicBayesianNetwork, UserBrowsingModel)}


def make_model(name: str, **params: Any) -> ClickModel:
    """A new, unfitted model by its ``name``; ``params`` go to its constructor (e.g. prior_alpha)."""
    try:
        return MODELS[name](**params)
    except KeyError:
        raise ValueError(f"unknown click model {name!r}; valid names: {', '.join(MODELS)}") from None


@dataclass(frozen=True)
class CandidateScore:
    name: str
    log_likelihood: float  # held-out, mean per session (nats); higher is better
    perplexity: float  # held-out, mean over positions; lower is better
    perplexity_at: tuple[float, ...]  # per position
    fit_seconds: float
    n_iter: int
    prior: Prior = "fixed"  # the attractiveness prior the candidate was fitted with


@dataclass(frozen=True, eq=False)
class ModelSelection:
    best: ClickModel  # refitted on the whole log
    scores: list[CandidateScore]  # in candidate order

    @property
    def name(self) -> str:
        return self.best.name

    def table(self) -> str:
        lines = [f"{'model':8} {'held-out LL':>12} {'perplexity':>10} {'fit s':>7} {'iter':>5} {'prior':>9}"]
        for s in self.scores:
            mark = " *" if s.name == self.name else ""
            lines.append(f"{s.name:8} {s.log_likelihood:12.4f} {s.perplexity:10.4f} {s.fit_seconds:7.2f} "
                         f"{s.n_iter:5d} {s.prior:>9}{mark}")
        return "\n".join(lines)


def prior_params(name: str, prior: Prior) -> dict[str, Any]:
    """Constructor params for ``prior``; a model that cannot fit it (DBN: empirical) keeps the fixed one."""
    if name not in MODELS:
        raise ValueError(f"unknown click model {name!r}; valid names: {', '.join(MODELS)}")
    return {"prior": prior if prior in MODELS[name].priors else "fixed"}


def select_model(log: ClickLog, candidates: Sequence[str] = ("pbm", "cascade", "dbn", "ubm"),
                 held_out: float = 0.2, seed: int = 0, prior: Prior = "fixed", **fit_kwargs: Any) -> ModelSelection:
    """Fit each candidate on a random (1 - held_out) of the sessions, score the rest, and refit the
    one with the highest held-out log-likelihood on the whole log. Candidates use the attractiveness
    ``prior`` where they support it (see ``prior_params``); ``fit_kwargs`` go to ``fit``."""
    if not candidates:
        raise ValueError("no candidate models")
    models = [make_model(name, **prior_params(name, prior)) for name in candidates]  # bad names fail first
    train, test = log.split(held_out, seed)
    scores = []
    for model in models:
        started = time.perf_counter()
        model.fit(train, **fit_kwargs)
        seconds = time.perf_counter() - started
        perplexity, per_position = model.perplexity(test)
        scores.append(CandidateScore(model.name, model.log_likelihood(test), perplexity,
                                     tuple(float(p) for p in per_position), seconds, model.n_iter, model.prior))
    best = scores[int(np.argmax([s.log_likelihood for s in scores]))].name
    return ModelSelection(make_model(best, **prior_params(best, prior)).fit(log, **fit_kwargs), scores)
