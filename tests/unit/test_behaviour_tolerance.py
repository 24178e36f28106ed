"""Which documents the behaviour refresh rewrites: pure comparisons, no engine."""

from __future__ import annotations

import numpy as np

from indexer import schema
from ltr.behaviour_sync import document_values, within_tolerance
from ltr.ranker.extract import ProductBehaviour

CTR, RATE, POPULARITY = (schema.BEHAVIOUR_FIELDS[n] for n in ("product_ctr", "product_purchase_rate",
                                                              "product_popularity"))


def stored(values: dict[str, float]) -> dict[str, float]:
    """What the document's float32 doc values give back."""
    return {key: float(np.float32(value)) for key, value in values.items()}


def test_every_product_gets_every_field_with_the_priors_for_what_it_lacks() -> None:
    behaviour = ProductBehaviour({"a": {"product_ctr": 0.2}}, {"product_ctr": 0.05, "product_purchase_rate": 0.01,
                                                              "product_popularity": 0.0})
    assert document_values(behaviour) == {"a": {CTR: 0.2, RATE: 0.01, POPULARITY: 0.0}}


def test_values_the_document_already_stores_are_kept_even_at_zero_tolerance() -> None:
    new = {CTR: 0.1234567891, RATE: 0.0, POPULARITY: 3.3}
    assert within_tolerance(stored(new), new, 0.0)  # float32 storage is no change
    assert not within_tolerance(stored(new), {**new, POPULARITY: 3.3 * 0.998}, 0.0)


def test_a_relative_tolerance_keeps_small_drifts_and_rewrites_real_changes() -> None:
    held = stored({CTR: 0.05, RATE: 0.0, POPULARITY: 10.0})
    decayed = {CTR: 0.05, RATE: 0.0, POPULARITY: 10.0 * 2 ** (-1 / (14 * 24))}  # an hour of a 14-day half-life
    assert within_tolerance(held, decayed, 0.01)
    assert not within_tolerance(held, {**decayed, CTR: 0.06}, 0.01)  # a click moved the rate by 20%
    assert not within_tolerance(held, {**decayed, RATE: 1e-4}, 0.01)  # first purchase: relative to the larger
    assert not within_tolerance({CTR: held[CTR]}, decayed, 0.5)  # a field the document lacks is written
