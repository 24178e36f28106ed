"""The parity gate: before a model serves, its scores on real queries must agree everywhere it runs.

The reference is LightGBM's own ``predict`` on the logged feature vectors. It is compared with
the LTR plugin itself: the converted model, uploaded to the feature store, scoring the same
candidates with ``sltr`` (rescore, ``query_weight`` 0) from the same params. A numpy evaluation of
the converted trees with the plugin's semantics (float32, strict ``<``, absent = 0.0) runs first as
a fast pre-check that names the broken trees' effect without a round trip. Scores must agree
within ``tolerance`` and the orders must be identical; otherwise the differing queries and
products are reported and promotion is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ltr.ranker.artifacts import ModelArtifact
from ltr.ranker.extract import FeatureExtractor, ProductBehaviour
from ltr.registry import GateResult
from ltr.serving.tree_eval import predict_xgboost_json
from storefront.rerank_stage import Candidate

TOLERANCE = 1e-4
EngineScores = Callable[[str, Sequence[Candidate]], np.ndarray]  # (query, candidates) -> sltr scores


def _compare(query: str, pool: Sequence[Candidate], reference: np.ndarray, other: np.ndarray, label: str,
             tolerance: float, differences: list[str]) -> float:
    diff = np.abs(reference - other)
    for i in np.flatnonzero(~(diff <= tolerance)):
        differences.append(f"{query!r} / {pool[int(i)].product_id}: python {reference[i]:.6f}, "
                           f"{label} {other[i]:.6f}")
    if not np.array_equal(np.argsort(-reference, kind="stable"), np.argsort(-other, kind="stable")):
        differences.append(f"{query!r}: the {label} order differs")
    return float(np.nanmax(diff)) if diff.size else 0.0


def parity_gate(artifact: ModelArtifact, queries: Sequence[str], candidates: Callable[[str], list[Candidate]],
                extractor: FeatureExtractor, behaviour: ProductBehaviour | None, *,
                engine: EngineScores | None, window: int = 200, tolerance: float = TOLERANCE) -> GateResult:
    """``engine`` None runs the numpy pre-check alone (and says so: that is not enough to promote)."""
    differences: list[str] = []
    worst = 0.0
    checked = 0
    for query in queries:
        pool = candidates(query)[:window]
        if len(pool) < 2:
            continue
        matrix = extractor.matrix(query, pool, behaviour)
        reference = artifact.booster.predict(matrix)
        numpy = predict_xgboost_json(artifact.plugin_trees, artifact.featureset.names, matrix).astype(np.float64)
        worst = max(worst, _compare(query, pool, reference, numpy, "converted trees", tolerance, differences))
        if engine is not None:
            worst = max(worst, _compare(query, pool, reference, engine(query, pool), "engine", tolerance,
                                        differences))
        checked += 1
    if checked == 0:
        return GateResult(False, 0, 0.0, [], "no sample query returned candidates; cannot check parity")
    passed = not differences and engine is not None
    where = "the OpenSearch LTR plugin (sltr)" if engine is not None else "the converted trees only (no engine)"
    detail = (f"LightGBM and {where} agree within {tolerance:g} with identical orders" if not differences
              else f"{len(differences)} differences beyond {tolerance:g} between LightGBM and {where}")
    return GateResult(passed, checked, worst, differences, detail)
