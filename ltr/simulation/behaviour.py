"""How a simulated shopper reads a result page: the simulator's ground-truth click models.

Attractiveness comes from the human relevance grade of (query, product) and is raised by the
shopper's own preferences (department, brand, price band); examination depends on position only
(PBM) or on the cascade of earlier clicks (DBN). The constants are the truth that fitted click
models are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.traits import ProductTraits

CLICK_MODELS = ("pbm", "dbn")
DEPTH = 10
#: P(examine position r) for the PBM shopper; position 1 is always looked at.
EXAMINATION = np.array([1.0 / (r ** 0.6) for r in range(1, DEPTH + 1)])
DBN_CONTINUE = 0.85  # gamma: P(look further | not satisfied)
UNJUDGED_RELEVANCE = 0.0


@dataclass(frozen=True)
class Shopper:
    user_id: str
    department: str
    brand: str
    price_band: str

    def affinity(self, traits: ProductTraits) -> float:
        """Multiplier on attractiveness for products that match this shopper's taste."""
        boost = 1.0
        if traits.department == self.department:
            boost *= 1.4
        if traits.brand == self.brand:
            boost *= 1.6
        if traits.price_band == self.price_band:
            boost *= 1.2
        return boost

    def likes(self, traits: ProductTraits) -> bool:
        return traits.department == self.department or traits.brand == self.brand


def relevance_of_grade(grade: float | None, max_grade: float) -> float:
    """Judgment grade scaled to 0..1 (Home Depot: relevance - 1 over 2); unjudged counts as irrelevant."""
    if grade is None:
        return UNJUDGED_RELEVANCE
    return float(np.clip(grade / max_grade, 0.0, 1.0))


def base_attractiveness(relevance: float) -> float:
    """P(click | examined) for an average shopper: the per-(query, product) truth."""
    return 0.03 + 0.67 * relevance ** 1.5


def attractiveness(relevance: float, shopper: Shopper, traits: ProductTraits) -> float:
    return float(min(0.95, base_attractiveness(relevance) * shopper.affinity(traits)))


def satisfaction(relevance: float) -> float:
    """DBN: P(satisfied and stop | clicked)."""
    return 0.2 + 0.6 * relevance


def browse(model: str, attract: np.ndarray, relevance: np.ndarray, rng: np.random.Generator) -> list[int]:
    """0-based positions the shopper clicks on a page, given per-position attractiveness."""
    if model == "pbm":
        examined = rng.random(len(attract)) < EXAMINATION[: len(attract)]
        return [int(i) for i in np.flatnonzero(examined & (rng.random(len(attract)) < attract))]
    if model == "dbn":
        clicks = []
        for i in range(len(attract)):
            if rng.random() < attract[i]:
                clicks.append(i)
                if rng.random() < satisfaction(float(relevance[i])):
                    break
            if rng.random() >= DBN_CONTINUE:
                break
        return clicks
    raise ValueError(f"unknown click model {model!r}; use one of {', '.join(CLICK_MODELS)}")


def dbn_examination(attract: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Marginal P(examine position r) of the DBN shopper on one page (for comparing with fits)."""
    examined = np.ones(len(attract))
    for i in range(1, len(attract)):
        stop_after_click = attract[i - 1] * satisfaction(float(relevance[i - 1]))
        examined[i] = examined[i - 1] * (1 - stop_after_click) * DBN_CONTINUE
    return examined


def cart_and_purchase(relevance: float, liked: bool, rng: np.random.Generator) -> tuple[bool, bool]:
    """After a click: does the shopper add to cart, and then buy?"""
    p_cart = min(0.9, (0.05 + 0.45 * relevance) * (1.3 if liked else 1.0))
    carted = bool(rng.random() < p_cart)
    return carted, bool(carted and rng.random() < 0.5)
