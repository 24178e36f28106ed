"""Pure parts of the optional cross-encoder stage: the blend and the training groups."""

import random

from encoders.cross_finetune import CrossTrainParams, step_groups, training_queries
from storefront.cross_encoder_stage import blended_order, standardised


def test_blend_weighs_the_cross_encoder_against_the_previous_stage() -> None:
    cross, prior = [0.0, 5.0, 1.0], [3.0, 1.0, 2.0]
    assert blended_order(cross, prior, 0.0) == [1, 2, 0]
    assert blended_order(cross, prior, 100.0) == [0, 2, 1]
    assert standardised([2.0, 2.0]).tolist() == [0.0, 0.0]


def test_training_queries_take_unjudged_candidates_and_rejected_products_as_negatives() -> None:
    judgments = {"drill": {"A": 2.0, "B": 0.0}, "paint": {"C": 0.0}}
    texts = {"A": "cordless drill", "B": "drill bit", "C": "paint", "D": "hammer", "E": "cordless drill"}
    ranked = {"drill": ["A", "E", "D", "B"]}
    items = training_queries(judgments, ranked, texts, CrossTrainParams())
    assert [i.query for i in items] == ["drill"]  # "paint" has no relevant product
    assert items[0].positives == ("cordless drill",)
    assert items[0].negatives == ("hammer", "drill bit")  # E repeats a judged text: skipped
    steps = step_groups(items, CrossTrainParams(epochs=1.0, queries_per_step=1, group_size=4), random.Random(0))
    assert steps and all(group[0] == "cordless drill" and len(group) == 4 for step in steps for _, group in step)
