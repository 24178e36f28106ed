"""Training and evaluation data for LambdaMART: one group per query, rows = its fused candidates.

Labels come from outside (a click model's graded estimates, naive CTR grades, or human judgments);
this module only pairs them with feature vectors. Candidates are the first stage's fused list, the
same set the reranker sees when serving, so train and serve rank the same kind of list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ltr.ranker.extract import NO_BEHAVIOUR, FeatureExtractor, ProductBehaviour
from storefront.rerank_stage import Candidate

CandidateSource = Callable[[str], list[Candidate]]  # query -> fused candidates, best first


@dataclass(frozen=True, eq=False)
class RankingData:
    features: np.ndarray  # (rows, n_features) float32
    labels: np.ndarray  # (rows,) int
    groups: np.ndarray  # (n_queries,) rows per query, in order
    queries: list[str]  # one per group
    product_ids: list[str]
    positions: np.ndarray | None = None  # (rows,) 0-based displayed position, for position-aware lambdarank
    weights: np.ndarray | None = None  # (rows,) inverse-propensity weights

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, keep: Sequence[bool]) -> RankingData:
        """Only the queries where ``keep`` is true."""
        starts = np.concatenate([[0], np.cumsum(self.groups)])
        rows = np.concatenate([np.arange(starts[i], starts[i + 1]) for i, k in enumerate(keep) if k] or
                              [np.empty(0, dtype=int)])
        return RankingData(self.features[rows], self.labels[rows], self.groups[np.asarray(keep, bool)],
                           [q for q, k in zip(self.queries, keep) if k], [self.product_ids[r] for r in rows],
                           None if self.positions is None else self.positions[rows],
                           None if self.weights is None else self.weights[rows])


def build_dataset(queries: Sequence[str], candidates: CandidateSource, extractor: FeatureExtractor,
                  labels: Mapping[str, Mapping[str, int]], *, unlabelled_as_zero: bool = False,
                  unlabelled_weight: float = 1.0,
                  behaviour: ProductBehaviour | Callable[[str], ProductBehaviour] = NO_BEHAVIOUR, window: int = 200,
                  progress: bool = False) -> RankingData:
    """Rows for the labelled candidates of each query (all candidates with ``unlabelled_as_zero``, those
    without a label weighted ``unlabelled_weight`` in training: a weaker negative than a labelled 0).
    ``behaviour`` is one snapshot for every query, or each query's own (query -> snapshot: see
    :mod:`ltr.ranker.held_out_behaviour`).

    Queries without any labelled candidate, or with a single distinct label, teach a ranker
    nothing and are left out.
    """
    blocks, label_blocks, groups, kept, ids, weights = [], [], [], [], [], []
    for query in tqdm(queries, desc="features", unit="query", disable=not progress):
        graded = labels.get(query, {})
        pool = candidates(query)[:window]
        chosen = [c for c in pool if unlabelled_as_zero or c.product_id in graded]
        if len(chosen) < 2:
            continue
        y = np.array([int(graded.get(c.product_id, 0)) for c in chosen])
        if len(set(y.tolist())) < 2:
            continue
        # Features are computed on the whole pool so that ranks and normalisations match serving.
        matrix = extractor.matrix(query, pool, behaviour(query) if callable(behaviour) else behaviour)
        keep = [i for i, c in enumerate(pool) if unlabelled_as_zero or c.product_id in graded]
        blocks.append(matrix[keep])
        label_blocks.append(y)
        weights.append(np.array([1.0 if pool[i].product_id in graded else unlabelled_weight for i in keep]))
        groups.append(len(keep))
        kept.append(query)
        ids.extend(pool[i].product_id for i in keep)
    n_features = len(extractor.featureset.names)
    return RankingData(np.vstack(blocks) if blocks else np.empty((0, n_features), np.float32),
                       np.concatenate(label_blocks) if label_blocks else np.empty(0, int),
                       np.array(groups, dtype=int), kept, ids,
                       weights=np.concatenate(weights) if weights and unlabelled_weight != 1.0 else None)
