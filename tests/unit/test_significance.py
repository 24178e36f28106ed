import numpy as np
import pytest

from evaluation.significance import paired_bootstrap


def test_a_consistent_gain_is_significant_and_counted_per_query():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 500)
    better = base + 0.05 + rng.normal(0, 0.01, 500)
    result = paired_bootstrap(better, base)
    assert result.significant
    assert 0.045 < result.low < result.mean_difference < result.high < 0.055
    assert (result.helped, result.hurt, result.queries) == (500, 0, 500)


def test_noise_around_zero_is_not_significant():
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 1, 400)
    noisy = base + rng.normal(0, 0.2, 400)
    result = paired_bootstrap(noisy, base, seed=3)
    assert result.low < 0 < result.high and not result.significant
    assert result.helped + result.hurt == 400


def test_ties_are_neither_helped_nor_hurt_and_bad_input_is_refused():
    result = paired_bootstrap([0.5, 0.7, 0.2], [0.5, 0.6, 0.3])
    assert (result.helped, result.hurt) == (1, 1)
    assert "helped 1 / hurt 1 of 3" in result.describe()
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([0.1, 0.2], [0.1])
    with pytest.raises(ValueError):
        paired_bootstrap([], [])
