"""Click models on logs simulated from known parameters: do they recover what generated the clicks,
and do the bookkeeping parts (log building, unseen pairs, labels) behave at the edges?"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ltr.clickmodels import (
    MODELS,
    CascadeModel,
    ClickLog,
    DynamicBayesianNetwork,
    PairIndex,
    PositionBasedModel,
    UserBrowsingModel,
    graded_labels,
    ipw_click_weights,
    make_model,
    select_model,
)
from ltr.clickmodels.synthetic import SyntheticClicks, simulate_cascade, simulate_dbn, simulate_pbm


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Rank correlation without ties (continuous values)."""
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


@pytest.fixture(scope="module")
def pbm_clicks() -> SyntheticClicks:
    return simulate_pbm(20_000, 10, seed=1)


@pytest.fixture(scope="module")
def dbn_clicks() -> SyntheticClicks:
    return simulate_dbn(20_000, 10, gamma=0.9, seed=2)


@pytest.fixture(scope="module")
def cascade_clicks() -> SyntheticClicks:
    return simulate_cascade(20_000, 10, seed=3)


SESSIONS = [
    ("drill", ["d1", "d2", "d3"], {"d2"}),
    ("drill", ["d3", "d1"], set()),  # short page
    ("saw", ["s1", "s2", "s3", "s4", "s5"], {"s5", "s1"}),  # s5 is cut by depth=4
    ("saw", ["s2"], {"s9"}),  # a click on a product that was not shown
    ("saw", ["s1", "s1", "s2"], ["s1"]),  # duplicate listing: click at the first
]


# -- the click log ----------------------------------------------------------------------------------

def test_from_sessions_pads_cuts_and_ignores_unshown_clicks() -> None:
    log = ClickLog.from_sessions(SESSIONS, depth=4)
    assert (log.n_sessions, log.depth, log.n_impressions) == (5, 4, 3 + 2 + 4 + 1 + 3)
    assert log.queries == ["drill", "saw"] and "s5" not in log.docs and "s9" not in log.docs
    assert log.doc_ids.dtype == np.int32 and log.clicks.dtype == bool and log.query_ids.dtype == np.int32
    assert [log.docs[d] for d in log.doc_ids[1] if d >= 0] == ["d3", "d1"]
    assert log.doc_ids[1, 2:].tolist() == [-1, -1]
    assert log.clicks.tolist() == [[False, True, False, False], [False] * 4, [True, False, False, False],
                                   [False] * 4, [True, False, False, False]]


def test_click_log_rejects_padding_before_results() -> None:
    with pytest.raises(ValueError, match="padding"):
        ClickLog(np.zeros(1), np.array([[-1, 0]]), np.zeros((1, 2), bool), ["q"], ["d"])
    with pytest.raises(ValueError, match="padded"):
        ClickLog(np.zeros(1), np.array([[0, -1]]), np.array([[False, True]]), ["q"], ["d"])


def test_split_is_a_deterministic_partition(pbm_clicks: SyntheticClicks) -> None:
    log = pbm_clicks.log
    train, test = log.split(0.2, seed=7)
    again, _ = log.split(0.2, seed=7)
    other, _ = log.split(0.2, seed=8)
    assert test.n_sessions == 4000 and train.n_sessions + test.n_sessions == log.n_sessions
    assert np.array_equal(train.doc_ids, again.doc_ids) and not np.array_equal(train.doc_ids, other.doc_ids)
    assert train.docs is log.docs  # shared vocabularies, hence shared ids
    rows = {r.tobytes() for r in np.column_stack([train.query_ids, train.doc_ids])}
    assert not any(r.tobytes() in rows for r in np.column_stack([test.query_ids, test.doc_ids]))
    assert log.subset(np.arange(3)).n_sessions == 3


def test_pair_index_maps_a_separately_built_log_by_name() -> None:
    train = ClickLog.from_sessions(SESSIONS, depth=4)
    pairs, cells = PairIndex.from_log(train)
    assert len(pairs) == 3 + 4 + 0 and cells[~train.shown].tolist() == [-1] * int((~train.shown).sum())
    assert {pairs.key(i) for i in range(len(pairs))} >= {("drill", "d3"), ("saw", "s4")}
    other = ClickLog.from_sessions([("saw", ["s4", "d1", "s1"], set()), ("new", ["d1"], set())], depth=4)
    found = pairs.lookup(other)
    assert [pairs.key(int(i)) if i >= 0 else None for i in found[0, :3]] == [("saw", "s4"), None, ("saw", "s1")]
    assert found[1].tolist() == [-1, -1, -1, -1]
    assert np.array_equal(pairs.lookup(train), cells)


# -- recovering the truth -------------------------------------------------------------------------

def test_pbm_recovers_examination_and_attractiveness(pbm_clicks: SyntheticClicks) -> None:
    model = PositionBasedModel().fit(pbm_clicks.log)
    assert model.examination[0] == 1.0
    assert np.abs(model.examination - pbm_clicks.examination).max() < 0.03
    est = model.estimates()
    supported = est.impressions >= 80
    assert supported.sum() > 1000 and est.satisfaction is None
    assert np.array_equal(est.relevance, est.attractiveness)
    assert spearman(est.attractiveness[supported], pbm_clicks.attractiveness[est.pairs.doc_ids][supported]) > 0.9


def test_dbn_recovers_its_parameters_and_beats_pbm_on_its_data(dbn_clicks: SyntheticClicks) -> None:
    train, test = dbn_clicks.log.split(0.2, seed=0)
    dbn = DynamicBayesianNetwork().fit(train)
    assert dbn.gamma == pytest.approx(0.9, abs=0.05)
    assert dbn.examination[0] == 1.0
    assert np.abs(dbn.examination - dbn_clicks.examination).max() < 0.05
    est = dbn.estimates()
    truth_a = dbn_clicks.attractiveness[est.pairs.doc_ids]
    truth_s = dbn_clicks.satisfaction[est.pairs.doc_ids]  # type: ignore[index]
    clicked = est.clicks >= 20
    assert spearman(est.attractiveness[est.impressions >= 60], truth_a[est.impressions >= 60]) > 0.85
    assert spearman(est.satisfaction[clicked], truth_s[clicked]) > 0.7  # type: ignore[index]
    assert np.allclose(est.relevance, est.attractiveness * est.satisfaction)  # type: ignore[operator]
    assert dbn.log_likelihood(test) > PositionBasedModel().fit(train).log_likelihood(test) + 0.1


@pytest.mark.parametrize(("data", "winners"), [("pbm_clicks", {"pbm", "ubm"}), ("dbn_clicks", {"dbn", "cascade"}),
                                               ("cascade_clicks", {"dbn", "cascade"})])
def test_selection_picks_the_generating_family(data: str, winners: set[str],
                                               request: pytest.FixtureRequest) -> None:
    log = request.getfixturevalue(data).log
    selection = select_model(log, held_out=0.2, seed=0, max_iter=30)
    assert selection.name in winners
    assert [s.name for s in selection.scores] == ["pbm", "cascade", "dbn", "ubm"]
    best = max(selection.scores, key=lambda s: s.log_likelihood)
    assert best.name == selection.name and selection.best.n_iter >= 1
    assert all(s.perplexity >= 1.0 for s in selection.scores)
    assert selection.name in selection.table()


def test_cascade_examination_and_multi_click_likelihood(pbm_clicks: SyntheticClicks,
                                                        cascade_clicks: SyntheticClicks) -> None:
    assert (pbm_clicks.log.clicks.sum(axis=1) > 1).any()
    cascade = CascadeModel().fit(pbm_clicks.log)
    assert math.isfinite(cascade.log_likelihood(pbm_clicks.log))
    fitted = CascadeModel().fit(cascade_clicks.log)
    assert fitted.examination[0] == 1.0
    assert np.abs(fitted.examination - cascade_clicks.examination).max() < 0.03


# -- scoring ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(MODELS))
def test_scores_on_unseen_pairs_and_short_pages(name: str) -> None:
    train = ClickLog.from_sessions(SESSIONS, depth=4)
    unseen = ClickLog.from_sessions([("hammer", ["h1", "h2"], {"h2"}), ("saw", ["s2", "x", "s1"], {"x"}),
                                     ("drill", ["d1"], set())], depth=4)
    model = make_model(name).fit(train)
    probabilities = model.click_probabilities(unseen)
    assert probabilities.shape == (3, 4) and (probabilities[~unseen.shown] == 0).all()
    assert ((probabilities[unseen.shown] >= 0) & (probabilities[unseen.shown] < 1)).all()
    assert (probabilities[0, :2] > 0).all()  # an unseen query still gets the mean attractiveness
    assert math.isfinite(model.log_likelihood(unseen))
    overall, per_position = model.perplexity(unseen)
    assert overall >= 1.0 and (per_position[:3] >= 1.0).all() and np.isnan(per_position[3])
    assert model.examination.shape == (4,)


@pytest.mark.parametrize("name", list(MODELS))
def test_conditional_click_probabilities_form_a_distribution(name: str) -> None:
    """Multiplying P(c_r | c_<r) over a page gives P(c); over all 2^depth click patterns it sums to 1."""
    log = ClickLog.from_sessions(SESSIONS, depth=4)
    model = make_model(name).fit(log)
    patterns = np.array(list(itertools.product([False, True], repeat=3)))  # session 0 shows 3 results
    every = ClickLog(np.repeat(log.query_ids[:1], 8), np.repeat(log.doc_ids[:1], 8, axis=0),
                     np.pad(patterns, ((0, 0), (0, 1))), log.queries, log.docs)
    p = model.click_probabilities(every)
    assert np.prod(np.where(every.clicks, p, 1.0 - p), axis=1).sum() == pytest.approx(1.0)


def test_perplexity_at_least_one_and_position_one_normalised(dbn_clicks: SyntheticClicks) -> None:
    log = dbn_clicks.log.subset(np.arange(4000))
    for name in MODELS:
        model = make_model(name).fit(log, max_iter=20)
        overall, per_position = model.perplexity(log)
        assert overall >= 1.0 and (per_position >= 1.0).all(), name
        assert model.examination[0] == pytest.approx(1.0), name
    ubm = UserBrowsingModel().fit(log, max_iter=20)
    assert ubm.gamma.shape == (10, 10)


def test_rare_pairs_are_not_estimated_at_zero_or_one() -> None:
    log = ClickLog.from_sessions([("q", ["a", "b"], {"a"}), ("q", ["a", "b"], {"a"})], depth=2)
    for name in MODELS:
        est = make_model(name).fit(log).estimates()
        assert ((est.attractiveness > 0) & (est.attractiveness < 1)).all(), name
        rows = {(r.query, r.doc): r for r in est}
        assert (rows["q", "a"].impressions, rows["q", "a"].clicks, rows["q", "b"].clicks) == (2, 2, 0)


def test_models_refuse_before_fit_and_unknown_names() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        PositionBasedModel().estimates()
    with pytest.raises(ValueError, match="pbm, cascade, dbn, ubm"):
        make_model("ctr")


# -- labels -----------------------------------------------------------------------------------------

def test_graded_labels_respect_min_support_and_levels(pbm_clicks: SyntheticClicks) -> None:
    est = PositionBasedModel().fit(pbm_clicks.log.subset(np.arange(5000)), max_iter=20).estimates()
    labels = graded_labels(est, min_support=30, levels=5)
    support = {r[:2]: r.impressions for r in est}
    assert 0 < len(labels) < len(est)
    assert all(support[key] >= 30 for key in labels)
    assert sum(n >= 30 for n in support.values()) == len(labels)
    assert set(labels.values()) <= set(range(5)) and len(set(labels.values())) > 2
    top = max(labels, key=lambda k: est.relevance[list(support).index(k)])
    assert labels[top] == max(labels.values())
    binary = graded_labels(est, min_support=0, levels=2, thresholds=[0.5])
    assert len(binary) == len(est) and set(binary.values()) == {0, 1}
    with pytest.raises(ValueError):
        graded_labels(est, min_support=0, levels=3, thresholds=[0.5])


def test_ipw_click_weights() -> None:
    log = ClickLog.from_sessions([("q", ["a", "b", "c"], {"a", "c"}), ("q", ["b"], {"b"})], depth=3)
    weights = ipw_click_weights(log, np.array([1.0, 0.5, 0.05]), clip=0.1)
    assert weights.tolist() == [[1.0, 0.0, 10.0], [1.0, 0.0, 0.0]]
    with pytest.raises(ValueError):
        ipw_click_weights(log, np.array([1.0, 0.5]))
