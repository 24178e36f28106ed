"""Encoder fine-tuning: pairs, batches without false negatives, the loss, and a real (tiny) run."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.bert import BertEncoder, bundled_model_path
from encoders.finetune import (
    FineTuneParams,
    epoch_batches,
    fine_tune,
    hard_negatives,
    in_batch_loss,
    lexical_negatives,
    merge_negatives,
    positives,
)


def test_positives_keep_relevant_titles_of_indexed_products() -> None:
    judged = {"drill": {"a": 2.0, "b": 0.5, "gone": 2.0}, "paint": {"c": 0.0}, "saw": {"d": 1.0}}
    titles = {"a": "Cordless drill", "b": "Drill bits", "c": "White paint", "d": "Circular saw"}
    assert positives(judged, titles, 1.0) == {"drill": ["Cordless drill"], "saw": ["Circular saw"]}


def test_batches_hold_one_pair_per_query_and_distinct_titles() -> None:
    positive = {f"q{i}": [f"title {i % 7}", f"other {i}"] for i in range(50)}
    batches = epoch_batches(positive, 8, random.Random(0))
    for batch in batches:
        assert 1 < len(batch) <= 8
        assert len({q for q, _, _ in batch}) == len(batch) and len({t for _, t, _ in batch}) == len(batch)
        assert all(n is None for _, _, n in batch)
    queries = [q for batch in batches for q, _, _ in batch]
    assert len(queries) == len(set(queries)) >= len(positive) - 1  # once per epoch (a lone leftover aside)


def test_hard_negatives_are_the_rejected_products_of_queries_with_a_positive() -> None:
    judged = {"drill": {"a": 2.0, "b": 0.0, "c": 0.33, "same": 0.0}, "paint": {"d": 0.0}, "saw": {"e": 1.0, "f": 0.67}}
    titles = {"a": "Cordless drill", "b": "Drill bits", "c": "Drill case", "same": "Cordless drill",
              "d": "White paint", "e": "Circular saw", "f": "Saw blade"}
    positive = positives(judged, titles, 1.0)
    # "paint" has no positive to contrast with; a title that is also a positive cannot be a negative
    assert hard_negatives(judged, titles, 0.34, positive) == {"drill": ["Drill bits", "Drill case"]}
    assert hard_negatives(judged, titles, 0.67, positive)["saw"] == ["Saw blade"]


def test_batches_never_contrast_a_query_with_a_title_relevant_to_it() -> None:
    """Overlapping judgments: q{i}'s positives are title i and title i+1; its rejected products include
    titles other queries need as positives. Every query but at most a lone leftover trains once per
    epoch, and no title is a negative (in-batch or hard) for a query it is relevant to."""
    positive = {f"q{i}": [f"title {i}", f"title {i + 1}"] for i in range(40)}
    negative = {f"q{i}": [f"title {(i + 7) % 40}", f"rejected {i % 5}"] for i in range(40)}
    for seed in range(5):
        batches = epoch_batches(positive, 8, random.Random(seed), negative)
        trained = [q for batch in batches for q, _, _ in batch]
        assert len(trained) == len(set(trained)) >= len(positive) - 1  # at most a lone leftover is dropped
        used = 0
        for batch in batches:
            titles = [t for _, t, _ in batch] + [n for _, _, n in batch if n is not None]
            assert len(titles) == len(set(titles))
            for query, own, _ in batch:
                assert not (set(titles) - {own}) & set(positive[query])
            used += sum(n is not None for _, _, n in batch)
        assert used > len(positive) // 4


def test_a_hard_negative_never_pushes_another_query_out_of_the_epoch() -> None:
    """A's rejected product is B's only relevant one: B must still train, and A's negative give way."""
    positive = {"A": ["a"], "B": ["y"], "C": ["c"]}
    for seed in range(10):
        batches = epoch_batches(positive, 4, random.Random(seed), {"A": ["y"]})
        assert sorted(q for batch in batches for q, _, _ in batch) == ["A", "B", "C"]  # one batch of three
        assert all(n is None for batch in batches for _, _, n in batch)  # "y" is B's positive in the batch


def test_in_batch_loss_targets_the_positives_when_hard_negatives_are_appended() -> None:
    queries = torch.nn.functional.normalize(torch.eye(3, 4), dim=1)
    positives_then_negative = torch.cat([queries, torch.nn.functional.normalize(torch.ones(1, 4), dim=1)])
    near_miss = torch.cat([queries, queries[:1]])  # a negative identical to query 0's positive
    low = float(in_batch_loss(queries, positives_then_negative, 20.0))
    assert low < 0.01 < float(in_batch_loss(queries, near_miss, 20.0))


def test_in_batch_loss_is_low_when_each_query_matches_its_own_title() -> None:
    aligned = torch.nn.functional.normalize(torch.eye(4) + 0.01, dim=1)
    shuffled = aligned[[1, 2, 3, 0]]
    assert float(in_batch_loss(aligned, aligned, 20.0)) < 0.01 < float(in_batch_loss(aligned, shuffled, 20.0))


def test_a_tiny_fine_tune_saves_a_loadable_model_that_moved_towards_the_pairs(tmp_path: Path) -> None:
    positive = {"kitchen faucet": ["Glacier Bay single-handle pull-down sprayer"],
                "patio lights": ["Hampton Bay solar LED path lights"],
                "deck screws": ["Grip-Rite #10 x 3 in. star flat-head wood deck screws"],
                "toilet seat": ["Church round closed front toilet seat in white"]}
    before = BertEncoder()
    log = fine_tune(bundled_model_path(), positive, tmp_path / "ft",
                    FineTuneParams(epochs=8, batch_size=4, learning_rate=1e-4, warmup_fraction=0.0))
    after = BertEncoder(tmp_path / "ft")
    assert after.identity.weights_sha256 != before.identity.weights_sha256
    assert log["steps"] == 8 and log["loss_last_epoch"] < log["loss_first_epoch"]

    def margin(encoder: BertEncoder) -> float:
        queries = encoder.encode(list(positive))
        titles = encoder.encode([t[0] for t in positive.values()])
        sims = queries @ titles.T
        return float(np.mean(np.diag(sims)) - np.mean(sims[~np.eye(4, dtype=bool)]))

    assert margin(after) > margin(before)

    hard = {"kitchen faucet": ["Glacier Bay kitchen sink strainer"], "deck screws": ["Deck stain, cedar, 1 gal."]}
    log = fine_tune(bundled_model_path(), positive, tmp_path / "hard",
                    FineTuneParams(epochs=2, batch_size=4, learning_rate=1e-4, warmup_fraction=0.0,
                                   negative_max_grade=0.0), negative=hard)
    assert log["queries_with_hard_negatives"] == 2 and log["steps"] == 2
    assert BertEncoder(tmp_path / "hard").encode(["kitchen faucet"]).shape == (1, 384)
    with pytest.raises(ValueError, match="at least two queries"):
        fine_tune(bundled_model_path(), {"one": ["title"]}, tmp_path / "none")


def test_lexical_negatives_are_the_top_unjudged_hits_that_are_not_a_positive_text() -> None:
    judged = {"drill": {"p1": 2.0, "p2": 0.0, "p8": 0.7}, "saw": {"p4": 2.0}, "no positive": {"p9": 0.0}}
    texts = {"p1": "Cordless drill", "p2": "Drill bits", "p3": "Drill press", "p5": "Cordless drill",
             "p6": "Drill stand", "p7": "Drill case", "p4": "Circular saw", "p8": "Drill guide",
             "p10": "Drill guide", "p11": "Drill press"}
    positive = positives(judged, texts, 1.0)
    ranked = {"drill": ["p2", "p1", "p5", "p10", "p3", "p11", "missing", "p6", "p7"], "saw": ["p4"],
              "no positive": ["p3"]}
    found = lexical_negatives(ranked, judged, texts, positive, per_query=2)
    # p2 and p1 are judged; p5 and p10 share the text of a judged product (a positive, a middle grade);
    # p11 repeats p3's text; "missing" has no text. Then two are taken.
    assert found == {"drill": ["Drill press", "Drill stand"]}
    assert lexical_negatives(ranked, judged, texts, positive, per_query=0) == {}


def test_negatives_of_both_kinds_merge_in_order_without_repeats() -> None:
    assert merge_negatives(None, None) is None
    assert merge_negatives({"a": ["x", "y"]}, None) == {"a": ["x", "y"]}
    assert merge_negatives({"a": ["x"], "b": ["z"]}, {"a": ["y", "x", "y"]}) == {"a": ["x", "y"], "b": ["z"]}
