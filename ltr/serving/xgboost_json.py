"""Convert LightGBM models to the LTR plugin's ``model/xgboost+json`` tree format.

The OpenSearch LTR plugin cannot load LightGBM models, but it evaluates XGBoost JSON dumps with
its ``NaiveAdditiveDecisionTree``: float32 feature values, float32 thresholds, ``yes`` when
``value < split_condition``, NaN to the ``missing`` child, score = float32 sum of leaves. LightGBM
tests ``value <= threshold`` with float64 thresholds and has its own missing-value rules, so a
naive copy of the thresholds silently changes predictions at boundaries. This module rewrites
every split so that, for every float32 input the plugin can see, the converted tree picks the same
leaf as ``booster.predict`` on that float32 input.

Why the cut is not simply ``float32(threshold)``: for float32 ``x`` and float64 ``t``,
``x <= t`` holds exactly when ``x < c`` with ``c`` the smallest float32 strictly greater than
``t`` (no float32 lies in ``(t, c)``). Rounding ``t`` to nearest first and then stepping up is
wrong when the rounding went up: ``x = float32(t) > t`` would go left. See
:func:`smallest_float32_above`.

LightGBM's prediction also reads any ``|x| <= 1e-35f`` (``kZeroThreshold``) as 0.0, and its
``missing_type`` rules route NaN (and, for ``Zero``, the whole zero band) on their own, so each
node's left set over the float32 line is computed exactly (:func:`_segments`) and, where it is
not a single half-line (``zero_as_missing`` splits whose default side disagrees with the
threshold), the node becomes a chain of up to three plugin splits with the children duplicated.

Output form: the bare JSON array of trees, which every plugin version accepts and scores as the
raw sum of leaves (no objective transform). :func:`to_plugin_model_body` can wrap it as
``{"objective": ..., "splits": [...]}`` for plugin versions that apply e.g. a sigmoid.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import lightgbm

PLUGIN_MODEL_TYPE = "model/xgboost+json"

#: LightGBM's kZeroThreshold (``1e-35f``): prediction reads ``|x| <= ZERO_THRESHOLD`` as 0.0.
ZERO_THRESHOLD = float(np.float32(1e-35))

#: Objectives whose raw score is the additive tree sum the plugin computes.
SUPPORTED_OBJECTIVES = frozenset({"lambdarank", "rank_xendcg", "regression", "binary"})

#: Objectives the plugin's XGBoost parser accepts in the object form (others are rejected by it).
PLUGIN_OBJECTIVES = frozenset({"binary:logitraw", "rank:ndcg", "rank:map", "rank:pairwise", "reg:linear",
                               "binary:logistic", "reg:logistic"})

#: The plugin objective that keeps each LightGBM objective's raw score (no transform).
RAW_PLUGIN_OBJECTIVE = {"lambdarank": "rank:pairwise", "rank_xendcg": "rank:pairwise",
                        "regression": "reg:linear", "binary": "binary:logitraw"}

#: Written instead of +inf (strict JSON has no Infinity); Java's float parse and numpy both read it
#: as float32 +inf, which is the exact cut for thresholds at or above float32's max.
FLOAT32_OVERFLOW_LITERAL = 1e39

_F32_MAX = float(np.finfo(np.float32).max)
_INF32 = np.float32(np.inf)


class ModelConversionError(ValueError):
    """The LightGBM model cannot be served by the plugin without changing its predictions."""


# ---------------------------------------------------------------------------- float32 boundaries


def smallest_float32_above(t: float) -> np.float32:
    """Smallest float32 strictly greater than the float64 ``t`` (+inf past float32's range).

    For every float32 ``x``: ``x <= t`` (compared in float64, as LightGBM does) iff ``x < c``.
    Proof: ``x <= t < c`` gives ``x < c``; ``x > t`` gives ``x >= c`` because ``c`` is the least
    float32 above ``t``.
    """
    if math.isnan(t):
        raise ValueError("threshold is NaN")
    with np.errstate(over="ignore"):
        nearest = np.float32(t)
        return nearest if float(nearest) > t else np.nextafter(nearest, _INF32)


_NEG_ZERO_BAND = np.float32(-ZERO_THRESHOLD)  # first float32 of the zero band
_ABOVE_ZERO_BAND = smallest_float32_above(ZERO_THRESHOLD)  # first float32 past the zero band


def _segments(threshold: float, band_left: bool) -> list[tuple[np.float32, bool]]:
    """Where a LightGBM numerical node sends each float32: ``(start, goes_left)`` runs, ascending.

    Run ``i`` covers ``[start_i, start_{i+1})``; the first starts at -inf, the last ends at +inf
    inclusive. Outside the zero band ``x <= threshold`` decides; inside it ``band_left`` does.
    Empty runs are dropped and equal neighbours merged, so labels alternate, starting left (-inf
    is always <= a finite threshold) and ending right (+inf never is).
    """
    cut = smallest_float32_above(threshold)
    runs = [
        (np.float32(-np.inf), True),
        (min(cut, _NEG_ZERO_BAND), False),
        (_NEG_ZERO_BAND, band_left),
        (_ABOVE_ZERO_BAND, True),
        (max(cut, _ABOVE_ZERO_BAND), False),
    ]
    non_empty = [run for run, nxt in zip(runs, runs[1:]) if run[0] < nxt[0]] + [runs[-1]]
    merged: list[tuple[np.float32, bool]] = []
    for start, left in non_empty:
        if not merged or merged[-1][1] != left:
            merged.append((start, left))
    return merged


# ---------------------------------------------------------------------------- intermediate tree


@dataclass(frozen=True)
class _Leaf:
    value: np.float32


@dataclass(frozen=True)
class _Split:
    feature: str
    cut: np.float32
    yes: _Node
    no: _Node
    missing_yes: bool


_Node = Union[_Leaf, _Split]


def _chain(feature: str, runs: list[tuple[np.float32, bool]], left: _Node, right: _Node,
           missing_left: bool) -> _Node:
    """Plugin splits that reproduce ``runs``; NaN follows ``missing_left`` through the chain."""
    first_left = runs[0][1]
    first = left if first_left else right
    if len(runs) == 1:
        return first
    rest = _chain(feature, runs[1:], left, right, missing_left)
    return _Split(feature, runs[1][0], first, rest, missing_yes=first_left == missing_left)


def _where(tree_index: int, node: Mapping[str, Any]) -> str:
    return f"tree {tree_index}, split_index {node.get('split_index', '?')}"


def _leaf(tree_index: int, node: Mapping[str, Any]) -> _Leaf:
    if "leaf_coeff" in node:
        raise ModelConversionError(f"tree {tree_index}, leaf_index {node.get('leaf_index', '?')}: linear trees "
                                   "(linear_tree=True) have per-leaf linear models the plugin cannot evaluate")
    value = float(node["leaf_value"])
    if not math.isfinite(value) or abs(value) > _F32_MAX:
        raise ModelConversionError(f"tree {tree_index}, leaf_index {node.get('leaf_index', '?')}: "
                                   f"leaf value {value!r} is not a finite float32")
    return _Leaf(np.float32(value))


def _convert_node(tree_index: int, node: Mapping[str, Any], names: Sequence[str]) -> _Node:
    if "split_index" not in node:
        return _leaf(tree_index, node)
    where = _where(tree_index, node)
    if node.get("decision_type") != "<=":
        raise ModelConversionError(f"{where}: categorical split (decision_type {node.get('decision_type')!r}) "
                                   "cannot be expressed as a plugin threshold split")
    threshold = float(node["threshold"])
    if not math.isfinite(threshold):
        raise ModelConversionError(f"{where}: threshold {threshold!r} is not finite")
    missing_type = node.get("missing_type", "None")
    default_left = bool(node["default_left"])
    if missing_type == "Zero":  # zero band (and NaN, read as 0) go to the default side
        band_left = missing_left = default_left
    elif missing_type == "NaN":  # NaN to the default side; the zero band compares as 0.0
        band_left, missing_left = 0.0 <= threshold, default_left
    elif missing_type == "None":  # NaN is read as 0.0, so it goes wherever 0.0 goes
        band_left = missing_left = 0.0 <= threshold
    else:
        raise ModelConversionError(f"{where}: unknown missing_type {missing_type!r}")
    feature = names[int(node["split_feature"])]
    left = _convert_node(tree_index, node["left_child"], names)
    right = _convert_node(tree_index, node["right_child"], names)
    return _chain(feature, _segments(threshold, band_left), left, right, missing_left)


# ---------------------------------------------------------------------------- serialisation


def _json_float(value: np.float32) -> float:
    """The float32 as an exact float64 (parsed back to the same float32 by Java and numpy)."""
    return FLOAT32_OVERFLOW_LITERAL if value == np.inf else float(value)


def _serialise(root: _Node, tree_index: int, max_nodes: int) -> dict[str, Any]:
    """XGBoost-dump dicts with pre-order node ids (shared subtrees become copies)."""
    counter = 0

    def visit(node: _Node, depth: int) -> dict[str, Any]:
        nonlocal counter
        node_id = counter
        counter += 1
        if counter > max_nodes:
            raise ModelConversionError(f"tree {tree_index}: more than {max_nodes} plugin nodes after expanding "
                                       "zero_as_missing splits")
        if isinstance(node, _Leaf):
            return {"nodeid": node_id, "leaf": _json_float(node.value)}
        yes = visit(node.yes, depth + 1)
        no = visit(node.no, depth + 1)
        return {"nodeid": node_id, "depth": depth, "split": node.feature,
                "split_condition": _json_float(node.cut), "yes": yes["nodeid"], "no": no["nodeid"],
                "missing": yes["nodeid"] if node.missing_yes else no["nodeid"], "children": [yes, no]}

    return visit(root, 0)


# ---------------------------------------------------------------------------- model checks


def check_feature_names(model_names: Sequence[str], feature_names: Sequence[str]) -> None:
    """Require the model and the featureset to name the same features (order may differ).

    The plugin resolves ``split`` by name, so order is irrelevant to it; a missing name would be
    rejected by the plugin and an extra one means the model was trained on another featureset.
    """
    duplicates = sorted(n for n, count in Counter(feature_names).items() if count > 1)
    if duplicates:
        raise ModelConversionError(f"featureset names repeat: {duplicates}")
    wanted, known = set(feature_names), set(model_names)
    missing = [n for n in model_names if n not in wanted]
    extra = [n for n in feature_names if n not in known]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"model features missing from the featureset: {missing}")
    if extra:
        parts.append(f"featureset features the model was not trained on: {extra}")
    if any(" " in n for n in feature_names):
        parts.append("note: LightGBM replaces spaces in feature names with underscores")
    raise ModelConversionError("feature name mismatch; " + "; ".join(parts))


def _check_model(dump: Mapping[str, Any]) -> None:
    num_class = int(dump.get("num_class", 1))
    per_iteration = int(dump.get("num_tree_per_iteration", 1))
    if num_class > 1 or per_iteration > 1:
        raise ModelConversionError(f"multiclass models (num_class={num_class}) have one score per class; "
                                   "the plugin returns one score")
    objective = str(dump.get("objective", "")).split(" ")[0]
    if objective not in SUPPORTED_OBJECTIVES:
        raise ModelConversionError(f"objective {objective or '(none)'!r} is not supported; "
                                   f"expected one of {sorted(SUPPORTED_OBJECTIVES)}")
    if dump.get("average_output"):
        raise ModelConversionError("average_output models (boosting='rf') average the trees; the plugin sums them")
    if not dump.get("tree_info"):
        raise ModelConversionError("the model has no trees")


def lightgbm_to_xgboost_json(booster_or_dump: lightgbm.Booster | Mapping[str, Any],
                             feature_names: Sequence[str], *, max_nodes_per_tree: int = 1 << 16,
                             ) -> list[dict[str, Any]]:
    """Convert a LightGBM model to the plugin's bare ``model/xgboost+json`` tree list.

    ``booster_or_dump`` is a Booster (its ``dump_model()``, i.e. ``best_iteration`` trees like
    ``predict``) or such a dump. Leaf values are taken as dumped: LightGBM has already multiplied
    them by the learning rate, and ``boost_from_average`` folds the bias into the first tree, so
    the plugin's sum of leaves is the raw score (for ``binary``: the margin before the sigmoid).
    An ``init_score`` given to the training Dataset is not part of the model and is not added.
    """
    dump = booster_or_dump.dump_model() if hasattr(booster_or_dump, "dump_model") else booster_or_dump
    _check_model(dump)
    model_names = list(dump["feature_names"])
    check_feature_names(model_names, feature_names)
    return [_serialise(_convert_node(i, tree["tree_structure"], model_names), i, max_nodes_per_tree)
            for i, tree in enumerate(dump["tree_info"])]


def plugin_objective(lightgbm_objective: str) -> str:
    """The plugin objective that keeps the LightGBM objective's raw score (for the object form)."""
    key = lightgbm_objective.split(" ")[0]
    if key not in RAW_PLUGIN_OBJECTIVE:
        raise ModelConversionError(f"objective {key!r} is not supported")
    return RAW_PLUGIN_OBJECTIVE[key]


def features_used(trees: Sequence[Mapping[str, Any]]) -> set[str]:
    """The features the converted trees split on: the only ones the plugin has to compute for the model."""
    used: set[str] = set()
    stack = list(trees)
    while stack:
        node = stack.pop()
        if "split" in node:
            used.add(str(node["split"]))
        stack.extend(node.get("children", ()))
    return used


def to_plugin_model_body(name: str, feature_set_name: str, trees: Sequence[Mapping[str, Any]], *,
                         objective: str | None = None) -> dict[str, Any]:
    """Body for ``POST _ltr/_featureset/{feature_set_name}/_createmodel``.

    The definition is the bare tree array (every plugin version, raw sum of leaves) unless
    ``objective`` is given: then ``{"objective": ..., "splits": [...]}``, which only newer plugin
    versions accept (``binary:logistic``/``reg:logistic`` make the plugin apply a sigmoid).
    ``feature_set_name`` belongs to the URL (:func:`create_model_path`); it is checked here so the
    pair is built together. JSON is strict: no NaN or Infinity.
    """
    if not name:
        raise ValueError("model name is empty")
    create_model_path(feature_set_name)
    if not trees:
        raise ValueError("the plugin requires at least one tree")
    definition: Any = list(trees)
    if objective is not None:
        if objective not in PLUGIN_OBJECTIVES:
            raise ValueError(f"objective {objective!r} is not one the plugin accepts: {sorted(PLUGIN_OBJECTIVES)}")
        definition = {"objective": objective, "splits": definition}
    return {"model": {"name": name, "model": {"type": PLUGIN_MODEL_TYPE,
                                              "definition": json.dumps(definition, allow_nan=False,
                                                                       separators=(",", ":"))}}}


def create_model_path(feature_set_name: str) -> str:
    """The ``_createmodel`` endpoint for a featureset."""
    if not feature_set_name or "/" in feature_set_name:
        raise ValueError(f"invalid featureset name {feature_set_name!r}")
    return f"_ltr/_featureset/{feature_set_name}/_createmodel"
