"""Offline reference evaluator for ``model/xgboost+json`` models with the LTR plugin's semantics.

It mirrors the plugin's ``XGBoostJsonParser`` + ``NaiveAdditiveDecisionTree`` so a converted
model can be gated on parity before upload: thresholds and leaves are parsed as float32, feature
values are float32, a node goes ``yes`` when ``value < split_condition``; the score is the float32
sum of leaves in tree order. This plugin version gives a feature that does not match a document
the value 0.0 and never reads ``missing`` (its ``DenseFeatureVector`` and
``NaiveAdditiveDecisionTree``), so by default a NaN, standing for an absent value, is scored as
0.0: a model trained with NaN for absent values is caught scoring differently here, before it
reaches the engine. ``absent="missing-branch"`` evaluates the ``missing`` links instead (XGBoost's
own semantics), which the converter's tests use to check its branch rewriting. It also
rejects the structures the plugin's parser rejects (unknown keys, ``yes``/``no`` not naming
``children[0]``/``children[1]``, ``missing`` not one of them, unknown features).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

#: Every field the plugin's node parser declares; any other key makes it reject the model.
_NODE_KEYS = frozenset({"nodeid", "depth", "split", "split_condition", "yes", "no", "missing", "leaf", "children"})
_SIGMOID_OBJECTIVES = frozenset({"binary:logistic", "reg:logistic"})
_RAW_OBJECTIVES = frozenset({"binary:logitraw", "rank:ndcg", "rank:map", "rank:pairwise", "reg:linear"})


class PluginModelError(ValueError):
    """The definition would be rejected by the plugin's XGBoost parser."""


@dataclass(frozen=True)
class CompiledTree:
    """Flat arrays of one tree; ``feature < 0`` marks a leaf."""

    feature: np.ndarray  # int64 column index, -1 for leaves
    threshold: np.ndarray  # float32
    yes: np.ndarray  # int64 positions in these arrays
    no: np.ndarray
    missing: np.ndarray
    leaf: np.ndarray  # float32


def _f32(value: Any) -> np.float32:
    """Java's ``(float)`` of the parsed JSON number: round to nearest, overflow to +-inf."""
    with np.errstate(over="ignore"):
        return np.float32(float(value))


def compile_tree(tree: Mapping[str, Any], columns: Mapping[str, int]) -> CompiledTree:
    """Validate one tree as the plugin does and flatten it for vectorised evaluation."""
    feature: list[int] = []
    threshold: list[np.float32] = []
    leaf: list[np.float32] = []
    links: list[list[int]] = []  # [yes, no, missing] positions, filled after the children

    def add(node: Mapping[str, Any]) -> int:
        if "nodeid" not in node:
            raise PluginModelError(f"node without nodeid: {sorted(node)}")
        if set(node) - _NODE_KEYS:
            raise PluginModelError(f"node {node['nodeid']}: unknown keys {sorted(set(node) - _NODE_KEYS)}")
        pos = len(feature)
        if "leaf" in node:  # the plugin makes any node with a leaf value a leaf
            feature.append(-1)
            threshold.append(np.float32(0))
            leaf.append(_f32(node["leaf"]))
            links.append([pos, pos, pos])
            return pos
        required = {"split", "split_condition", "yes", "no", "depth", "children"} - set(node)
        if required:
            raise PluginModelError(f"node {node['nodeid']}: split without {sorted(required)}")
        children = node["children"]
        if (len(children) != 2 or children[0].get("nodeid") != node["yes"]
                or children[1].get("nodeid") != node["no"]):
            raise PluginModelError(f"node {node['nodeid']}: yes/no must be the ids of children[0]/children[1]")
        missing = node.get("missing")
        if missing is not None and missing not in (node["yes"], node["no"]):
            raise PluginModelError(f"node {node['nodeid']}: missing must point to yes or no")
        if node["split"] not in columns:
            raise PluginModelError(f"node {node['nodeid']}: unknown feature [{node['split']}]")
        feature.append(columns[node["split"]])
        threshold.append(_f32(node["split_condition"]))
        leaf.append(np.float32(0))
        links.append([-1, -1, -1])
        yes, no = add(children[0]), add(children[1])
        # The plugin routes NaN left only when missing == yes; absent or == no means right.
        links[pos] = [yes, no, yes if missing is not None and missing == node["yes"] else no]
        return pos

    add(tree)
    link = np.asarray(links, dtype=np.int64)
    return CompiledTree(np.asarray(feature, dtype=np.int64), np.asarray(threshold, dtype=np.float32),
                        link[:, 0], link[:, 1], link[:, 2], np.asarray(leaf, dtype=np.float32))


def eval_tree(tree: CompiledTree, X: np.ndarray, *, honor_missing: bool = True) -> np.ndarray:
    """Leaf value per row of float32 ``X``; ``honor_missing`` routes NaN by ``missing``, else NaN fails
    ``<`` and goes ``no``."""
    node = np.zeros(X.shape[0], dtype=np.int64)
    rows = np.arange(X.shape[0])
    active = tree.feature[node] >= 0
    while active.any():
        r, n = rows[active], node[active]
        value = X[r, tree.feature[n]]
        step = np.where(value < tree.threshold[n], tree.yes[n], tree.no[n])
        if honor_missing:
            step = np.where(np.isnan(value), tree.missing[n], step)
        node[r] = step
        active = tree.feature[node] >= 0
    return tree.leaf[node]


def _splits_and_objective(definition: Sequence[Mapping[str, Any]] | Mapping[str, Any],
                          ) -> tuple[Sequence[Mapping[str, Any]], str | None]:
    if isinstance(definition, Mapping):
        if "splits" not in definition:
            raise PluginModelError("XGBoost model missing required field [splits]")
        unknown = set(definition) - {"splits", "objective"}
        if unknown:
            raise PluginModelError(f"unknown model keys {sorted(unknown)}")
        objective = definition.get("objective")
        if objective is not None and objective not in _SIGMOID_OBJECTIVES | _RAW_OBJECTIVES:
            raise PluginModelError(f"Objective [{objective}] is not a valid XGBoost objective")
        return definition["splits"], objective
    return definition, None


Absent = Literal["zero", "missing-branch", "nan-goes-no"]


def predict_xgboost_json(trees: Sequence[Mapping[str, Any]] | Mapping[str, Any], feature_names: Sequence[str],
                         X: np.ndarray, *, absent: Absent = "zero") -> np.ndarray:
    """Plugin scores (float32) of the rows of ``X``, whose columns follow ``feature_names``.

    ``trees`` is the bare array or the ``{"objective", "splits"}`` object. NaN marks an absent
    feature: ``absent="zero"`` scores it as this plugin does (0.0), ``"missing-branch"`` follows the
    ``missing`` links, ``"nan-goes-no"`` lets NaN fail every comparison.
    """
    splits, objective = _splits_and_objective(trees)
    if not splits:
        raise PluginModelError("XGBoost model must define at least one tree")
    X32 = np.asarray(X, dtype=np.float32)
    if absent == "zero":
        X32 = np.where(np.isnan(X32), np.float32(0.0), X32)
    honor_missing = absent == "missing-branch"
    if X32.ndim != 2 or X32.shape[1] != len(feature_names):
        raise ValueError(f"X must be (rows, {len(feature_names)}), got {X32.shape}")
    columns = {name: j for j, name in enumerate(feature_names)}
    total = np.zeros(X32.shape[0], dtype=np.float32)
    for tree in splits:
        total += eval_tree(compile_tree(tree, columns), X32, honor_missing=honor_missing)
    if objective in _SIGMOID_OBJECTIVES:  # Java: (float) (1 / (1 + Math.exp(-x)))
        total = (1.0 / (1.0 + np.exp(-total.astype(np.float64)))).astype(np.float32)
    return total


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| (NaN if either side has a NaN), for parity gates."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    return float(diff.max()) if diff.size else 0.0
