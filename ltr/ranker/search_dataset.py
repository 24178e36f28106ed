"""Training data with one group per logged search: personalised, position-aware LambdaMART.

Per-query labels (a click model's relevance estimates) average the shoppers out. Personalisation
needs the opposite: every search is its own group, labelled by what that shopper did there
(click 1, add to cart 2, purchase 3), with that shopper's features as they were before the
search. Clicks from a ranked page are biased by position; ``DEBIAS`` lists the corrections:

- ``position``: LightGBM's position-aware lambdarank (>= 4.1) learns a bias per position jointly
  with the ranker and leaves it out of the scores;
- ``ipw``: inverse-propensity weights, a clicked row's gradients scaled by 1 / P(examined at its
  position), with the examination probabilities of a fitted click model;
- ``none``: clicks taken at face value (the naive baseline).

Features are computed once per query on the fused pool (as the reranker does when serving); the
user columns are then filled per search from :func:`ltr.features.user.user_product_features`, the
function serving uses.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from ltr.events.clicklog import LoggedSearch
from ltr.features.records import BehaviourLog
from ltr.features.user import RecentDepartments, UserProfile, user_product_features
from ltr.ranker.dataset import CandidateSource, RankingData
from ltr.ranker.extract import NO_BEHAVIOUR, FeatureExtractor, ProductBehaviour
from ltr.ranker.reranker import TraitsLookup, pool_traits
from indexer.traits import ProductTraits

DEBIAS = ("position", "ipw", "none")
ProfileOf = Callable[[LoggedSearch], UserProfile | None]
MIN_PROPENSITY = 0.05  # caps an IPW weight at 20: rare deep clicks must not dominate a model


def ipw_weights(grades: np.ndarray, positions: np.ndarray, examination: Sequence[float]) -> np.ndarray:
    """1 / P(examined at the position) for rows with a positive label, 1 for the others."""
    theta = np.asarray(examination, dtype=float)
    propensity = np.maximum(theta[np.minimum(positions, len(theta) - 1)], MIN_PROPENSITY)
    return np.where(grades > 0, 1.0 / propensity, 1.0)


def build_search_dataset(searches: Sequence[LoggedSearch], candidates: CandidateSource, extractor: FeatureExtractor,
                         *, behaviour: ProductBehaviour = NO_BEHAVIOUR, profile_of: ProfileOf | None = None,
                         debias: str = "position", examination: Sequence[float] | None = None, window: int = 200,
                         traits: TraitsLookup | None = None, progress: bool = False) -> RankingData:
    """Rows = the shown products of each search found in its query's fused pool.

    Searches where the shopper did nothing (all labels 0) teach lambdarank nothing and are left out.
    """
    if debias not in DEBIAS:
        raise ValueError(f"unknown debiasing {debias!r}; use one of {', '.join(DEBIAS)}")
    if debias == "ipw" and examination is None:
        raise ValueError("debias='ipw' needs the examination probabilities of a fitted click model")
    names = extractor.featureset.names
    user_columns = [(j, name) for j, name in enumerate(names) if name in
                    {s.name for s in extractor.featureset.of_source("user")}]
    by_query: dict[str, list[LoggedSearch]] = defaultdict(list)
    for search in searches:
        if any(g > 0 for g in search.grades.values()):
            by_query[search.query].append(search)

    blocks, labels, positions, groups, queries, ids = [], [], [], [], [], []
    for query in tqdm(sorted(by_query), desc="features", unit="query", disable=not progress):
        pool = candidates(query)[:window]
        if len(pool) < 2:
            continue
        base = extractor.matrix(query, pool, behaviour)
        row_of = {c.product_id: i for i, c in enumerate(pool)}
        candidate_traits = pool_traits(pool, traits) if user_columns and profile_of else {}
        for search in by_query[query]:
            shown = [(pid, pos) for pid, pos in search.shown if pid in row_of]
            y = np.array([search.grades.get(pid, 0) for pid, _ in shown], dtype=int)
            if len(shown) < 2 or y.max() == 0:
                continue
            block = base[[row_of[pid] for pid, _ in shown]].copy()
            profile = profile_of(search) if profile_of and user_columns else None
            if profile is not None:
                for r, (pid, _) in enumerate(shown):
                    values = user_product_features(profile, candidate_traits[pid])
                    for j, name in user_columns:
                        block[r, j] = values[name]
            blocks.append(block)
            labels.append(y)
            positions.append(np.array([pos - 1 for _, pos in shown], dtype=int))
            groups.append(len(shown))
            queries.append(query)
            ids.extend(pid for pid, _ in shown)
    if not blocks:
        return RankingData(np.empty((0, len(names)), np.float32), np.empty(0, int), np.empty(0, int), [], [])
    y_all, pos_all = np.concatenate(labels), np.concatenate(positions)
    return RankingData(np.vstack(blocks), y_all, np.array(groups, dtype=int), queries, ids,
                       positions=pos_all if debias == "position" else None,
                       weights=ipw_weights(y_all, pos_all, examination) if debias == "ipw" else None)


def profiles_before(log: BehaviourLog, start, traits: Mapping[str, ProductTraits],  # type: ignore[no-untyped-def]
                    half_life_days: float = 30.0) -> ProfileOf:
    """Each search's shopper profile: long-run tastes as of ``start`` (the label window's start),
    plus the departments clicked earlier in the same session, strictly before the search.

    Nothing a profile reads happened after its search, so no label leaks into a feature.
    """
    history = log.before(start)
    cache: dict[str, UserProfile] = {}
    recent = RecentDepartments()
    by_session: dict[str, list] = defaultdict(list)
    for action in log.actions:
        if action.session_id is not None:
            by_session[action.session_id].append(action)
    session_logs = {sid: BehaviourLog(actions=actions) for sid, actions in by_session.items()}
    empty = BehaviourLog()

    def profile_of(search: LoggedSearch) -> UserProfile | None:
        if search.user_id is None:
            return None
        if search.user_id not in cache:
            cache[search.user_id] = UserProfile.build(history, search.user_id, start, traits,
                                                      half_life_days=half_life_days)
        own = session_logs.get(search.session_id, empty) if search.session_id else empty
        departments = recent.compute(own, search.session_id, search.at, traits)
        return dataclasses.replace(cache[search.user_id], session_id=search.session_id,
                                   recent_departments=departments)

    return profile_of
