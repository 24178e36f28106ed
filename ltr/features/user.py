"""User and session features: what a shopper tends to like, measured before a point in time.

Tastes are read along the axes of :class:`indexer.traits.ProductTraits` (department, brand, price
band): every interaction votes for its product's traits, recent votes weigh more (exponential
decay), and the votes become shares that sum to 1. A share can then be looked up for any
candidate product ("how much does this shopper like this product's brand?"), which is what
:func:`user_product_features` hands to LTR. Products missing from the traits mapping cast no
vote: an unknown trait says nothing about taste.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ltr.features.clock import decay, require_aware
from ltr.features.records import ActionRecord, BehaviourLog
from indexer.traits import ProductTraits

ACTION_COUNT: Mapping[str, float] = {"click": 1.0, "add_to_cart": 1.0, "purchase": 1.0}

Traits = Mapping[str, ProductTraits]  # product id -> traits


def _user_actions(log: BehaviourLog, user_id: str) -> list[ActionRecord]:
    return [a for a in log.actions if a.user_id == user_id]


def decayed_shares(actions: list[ActionRecord], at: datetime, half_life_days: float, weights: Mapping[str, float],
                   key: Callable[[ActionRecord], str | None]) -> dict[str, float]:
    """Decayed, weighted votes per ``key`` value, normalised to sum to 1 (empty when nothing voted)."""
    at = require_aware(at)
    votes: dict[str, float] = defaultdict(float)
    for action in actions:
        value, weight = key(action), weights.get(action.type, 0.0)
        if value is not None and weight:
            votes[value] += weight * decay(at - action.ts, half_life_days)
    total = sum(votes.values())
    return {value: vote / total for value, vote in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))} \
        if total > 0 else {}


@dataclass(frozen=True)
class _TraitAffinity:
    """The user's decayed share of interactions per value of one trait, over all history by default."""

    trait: ClassVar[str]
    half_life_days: float = 30.0
    window_days: float | None = None  # None: the user's whole history before ``at``
    weights: Mapping[str, float] = field(default_factory=lambda: dict(ACTION_COUNT))
    name: str = ""

    def __post_init__(self) -> None:
        if self.half_life_days <= 0:
            raise ValueError(f"half_life_days must be positive, got {self.half_life_days}")

    def compute(self, log: BehaviourLog, user_id: str, at: datetime, traits: Traits) -> dict[str, float]:
        def trait_of(action: ActionRecord) -> str | None:
            product = traits.get(action.product_id)
            return None if product is None else getattr(product, self.trait)

        actions = _user_actions(log.window(at, self.window_days), user_id)
        return decayed_shares(actions, at, self.half_life_days, self.weights, trait_of)


@dataclass(frozen=True)
class CategoryAffinity(_TraitAffinity):
    """Department -> share of the user's decayed interactions; the shares sum to 1."""

    trait: ClassVar[str] = "department"
    name: str = "department_affinity"


@dataclass(frozen=True)
class BrandAffinity(_TraitAffinity):
    """Brand -> share of the user's decayed interactions; the shares sum to 1."""

    trait: ClassVar[str] = "brand"
    name: str = "brand_affinity"


@dataclass(frozen=True)
class PriceBandShares(_TraitAffinity):
    """Price band -> share of the user's decayed interactions."""

    trait: ClassVar[str] = "price_band"
    name: str = "price_band_affinity"


@dataclass(frozen=True)
class PreferredPriceBand:
    """The price band with the largest decayed share (ties: alphabetical), or None without history."""

    half_life_days: float = 30.0
    window_days: float | None = None
    name: str = "preferred_price_band"

    def compute(self, log: BehaviourLog, user_id: str, at: datetime, traits: Traits) -> str | None:
        shares = PriceBandShares(self.half_life_days, self.window_days).compute(log, user_id, at, traits)
        return next(iter(shares), None)  # shares come largest first


@dataclass(frozen=True)
class ActivityCounts:
    searches: int = 0
    clicks: int = 0
    add_to_carts: int = 0
    purchases: int = 0


@dataclass(frozen=True)
class Activity:
    """How active the user was in the window: a regular's history deserves more trust than a newcomer's."""

    window_days: float = 30.0
    name: str = "activity"

    def compute(self, log: BehaviourLog, user_id: str, at: datetime) -> ActivityCounts:
        window = log.window(at, self.window_days)
        kinds = [a.type for a in _user_actions(window, user_id)]
        return ActivityCounts(searches=sum(1 for s in window.searches if s.user_id == user_id),
                              clicks=kinds.count("click"), add_to_carts=kinds.count("add_to_cart"),
                              purchases=kinds.count("purchase"))


@dataclass(frozen=True)
class RecentDepartments:
    """Departments of products clicked earlier in the same session, most recent first, without repeats.

    This is the shopper's current intent, which can differ from the long-run affinity (a painter
    shopping for a drill today). Only the last ``lookback_hours`` are read, since sessions are short.
    """

    limit: int = 5
    lookback_hours: float = 24.0
    action_types: tuple[str, ...] = ("click",)
    name: str = "recent_departments"

    def compute(self, log: BehaviourLog, session_id: str | None, at: datetime, traits: Traits) -> tuple[str, ...]:
        if session_id is None:
            return ()
        at = require_aware(at)
        recent: list[str] = []
        for action in reversed(log.between(at - timedelta(hours=self.lookback_hours), at).actions):
            product = traits.get(action.product_id)
            if (action.session_id == session_id and action.type in self.action_types and product is not None
                    and product.department not in recent):
                recent.append(product.department)
                if len(recent) == self.limit:
                    break
        return tuple(recent)


def latest_session(log: BehaviourLog, user_id: str, at: datetime) -> str | None:
    """The session of the user's most recent search or action before ``at`` (their current one, if any)."""
    past = log.before(at)
    last_search = next((s for s in reversed(past.searches) if s.user_id == user_id and s.session_id), None)
    last_action = next((a for a in reversed(past.actions) if a.user_id == user_id and a.session_id), None)
    candidates = [r for r in (last_search, last_action) if r is not None]
    return max(candidates, key=lambda r: r.ts).session_id if candidates else None


@dataclass(frozen=True)
class UserProfile:
    """Everything known about one user (and their session) at one point in time."""

    user_id: str
    at: datetime
    session_id: str | None
    department_affinity: Mapping[str, float]
    brand_affinity: Mapping[str, float]
    preferred_price_band: str | None
    activity: ActivityCounts
    recent_departments: tuple[str, ...]

    @classmethod
    def build(cls, log: BehaviourLog, user_id: str, at: datetime, traits: Traits, session_id: str | None = None,
              *, half_life_days: float = 30.0, window_days: float = 30.0) -> UserProfile:
        """Affinities decay over the whole history; ``window_days`` bounds the activity counts."""
        at = require_aware(at)
        log = log.before(at)  # nothing below can see the future, whatever it does
        return cls(user_id=user_id, at=at, session_id=session_id,
                   department_affinity=CategoryAffinity(half_life_days).compute(log, user_id, at, traits),
                   brand_affinity=BrandAffinity(half_life_days).compute(log, user_id, at, traits),
                   preferred_price_band=PreferredPriceBand(half_life_days).compute(log, user_id, at, traits),
                   activity=Activity(window_days).compute(log, user_id, at),
                   recent_departments=RecentDepartments().compute(log, session_id, at, traits))

    def as_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "at": self.at.isoformat(), "session_id": self.session_id,
                "department_affinity": dict(self.department_affinity), "brand_affinity": dict(self.brand_affinity),
                "preferred_price_band": self.preferred_price_band, "activity": asdict(self.activity),
                "recent_departments": list(self.recent_departments)}


def user_product_features(profile: UserProfile, traits: ProductTraits) -> dict[str, float]:
    """The user x product features LTR reads for one candidate product."""
    return {
        "user_brand_affinity": profile.brand_affinity.get(traits.brand, 0.0),
        "user_department_affinity": profile.department_affinity.get(traits.department, 0.0),
        "user_price_band_match": float(profile.preferred_price_band == traits.price_band),
        "session_department_match": float(traits.department in profile.recent_departments),
    }
