"""Serving LightGBM rankers through the OpenSearch LTR plugin.

The plugin cannot load LightGBM, so models are converted to ``model/xgboost+json`` with
boundary-exact float32 thresholds (:mod:`.xgboost_json`), gated offline against a numpy
re-implementation of the plugin's evaluator (:mod:`.tree_eval`), and explained per feature
(:mod:`.contributions`).
"""

from __future__ import annotations

from ltr.serving.contributions import BIAS_TERM, explain
from ltr.serving.tree_eval import PluginModelError, predict_xgboost_json
from ltr.serving.xgboost_json import (
    PLUGIN_MODEL_TYPE,
    ModelConversionError,
    create_model_path,
    lightgbm_to_xgboost_json,
    plugin_objective,
    smallest_float32_above,
    to_plugin_model_body,
)

__all__ = [
    "BIAS_TERM",
    "PLUGIN_MODEL_TYPE",
    "ModelConversionError",
    "PluginModelError",
    "create_model_path",
    "explain",
    "lightgbm_to_xgboost_json",
    "plugin_objective",
    "predict_xgboost_json",
    "smallest_float32_above",
    "to_plugin_model_body",
]
