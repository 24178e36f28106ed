"""Exploration slots: a small share of first pages show a few deeper candidates, so clicks can label them.

A click model only learns about products shoppers were shown. On fixed pages that is the top ten of each
query, and every relevant product ranked below them is labelled "not clicked" forever: the ranker trained
on those labels relearns the ranking that produced them. Putting a few random candidates of the ranked
window into the lower slots of some pages gives those products impressions at known positions, which the
position-debiasing click models (PBM and friends) turn into labels. The price is paid by the shoppers who
see an exploring page; docs/measurements.md measures both sides ("how much logged traffic clicks need").

The choice is a pure function of the search id, so a page can be reproduced (and tested) from its id.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Exploration:
    """``rate``: share of first pages that explore; ``slots``: deeper candidates such a page shows;
    ``depth``: they are drawn from the ranked list's top ``depth`` beyond the page; ``keep_top``: the
    first positions are never replaced (the shopper's best answers stay where they are)."""

    rate: float
    slots: int = 3
    depth: int = 100
    keep_top: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"exploration rate must be within 0..1, got {self.rate}")
        if self.slots < 1 or self.keep_top < 0 or self.depth < 1:
            raise ValueError("exploration needs slots >= 1, keep_top >= 0 and depth >= 1")


def explore_page(ranked: Sequence[T], size: int, exploration: Exploration, search_id: str) -> tuple[list[T], set[int]]:
    """The first page of ``ranked`` (``size`` results) and the 0-based positions that show a deeper candidate.

    An exploring page keeps its first ``keep_top`` results, puts ``slots`` candidates drawn from
    ``ranked[size:depth]`` at random positions below them and moves the other results down, in their order
    (the last ones leave the page). A page that does not explore, or has nothing deeper to show, is the top."""
    page = list(ranked[:size])
    rng = random.Random(hashlib.sha256(f"explore:{search_id}".encode()).digest())
    if exploration.rate == 0 or rng.random() >= exploration.rate:
        return page, set()
    deeper = list(ranked[size:exploration.depth])
    free = list(range(min(exploration.keep_top, len(page)), len(page)))
    count = min(exploration.slots, len(deeper), len(free))
    if count == 0:
        return page, set()
    slots = set(rng.sample(free, count))
    picks, regular = iter(rng.sample(deeper, count)), iter(page)
    return [next(picks) if position in slots else next(regular) for position in range(len(page))], slots
