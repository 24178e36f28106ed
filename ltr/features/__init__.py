"""Behaviour features for learning to rank, point-in-time correct.

One small class per feature (as in Metarank), computed from a :class:`BehaviourLog` that the
loader reads once; each feature sees only what happened strictly before the time it is asked
about, so training features never contain the clicks they are meant to predict.
"""

from ltr.features.loader import load_behaviour, user_known
from ltr.features.product import (
    AddToCartRate,
    ImpressionCount,
    Popularity,
    ProductFeature,
    PurchaseRate,
    SmoothedCtr,
    default_product_features,
    product_features,
)
from ltr.features.records import ActionRecord, BehaviourLog, SearchRecord, ShownRecord
from ltr.features.user import (
    Activity,
    ActivityCounts,
    BrandAffinity,
    CategoryAffinity,
    PreferredPriceBand,
    PriceBandShares,
    RecentDepartments,
    UserProfile,
    latest_session,
    user_product_features,
)

__all__ = [
    "ActionRecord", "Activity", "ActivityCounts", "AddToCartRate", "BehaviourLog", "BrandAffinity",
    "CategoryAffinity", "ImpressionCount", "Popularity", "PreferredPriceBand", "PriceBandShares", "ProductFeature", "PurchaseRate",
    "RecentDepartments", "SearchRecord", "ShownRecord", "SmoothedCtr", "UserProfile", "default_product_features",
    "latest_session", "load_behaviour", "product_features", "user_known", "user_product_features",
]
