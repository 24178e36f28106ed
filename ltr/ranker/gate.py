"""The parity gate: before a model serves, its scores on real queries must agree everywhere it runs.

The reference is the Python reranker (LightGBM's own ``predict``). It is compared with the
converted ``model/xgboost+json`` trees evaluated with the LTR plugin's semantics (float32 values,
strict ``<``, explicit missing branches), on the feature vectors of a sample of real queries'
candidates. Scores must agree within ``tolerance`` and the orders must be identical; otherwise the
differing queries and products are reported and promotion is refused.
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


def parity_gate(artifact: ModelArtifact, queries: Sequence[str], candidates: Callable[[str], list[Candidate]],
                extractor: FeatureExtractor, behaviour: ProductBehaviour, *, window: int = 200,
                tolerance: float = TOLERANCE) -> GateResult:
    differences: list[str] = []
    worst = 0.0
    checked = 0
    for query in queries:
        pool = candidates(query)[:window]
        if len(pool) < 2:
            continue
        matrix = extractor.matrix(query, pool, behaviour)
        reference = artifact.booster.predict(matrix)
        plugin = predict_xgboost_json(artifact.plugin_trees, artifact.featureset.names, matrix).astype(np.float64)
        checked += 1
        diff = np.abs(reference - plugin)
        worst = max(worst, float(np.nanmax(diff)) if diff.size else 0.0)
        for i in np.flatnonzero(~(diff <= tolerance)):
            differences.append(f"{query!r} / {pool[int(i)].product_id}: python {reference[i]:.6f}, "
                               f"plugin {plugin[i]:.6f}")
        if not np.array_equal(np.argsort(-reference, kind="stable"), np.argsort(-plugin, kind="stable")):
            differences.append(f"{query!r}: the orders differ")
    if checked == 0:
        return GateResult(False, 0, 0.0, [], "no sample query returned candidates; cannot check parity")
    passed = not differences
    detail = (f"Python and plugin-semantics scores agree within {tolerance:g} with identical orders"
              if passed else f"{len(differences)} differences beyond {tolerance:g}")
    return GateResult(passed, checked, worst, differences, detail + " (in-engine sltr check needs the LTR plugin)")
