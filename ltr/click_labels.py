"""The click-model job: read the stored click log, choose and fit a click model, and save what
learning to rank needs from it (examination propensities, per-pair relevance with support, labels).

I/O lives here (database in, files out); the estimation itself is in :mod:`ltr.clickmodels`.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.settings import get_settings
from ltr.clickmodels import MODELS, ClickLog, ModelSelection, graded_labels, select_model
from ltr.clickmodels.prior import Prior
from ltr.events.clicklog import iter_click_sessions

AUTO = "auto"


class NotEnoughClicks(ValueError):
    """The stored log cannot support a click model (no searches, or no clicks at all)."""


@dataclass(frozen=True, eq=False)
class ClickModelFit:
    selection: ModelSelection
    log: ClickLog
    labels: dict[tuple[str, str], int]
    min_support: int
    fitted_at: datetime

    def summary(self) -> dict[str, Any]:
        chosen = next(s for s in self.selection.scores if s.name == self.selection.name)
        return {
            "model": self.selection.name,
            "held_out_log_likelihood": round(chosen.log_likelihood, 6),
            "held_out_perplexity": round(chosen.perplexity, 6),
            "examination": [None if math.isnan(x) else round(float(x), 4)  # a position never shown
                            for x in self.selection.best.examination],
            "sessions": self.log.n_sessions,
            "impressions": self.log.n_impressions,
            "pairs": len(self.selection.best.estimates()),
            "labelled_pairs": len(self.labels),
            "min_support": self.min_support,
            "prior": {"kind": self.selection.best.prior,
                      "alpha": round(self.selection.best.attractiveness_prior[0], 4),
                      "beta": round(self.selection.best.attractiveness_prior[1], 4)},
            "candidates": {s.name: {"held_out_log_likelihood": round(s.log_likelihood, 6),
                                    "held_out_perplexity": round(s.perplexity, 6),
                                    "fit_seconds": round(s.fit_seconds, 3)} for s in self.selection.scores},
            "fitted_at": self.fitted_at.isoformat(),
        }


def fit_click_model(session: Session, model: str = AUTO, *, depth: int = 10, min_support: int = 10,
                    held_out: float = 0.2, seed: int = 0, since: datetime | None = None,
                    until: datetime | None = None, prior: Prior | None = None) -> ClickModelFit:
    """Every click model the pipeline fits is built here; ``prior`` (default: the click_model_prior
    setting) is the attractiveness prior, see :class:`ltr.clickmodels.ClickModel`."""
    if model != AUTO and model not in MODELS:
        raise ValueError(f"unknown click model {model!r}; use {AUTO} or one of {', '.join(MODELS)}")
    log = ClickLog.from_sessions(iter_click_sessions(session, depth, since, until), depth=depth)
    if log.n_sessions == 0:
        raise NotEnoughClicks("no searches with impressions are stored yet (send events or run shelfrank simulate)")
    if not log.clicks.any():
        raise NotEnoughClicks(f"{log.n_sessions} searches are stored but none has a click")
    candidates = tuple(MODELS) if model == AUTO else (model,)
    prior = get_settings().click_model_prior if prior is None else prior
    selection = select_model(log, candidates, held_out=held_out, seed=seed, prior=prior)
    labels = graded_labels(selection.best.estimates(), min_support)
    return ClickModelFit(selection, log, labels, min_support, datetime.now(timezone.utc))


def save_fit(fit: ClickModelFit, folder: Path) -> Path:
    """``summary.json``, ``estimates.csv`` (one row per query and product) and ``examination.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(fit.summary(), indent=2))
    with (folder / "estimates.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query", "product_id", "attractiveness", "satisfaction", "relevance", "impressions",
                         "clicks", "label"])
        for row in fit.selection.best.estimates():
            label = fit.labels.get((row.query, row.doc))
            writer.writerow([row.query, row.doc, f"{row.attractiveness:.6f}",
                             "" if row.satisfaction is None else f"{row.satisfaction:.6f}", f"{row.relevance:.6f}",
                             row.impressions, row.clicks, "" if label is None else label])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    positions = range(1, len(fit.selection.best.examination) + 1)
    ax.bar(positions, fit.selection.best.examination, color="#4c72b0")
    ax.set_xlabel("position")
    ax.set_ylabel("P(examined)")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(list(positions))
    ax.set_title(f"Examination propensity ({fit.selection.name}, {fit.log.n_sessions} searches)")
    fig.tight_layout()
    fig.savefig(folder / "examination.png", dpi=120)
    plt.close(fig)
    return folder


def latest_summary(root: Path) -> tuple[Path, dict[str, Any]] | None:
    """The most recently saved fit under ``root`` (each fit its own folder, see :func:`save_fit`)."""
    summaries = sorted(root.glob("*/summary.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in summaries:
        try:
            return path.parent, json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None
