"""A trained model on disk: the LightGBM model, the same model converted for the OpenSearch LTR
plugin, the featureset it was trained on and, for a featureset that reads the query history, the
history it was trained on (promotion writes it onto the documents the model is served from). The
registry stores the folder's path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb

from ltr.ranker.featureset import FEATURESETS, FeatureSet
from ltr.ranker.query_history import QueryHistory
from ltr.registry import MODEL_FILE, PLUGIN_MODEL_FILE
from ltr.serving.xgboost_json import lightgbm_to_xgboost_json

META_FILE = "meta.json"
HISTORY_FILE = "history.json"  # product id -> the queries that wanted it; only history featuresets


class ArtifactError(ValueError):
    """A model folder is incomplete or does not fit the featureset it claims."""


@dataclass(frozen=True, eq=False)
class ModelArtifact:
    folder: Path
    booster: lgb.Booster
    featureset: FeatureSet
    plugin_trees: list[dict[str, Any]]
    meta: dict[str, Any]
    history: QueryHistory | None = None  # None: the featureset reads none, or trained before it was kept


def save_artifact(folder: Path, booster: lgb.Booster, featureset: FeatureSet, meta: dict[str, Any],
                  history: QueryHistory | None = None) -> ModelArtifact:
    """Convert first (a model the plugin cannot load never reaches the disk), then write all files."""
    trees = lightgbm_to_xgboost_json(booster, featureset.names)
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / MODEL_FILE), num_iteration=booster.best_iteration or None)
    (folder / PLUGIN_MODEL_FILE).write_text(json.dumps(trees, allow_nan=False))
    full_meta = {**meta, "featureset": featureset.name, "featureset_hash": featureset.hash,
                 "features": featureset.names}
    (folder / META_FILE).write_text(json.dumps(full_meta, indent=2, default=str))
    if history is not None:
        (folder / HISTORY_FILE).write_text(json.dumps({pid: list(qs) for pid, qs in sorted(history.items())}))
    return ModelArtifact(folder, booster, featureset, trees, full_meta, history)


#: What fixes a model this code cannot serve: a model of a featureset it knows.
_REPLACE = ("serve another model with `shelfrank models rollback` (or `shelfrank models promote NAME`), or train "
            "one with `shelfrank retrain`")


def load_artifact(folder: Path) -> ModelArtifact:
    """Load and check a model folder: files present, featureset known and unchanged, features equal."""
    folder = Path(folder)
    for name in (MODEL_FILE, PLUGIN_MODEL_FILE, META_FILE):
        if not (folder / name).is_file():
            raise ArtifactError(f"model folder {folder} has no {name}")
    meta = json.loads((folder / META_FILE).read_text())
    featureset = FEATURESETS.get(meta.get("featureset", ""))
    if featureset is None:
        raise ArtifactError(f"model {folder} was trained on unknown featureset {meta.get('featureset')!r} (known: "
                            f"{', '.join(sorted(FEATURESETS))}); {_REPLACE}")
    if featureset.hash != meta.get("featureset_hash"):
        raise ArtifactError(f"featureset {featureset.name} has changed since model {folder} was trained "
                            f"(hash {featureset.hash[:12]} != {str(meta.get('featureset_hash'))[:12]}); {_REPLACE}")
    booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
    if booster.feature_name() != featureset.names:
        missing = sorted(set(featureset.names) - set(booster.feature_name()))
        extra = sorted(set(booster.feature_name()) - set(featureset.names))
        raise ArtifactError(f"model {folder} features differ from {featureset.name}: missing {missing}, extra {extra}")
    return ModelArtifact(folder, booster, featureset, json.loads((folder / PLUGIN_MODEL_FILE).read_text()), meta,
                         _load_history(folder / HISTORY_FILE))


def _load_history(path: Path) -> QueryHistory | None:
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(stored, dict) or not all(isinstance(qs, list) for qs in stored.values()):
        raise ArtifactError(f"{path} is not a product -> queries map")
    return {str(pid): tuple(str(q) for q in qs) for pid, qs in stored.items()}
