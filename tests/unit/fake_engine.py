"""A pure stand-in for the LTR plugin's feature logging, for unit tests of the ranking logic.

Text and match features come from a rule the test chooses; stage and product features are read from the
``sltr`` params the way the stored script features read them (the real scripts are checked
against the engine in tests/integration/test_engine_ranking.py). User features match the
shopper's maps against ``traits`` (the documents' trait fields), 0 for products it does not know.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ltr.ranker.featureset import FeatureSet
from indexer.traits import ProductTraits


class FakeEngineLogger:
    def __init__(self, text: Callable[[str, str], float] = lambda _feature, _pid: 0.0,
                 traits: Mapping[str, ProductTraits] | None = None) -> None:
        self.text = text  # (feature name, product id) -> value
        self.traits = traits or {}

    @staticmethod
    def _user(name: str, traits: ProductTraits, params: Mapping[str, Any]) -> float:
        if name == "user_brand_affinity":
            return float(params["user_brands"].get(traits.brand, 0.0))
        if name == "user_department_affinity":
            return float(params["user_departments"].get(traits.department, 0.0))
        if name == "user_price_band_match":
            return float(traits.price_band == params["user_price_band"])
        return float(traits.department in params["session_departments"])

    def log(self, featureset: FeatureSet, product_ids: Sequence[str], params: Mapping[str, Any]) -> np.ndarray:
        values = np.zeros((len(product_ids), len(featureset.features)), np.float32)
        stage_names = [f.name for f in featureset.of_source("stage")]
        product_names = [f.name for f in featureset.of_source("product")]
        for i, pid in enumerate(product_ids):
            for j, spec in enumerate(featureset.features):
                if spec.source in ("text", "match"):
                    values[i, j] = self.text(spec.name, pid)
                elif spec.source == "stage":
                    values[i, j] = params["stage"][pid][stage_names.index(spec.name)]
                elif spec.source == "product":
                    k = product_names.index(spec.name)
                    own = params["product_values"].get(pid)
                    values[i, j] = own[k] if own is not None else params["product_priors"][k]
                elif spec.source == "history":  # no documents here: only what training passes
                    own = params["history_values"].get(pid)
                    values[i, j] = own[[f.name for f in featureset.of_source("history")].index(spec.name)] if own else 0.0
                elif spec.source == "user" and pid in self.traits:
                    values[i, j] = self._user(spec.name, self.traits[pid], params)
        return values
