"""The event format, validated one event at a time with errors that name the field.

Shops send events from their own front ends, so nothing here trusts the input: every field is
typed, sizes are bounded, and timestamps must carry a time zone (a naive time would silently
shift every point-in-time feature by the server's offset).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

INTERACTION_TYPES = ("click", "add_to_cart", "purchase")
EVENT_TYPES = ("search", *INTERACTION_TYPES, "user")
MAX_RESULTS = 1000
CLOCK_SKEW = timedelta(hours=1)

Identifier = Annotated[str, Field(min_length=1, max_length=200)]
ProductId = Annotated[str, Field(min_length=1, max_length=512)]


class EventError(ValueError):
    """One event is unusable; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    event_id: Identifier
    ts: datetime

    @field_validator("ts")
    @classmethod
    def _aware_and_not_future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-01-31T12:00:00Z")
        value = value.astimezone(timezone.utc)
        if value > datetime.now(timezone.utc) + CLOCK_SKEW:
            raise ValueError("is in the future")
        return value


class SearchEvent(_Event):
    """A result page as the shopper saw it; ``results`` in displayed order, position 1 first."""

    type: Literal["search"]
    search_id: Identifier
    query: Annotated[str, Field(min_length=1, max_length=500)]
    results: Annotated[list[ProductId], Field(max_length=MAX_RESULTS)]
    user_id: Identifier | None = None
    session_id: Identifier | None = None
    page: Annotated[int, Field(ge=1, le=1000)] = 1
    config: Annotated[str, Field(min_length=1, max_length=50)] = "external"
    model_version: Annotated[str, Field(max_length=100)] | None = None


class InteractionEvent(_Event):
    """A click, add-to-cart or purchase; ``search_id`` attributes it to a result page when known."""

    type: Literal["click", "add_to_cart", "purchase"]
    product_id: ProductId
    search_id: Identifier | None = None
    user_id: Identifier | None = None
    session_id: Identifier | None = None
    position: Annotated[int, Field(ge=1, le=MAX_RESULTS)] | None = None


class UserEvent(_Event):
    """Attributes of a shopper (segment, country, loyalty tier...), merged into what is stored."""

    type: Literal["user"]
    user_id: Identifier
    attributes: dict[Annotated[str, Field(min_length=1, max_length=100)], Any] = Field(
        default_factory=dict, max_length=100)

    @field_validator("attributes")
    @classmethod
    def _scalar_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            if not isinstance(item, str | int | float | bool | None):
                raise ValueError(f"{name!r} must be a string, number, boolean or null")
        return value


Event = SearchEvent | InteractionEvent | UserEvent
_MODELS: dict[str, type[_Event]] = {"search": SearchEvent, "user": UserEvent,
                                    **{name: InteractionEvent for name in INTERACTION_TYPES}}


def parse_event(raw: Any) -> Event:
    """Validate one untrusted JSON value; raise :class:`EventError` naming the first bad field."""
    if not isinstance(raw, dict):
        raise EventError("event", "must be a JSON object")
    kind = raw.get("type")
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise EventError("type", f"must be one of {', '.join(EVENT_TYPES)} (got {kind!r})")
    try:
        return model.model_validate(raw)  # type: ignore[return-value]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "event"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = "is required"
        elif first["type"].startswith("datetime"):
            message = "must be an ISO 8601 time with a time zone, e.g. 2026-01-31T12:00:00Z"
        raise EventError(field, message) from None
