"""Click models on logs simulated from known parameters: do they recover what generated the clicks,
and do the bookkeeping parts (log building, unseen pairs, labels) behave at the edges?"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

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
from ltr.clickmodels.selection import prior_params
from ltr.clickmodels.squarem import squarem
from ltr.clickmodels.synthetic import (
    SyntheticClicks,
    simulate_cascade,
    simulate_dbn,
    simulate_pbm,
    simulate_sparse_pbm,
)


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


# -- the empirical-Bayes attractiveness prior -------------------------------------------------------

@pytest.fixture(scope="module")
def sparse_clicks() -> SyntheticClicks:
    return simulate_sparse_pbm(seed=0)


@pytest.mark.parametrize("name", ["pbm", "ubm"])
def test_empirical_prior_recovers_examination_on_a_sparse_randomised_log(name: str,
                                                                         sparse_clicks: SyntheticClicks) -> None:
    """~30 impressions per pair, most far fewer: fixed Beta(1, 1) pseudo-counts bias every position."""
    log, truth = sparse_clicks.log, sparse_clicks.examination
    impressions = np.unique(log.doc_ids[log.shown], return_counts=True)[1]
    assert 25 < impressions.mean() < 35 and np.median(impressions) < 15  # sparse, with a long tail
    empirical = make_model(name, prior="empirical").fit(log)
    fixed = make_model(name).fit(log)
    empirical_error = np.abs(empirical.examination - truth)
    fixed_error = np.abs(fixed.examination - truth)
    assert empirical.examination[0] == pytest.approx(1.0) and empirical_error.max() <= 0.05
    assert fixed_error.max() > 2 * empirical_error.max()
    assert (fixed.examination[1:] > truth[1:]).all()  # the fixed prior's bias: every position too high


def test_empirical_prior_gives_labels_closer_to_the_truth_on_a_sparse_log(sparse_clicks: SyntheticClicks) -> None:
    """The graded LTR labels: with the fitted prior more of them are the grade of the true attractiveness."""
    agreement, error = {}, {}
    for prior in ("fixed", "empirical"):
        est = PositionBasedModel(prior=prior).fit(sparse_clicks.log).estimates()
        truth = sparse_clicks.attractiveness[est.pairs.doc_ids]
        labels = graded_labels(est, min_support=10)
        true_grades = graded_labels(replace(est, relevance=truth), min_support=10)
        assert labels.keys() == true_grades.keys() and len(labels) > 1000
        agreement[prior] = np.mean([labels[k] == true_grades[k] for k in labels])
        error[prior] = np.abs(est.attractiveness - truth).mean()
        assert spearman(est.attractiveness, truth) > 0.55
    assert agreement["empirical"] > agreement["fixed"] + 0.03
    assert error["empirical"] < error["fixed"]


def test_empirical_prior_fitted_on_a_dense_log_is_the_generating_beta(pbm_clicks: SyntheticClicks) -> None:
    """100 impressions per pair of attractiveness ~ Beta(1.2, 2): the fit finds that Beta, and the
    examination stays as good as the fixed prior's."""
    model = PositionBasedModel(prior="empirical").fit(pbm_clicks.log)
    alpha, beta = model.attractiveness_prior
    assert alpha == pytest.approx(1.2, rel=0.15) and beta == pytest.approx(2.0, rel=0.15)
    assert alpha / (alpha + beta) * model.theta[0] == pytest.approx(1.2 / 3.2, abs=0.02)
    assert np.abs(model.examination - pbm_clicks.examination).max() < 0.03
    assert PositionBasedModel().fit(pbm_clicks.log).attractiveness_prior == (1.0, 1.0)


def test_empirical_prior_for_the_cascade_model_and_where_it_is_refused(cascade_clicks: SyntheticClicks) -> None:
    cascade = CascadeModel(prior="empirical").fit(cascade_clicks.log)
    alpha, beta = cascade.attractiveness_prior
    assert alpha == pytest.approx(1.2, rel=0.2) and beta == pytest.approx(2.0, rel=0.2)
    assert np.abs(cascade.examination - cascade_clicks.examination).max() < 0.03
    with pytest.raises(ValueError, match="dbn supports"):
        make_model("dbn", prior="empirical")
    with pytest.raises(ValueError, match="unknown prior"):
        make_model("pbm", prior="flat")
    assert prior_params("dbn", "empirical") == {"prior": "fixed"}
    selection = select_model(cascade_clicks.log.subset(np.arange(4000)), held_out=0.2, seed=0, max_iter=20,
                             prior="empirical")
    assert {s.name: s.prior for s in selection.scores} == {"pbm": "empirical", "cascade": "empirical",
                                                          "dbn": "fixed", "ubm": "empirical"}
    assert selection.best.prior == prior_params(selection.name, "empirical")["prior"]
    assert "empirical" in selection.table()


def test_squarem_reaches_a_slow_fixed_point_in_few_steps() -> None:
    """A contraction at rate 0.99 (plain EM: ~1,400 steps to 1e-6) against the accelerated one."""
    target = np.array([1.0, -2.0, 0.5])
    rates = np.array([0.99, 0.9, 0.5])

    def step(x: np.ndarray) -> tuple[float, np.ndarray]:
        return -float(((x - target) ** 2).sum()), target + rates * (x - target)

    x, n_steps = squarem(step, np.zeros(3), max_steps=200, tol=1e-12)
    assert np.abs(x - target).max() < 1e-4 and n_steps < 60
    x, n_steps = squarem(step, np.zeros(3), max_steps=2, tol=1e-12)  # no room for a cycle: one plain step
    assert n_steps == 1 and np.allclose(x, target * (1 - rates))


@pytest.mark.parametrize("name", ["pbm", "ubm", "cascade"])
def test_empirical_prior_on_a_tiny_log_stays_finite(name: str) -> None:
    log = ClickLog.from_sessions(SESSIONS, depth=4)
    model = make_model(name, prior="empirical").fit(log)
    est = model.estimates()
    assert ((est.attractiveness > 0) & (est.attractiveness < 1)).all()
    assert all(math.isfinite(x) and x > 0 for x in model.attractiveness_prior)
    assert math.isfinite(model.log_likelihood(log)) and model.examination[0] == pytest.approx(1.0)


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


# -- the pipeline's click-model job -----------------------------------------------------------------

def test_the_click_model_job_takes_its_prior_from_the_setting(monkeypatch: pytest.MonkeyPatch,
                                                              pbm_clicks: SyntheticClicks) -> None:
    """ltr.click_labels.fit_click_model builds every model that retraining, the CLI and the demo fit."""
    from core.settings import get_settings
    from ltr import click_labels

    log = pbm_clicks.log.subset(np.arange(3000))
    sessions = [(log.queries[q], [log.docs[d] for d in row if d >= 0],
                 {log.docs[d] for d, c in zip(row, clicked) if c}) for q, row, clicked in
                zip(log.query_ids, log.doc_ids, log.clicks)]
    monkeypatch.setattr(click_labels, "iter_click_sessions", lambda *args: iter(sessions))
    fit = click_labels.fit_click_model
    monkeypatch.delenv("SHELFRANK_CLICK_MODEL_PRIOR", raising=False)
    get_settings.cache_clear()
    try:
        empirical = fit(None, "pbm")  # type: ignore[arg-type]  # the default
        assert empirical.selection.best.prior == "empirical" and empirical.selection.scores[0].prior == "empirical"
        assert empirical.summary()["prior"]["kind"] == "empirical" and empirical.summary()["prior"]["alpha"] != 1.0
        monkeypatch.setenv("SHELFRANK_CLICK_MODEL_PRIOR", "fixed")
        get_settings.cache_clear()
        fixed = fit(None, "pbm")  # type: ignore[arg-type]
        assert fixed.summary()["prior"] == {"kind": "fixed", "alpha": 1.0, "beta": 1.0}
        assert fit(None, "pbm", prior="empirical").selection.best.prior == "empirical"  # type: ignore[arg-type]
    finally:
        monkeypatch.delenv("SHELFRANK_CLICK_MODEL_PRIOR", raising=False)
        get_settings.cache_clear()
