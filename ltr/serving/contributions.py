"""Per-feature explanations of one served score, from LightGBM's TreeSHAP (``pred_contrib``).

The row is cast to float32 first because that is what the plugin scored: explaining the float64
values could follow other branches than the served prediction did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ltr.serving.xgboost_json import check_feature_names

if TYPE_CHECKING:
    import lightgbm

#: Name of the expected-value term; with the feature terms it sums to the raw score.
BIAS_TERM = "<bias>"


def explain(booster: lightgbm.Booster, X_row: Sequence[float] | np.ndarray,
            feature_names: Sequence[str]) -> list[tuple[str, float]]:
    """``(feature, contribution)`` by decreasing |contribution|, then ``(BIAS_TERM, bias)``.

    ``X_row`` follows ``feature_names`` (NaN = absent). The terms sum to the raw score
    (``predict(raw_score=True)``: the margin for ``binary``), i.e. to the plugin's score of the
    converted model up to its float32 accumulation.
    """
    model_names = list(booster.feature_name())
    check_feature_names(model_names, feature_names)
    row = np.asarray(X_row, dtype=np.float32).reshape(-1)
    if row.shape[0] != len(feature_names):
        raise ValueError(f"X_row has {row.shape[0]} values for {len(feature_names)} features")
    position = {name: j for j, name in enumerate(feature_names)}
    ordered = row[[position[name] for name in model_names]][None, :]
    contrib = np.asarray(booster.predict(ordered, pred_contrib=True))[0]
    if contrib.shape[0] != len(model_names) + 1:
        raise ValueError("multiclass models have one contribution vector per class")
    terms = sorted(zip(model_names, (float(c) for c in contrib[:-1])), key=lambda t: (-abs(t[1]), t[0]))
    return terms + [(BIAS_TERM, float(contrib[-1]))]
