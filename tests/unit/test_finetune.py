"""Encoder fine-tuning: pairs, batches without false negatives, the loss, and a real (tiny) run."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from encoders.bert import BertEncoder, bundled_model_path
from encoders.finetune import FineTuneParams, epoch_batches, fine_tune, in_batch_loss, positives


def test_positives_keep_relevant_titles_of_indexed_products() -> None:
    judged = {"drill": {"a": 2.0, "b": 0.5, "gone": 2.0}, "paint": {"c": 0.0}, "saw": {"d": 1.0}}
    titles = {"a": "Cordless drill", "b": "Drill bits", "c": "White paint", "d": "Circular saw"}
    assert positives(judged, titles, 1.0) == {"drill": ["Cordless drill"], "saw": ["Circular saw"]}


def test_batches_hold_one_pair_per_query_and_distinct_titles() -> None:
    positive = {f"q{i}": [f"title {i % 7}", f"other {i}"] for i in range(50)}
    batches = epoch_batches(positive, 8, random.Random(0))
    for batch in batches:
        assert 1 < len(batch) <= 8
        assert len({q for q, _ in batch}) == len(batch) and len({t for _, t in batch}) == len(batch)
    queries = [q for batch in batches for q, _ in batch]
    assert len(queries) == len(set(queries))  # each query at most once per epoch


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
    with pytest.raises(ValueError, match="at least two queries"):
        fine_tune(bundled_model_path(), {"one": ["title"]}, tmp_path / "none")
