"""The catalogue schema: what a product is, and what makes a row a valid product.

Shops bring their own exports, so validation is strict about the few things search
needs (an id, a title, well-formed numbers) and forgiving about everything else.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Availability = Literal["in_stock", "out_of_stock", "preorder", "backorder"]


class Product(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=512)
    title: str = Field(min_length=1)
    description: str | None = None
    brand: str | None = None
    category: tuple[str, ...] = ()  # path from the root, e.g. ("Tools", "Power Tools", "Drills")
    price: float | None = Field(None, ge=0)
    currency: str | None = Field(None, min_length=3, max_length=3)
    attributes: dict[str, str] = Field(default_factory=dict)
    availability: Availability | None = None
    popularity: float | None = Field(None, ge=0)
    rating: float | None = Field(None, ge=0, le=5)
    image_url: str | None = None
    updated_at: datetime | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    @field_validator("category", mode="before")
    @classmethod
    def _category_path(cls, value: object) -> object:
        """Accept a list or a ``"A > B > C"`` string."""
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(">") if part.strip())
        return value

    @field_validator("attributes", mode="before")
    @classmethod
    def _attributes_as_text(cls, value: object) -> object:
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("availability", mode="before")
    @classmethod
    def _availability(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return "in_stock" if value else "out_of_stock"
        return str(value).strip().lower().replace(" ", "_").replace("-", "_")

    @field_validator("description", "brand", "currency", "image_url", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("price", "popularity", "rating", "updated_at", mode="before")
    @classmethod
    def _blank_number_is_missing(cls, value: object) -> object:
        return None if value == "" else value

    def embedding_text(self) -> str:
        """The text the encoder sees: title first, then brand and category as context.

        The description is left out on purpose: it is long, mostly boilerplate, and the
        encoder truncates anyway; BM25 still searches it.
        """
        parts = [self.title]
        if self.brand:
            parts.append(self.brand)
        if self.category:
            parts.append(" > ".join(self.category))
        return " | ".join(parts)

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def describe_validation_error(error: ValidationError) -> str:
    """``price: Input should be greater than or equal to 0 (got -3)``, one clause per problem."""
    clauses = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "row"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field (map it with --mapping or drop it)"
        elif "input" in item and item["type"] != "missing":
            message += f" (got {item['input']!r})"
        clauses.append(f"{field}: {message}")
    return "; ".join(clauses)
