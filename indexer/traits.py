"""Product traits that personalisation is about: brand, department and price band.

Shoppers have tastes along these three axes; user features measure them and the simulator's
shoppers have them. A catalogue that has brand, category and price uses those (``traits_of``'s
optional arguments). The Home Depot data has titles only, so there the traits are derived: the
leading word of the title (the brand in most Home Depot titles), a department from keywords, and
a price band from a hash of the product id. Derived traits are synthetic but deterministic.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PRICE_BANDS = ("budget", "mid", "premium")

DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "paint": ("paint", "primer", "stain", "brush", "roller", "caulk", "sealant"),
    "lighting": ("light", "lamp", "bulb", "lantern", "chandelier", "sconce", "led"),
    "plumbing": ("faucet", "toilet", "sink", "shower", "pipe", "valve", "drain", "water heater"),
    "flooring": ("tile", "floor", "carpet", "laminate", "vinyl plank", "rug", "grout"),
    "tools": ("drill", "saw", "driver", "wrench", "hammer", "tool", "blade", "bit", "sander"),
    "garden": ("garden", "mower", "plant", "hose", "soil", "fertilizer", "trimmer", "grass", "patio"),
    "doors & windows": ("door", "window", "blind", "shade", "curtain", "lock", "hinge"),
    "appliances": ("refrigerator", "washer", "dryer", "dishwasher", "range", "microwave", "oven", "freezer"),
    "electrical": ("wire", "outlet", "switch", "breaker", "cord", "electrical", "fan", "thermostat"),
    "building": ("lumber", "board", "plywood", "concrete", "insulation", "drywall", "roof", "fence", "deck"),
    "hardware": ("screw", "bolt", "nail", "bracket", "anchor", "hook", "shelf", "storage"),
}
OTHER_DEPARTMENT = "other"
_WORD = re.compile(r"[A-Za-z][A-Za-z'&.-]*")


@dataclass(frozen=True)
class ProductTraits:
    brand: str
    department: str
    price_band: str


def brand_of(title: str) -> str:
    match = _WORD.match(title.strip())
    return match.group(0).lower().rstrip(".") if match else "unbranded"


def department_of(title: str) -> str:
    text = f" {title.lower()} "
    for department, keywords in DEPARTMENTS.items():
        if any(f" {word}" in text for word in keywords):
            return department
    return OTHER_DEPARTMENT


def price_band_of(product_id: str) -> str:
    return PRICE_BANDS[hashlib.sha256(product_id.encode()).digest()[0] % len(PRICE_BANDS)]


def traits_of(product_id: str, title: str | None, brand: str | None = None, category: str | Sequence[str] = (),
              price_band: str | None = None) -> ProductTraits:
    """Catalogue values where present (brand lower-cased, the top-level category), derived ones otherwise.

    ``category`` is the path from the root; a single string (as a stored document may hold) is a
    one-level path, not a sequence of letters."""
    title = title or ""
    if isinstance(category, str):
        category = [category]
    return ProductTraits(brand.lower() if brand else brand_of(title),
                         category[0].lower() if category else department_of(title),
                         price_band or price_band_of(product_id))


def common_brands(titles: Iterable[str], top: int = 50) -> list[str]:
    """The most frequent brands of a catalogue: what simulated shoppers can be loyal to."""
    counts = Counter(brand_of(title) for title in titles)
    counts.pop("unbranded", None)
    return [brand for brand, _ in counts.most_common(top)]
