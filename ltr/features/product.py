"""Product features from behaviour: how often a product is shown, clicked, carted, bought.

Each feature is a small frozen dataclass with a ``name`` and ``compute(log, product_ids, at)``
returning a value for every requested product (0-ish for products nobody saw). Every feature
reads only ``log.window(at, window_days)``, i.e. what happened strictly before ``at``.

Rates are per impression and count a (search, product) pair once: a shopper who clicks the same
result three times still clicked one impression, so a rate stays a probability. Only actions
attributed to a counted impression enter a rate; unattributed actions (from a product page, a
recommendation) have no impression to be a rate of, and count in :class:`Popularity` instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Protocol

from ltr.features.clock import decay, require_aware
from ltr.features.records import ActionRecord, BehaviourLog

DEFAULT_POPULARITY_WEIGHTS: Mapping[str, float] = {"click": 1.0, "add_to_cart": 3.0, "purchase": 5.0}

Pair = tuple[str, str]  # (search_id, product_id)


class ProductFeature(Protocol):
    name: str

    def compute(self, log: BehaviourLog, product_ids: Iterable[str], at: datetime) -> dict[str, float]: ...


def shown_pairs(log: BehaviourLog) -> set[Pair]:
    """Every (search, product) impression of ``log``, once."""
    return {(r.search_id, r.product_id) for r in log.shown}


def _per_product(pairs: Iterable[Pair]) -> Counter[str]:
    return Counter(product for _, product in pairs)


def engaged_pairs(log: BehaviourLog, action_type: str, shown: set[Pair]) -> set[Pair]:
    """Impressions that received at least one ``action_type``."""
    return {pair for a in log.actions if a.type == action_type and a.search_id is not None
            and (pair := (a.search_id, a.product_id)) in shown}


@dataclass(frozen=True)
class ImpressionCount:
    """Times the product was shown (distinct result pages): exposure, and the confidence behind its rates."""

    window_days: float = 30.0
    name: str = "impression_count"

    def compute(self, log: BehaviourLog, product_ids: Iterable[str], at: datetime) -> dict[str, float]:
        counts = _per_product(shown_pairs(log.window(at, self.window_days)))
        return {pid: float(counts[pid]) for pid in product_ids}


@dataclass(frozen=True)
class _SmoothedRate:
    """``(engaged + prior * m) / (impressions + m)`` with the window's global rate as prior.

    A product shown twice and clicked once is not a 50% product: with ``m`` pseudo-impressions
    at the global rate, rarely shown products start at the prior and earn their own rate as
    impressions accumulate, so LTR does not chase the noise of small counts.
    """

    action_type: ClassVar[str]
    window_days: float = 30.0
    prior_weight: float = 10.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.prior_weight <= 0:
            raise ValueError(f"prior_weight must be positive, got {self.prior_weight}")

    def compute(self, log: BehaviourLog, product_ids: Iterable[str], at: datetime) -> dict[str, float]:
        window = log.window(at, self.window_days)
        shown = shown_pairs(window)
        engaged = engaged_pairs(window, self.action_type, shown)
        prior = len(engaged) / len(shown) if shown else 0.0
        impressions, hits = _per_product(shown), _per_product(engaged)
        return {pid: self.smoothed(hits[pid], impressions[pid], prior) for pid in product_ids}

    def smoothed(self, engaged: float, impressions: float, prior: float) -> float:
        """The rate of ``engaged`` in ``impressions``, with ``prior_weight`` pseudo-impressions at ``prior``."""
        return (engaged + prior * self.prior_weight) / (impressions + self.prior_weight)


@dataclass(frozen=True)
class SmoothedCtr(_SmoothedRate):
    """Click-through rate per impression, smoothed toward the global CTR."""

    action_type: ClassVar[str] = "click"
    name: str = "ctr"


@dataclass(frozen=True)
class AddToCartRate(_SmoothedRate):
    """Add-to-cart rate per impression, smoothed toward the global rate."""

    action_type: ClassVar[str] = "add_to_cart"
    name: str = "add_to_cart_rate"


@dataclass(frozen=True)
class PurchaseRate(_SmoothedRate):
    """Purchase rate per impression, smoothed toward the global rate."""

    action_type: ClassVar[str] = "purchase"
    name: str = "purchase_rate"


@dataclass(frozen=True)
class Popularity:
    """Exponentially decayed, weighted count of clicks, carts and purchases (attributed or not).

    Decay makes last week's best-seller outrank last year's; weights say a purchase tells more
    than a click. Not normalised: LTR models (trees) only need the order.
    """

    half_life_days: float = 14.0
    window_days: float = 90.0
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_POPULARITY_WEIGHTS))
    name: str = "popularity"

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, got {self.half_life_days}")

    def compute(self, log: BehaviourLog, product_ids: Iterable[str], at: datetime) -> dict[str, float]:
        at = require_aware(at)
        wanted = dict.fromkeys(product_ids, 0.0)
        for action in log.window(at, self.window_days).actions:
            if action.product_id in wanted:
                wanted[action.product_id] += self.weight(action, at)
        return wanted

    def weight(self, action: ActionRecord, at: datetime) -> float:
        """What one action adds to its product's popularity as of ``at``."""
        weight = self.weights.get(action.type, 0.0)
        return weight * decay(at - action.ts, self.half_life_days) if weight else 0.0


def default_product_features(window_days: float = 30.0, half_life_days: float = 14.0,
                             prior_weight: float = 10.0) -> tuple[ProductFeature, ...]:
    """The product features LTR uses, sharing one window."""
    return (ImpressionCount(window_days), SmoothedCtr(window_days, prior_weight),
            AddToCartRate(window_days, prior_weight), PurchaseRate(window_days, prior_weight),
            Popularity(half_life_days, window_days))


def product_features(log: BehaviourLog, product_ids: Iterable[str], at: datetime,
                     features: Iterable[ProductFeature] | None = None) -> dict[str, dict[str, float]]:
    """product id -> feature name -> value, for every requested product."""
    ids = list(dict.fromkeys(product_ids))
    table: dict[str, dict[str, float]] = {pid: {} for pid in ids}
    for feature in features if features is not None else default_product_features():
        for pid, value in feature.compute(log, ids, at).items():
            table[pid][feature.name] = value
    return table
