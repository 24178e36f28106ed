"""A storefront search request, validated from untrusted JSON with errors that name the field."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_QUERY_CHARS = 500
MAX_PAGE_SIZE = 100
MAX_RESULT_WINDOW = 1000


class InvalidRequest(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Filters:
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    price_min: float | None = None
    price_max: float | None = None
    availability: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.categories or self.brands or self.availability) and self.price_min is None \
            and self.price_max is None


@dataclass(frozen=True)
class SearchRequest:
    query: str
    filters: Filters = field(default_factory=Filters)
    page: int = 1
    size: int = 10
    user_id: str | None = None
    session_id: str | None = None
    debug: bool = False
    config: str | None = None  # a named retrieval configuration; None means the default

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def _string_list(payload: dict, name: str) -> tuple[str, ...]:
    value = payload.get(name)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidRequest(f"filters.{name}", "must be a string or a list of non-empty strings")
    return tuple(value)


def _number(payload: dict, name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidRequest(f"filters.{name}", "must be a non-negative number")
    return float(value)


def _integer(payload: dict, name: str, default: int, low: int, high: int) -> int:
    value = payload.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(name, f"must be an integer from {low} to {high}")
    return value


def _optional_id(payload: dict, name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise InvalidRequest(name, "must be a non-empty string of at most 200 characters")
    return value.strip()


def parse_search_request(payload: object, known_configs: tuple[str, ...] = ()) -> SearchRequest:
    if not isinstance(payload, dict):
        raise InvalidRequest("body", "must be a JSON object")
    unknown = set(payload) - {"query", "filters", "page", "size", "user_id", "session_id", "debug", "config"}
    if unknown:
        raise InvalidRequest(sorted(unknown)[0], "unknown field")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("query", "must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest("query", f"must be at most {MAX_QUERY_CHARS} characters")
    raw_filters = payload.get("filters") or {}
    if not isinstance(raw_filters, dict):
        raise InvalidRequest("filters", "must be an object")
    unknown_filters = set(raw_filters) - {"category", "brand", "price_min", "price_max", "availability"}
    if unknown_filters:
        raise InvalidRequest(f"filters.{sorted(unknown_filters)[0]}", "unknown filter")
    filters = Filters(
        categories=_string_list(raw_filters, "category"),
        brands=_string_list(raw_filters, "brand"),
        price_min=_number(raw_filters, "price_min"),
        price_max=_number(raw_filters, "price_max"),
        availability=_string_list(raw_filters, "availability"),
    )
    if filters.price_min is not None and filters.price_max is not None and filters.price_min > filters.price_max:
        raise InvalidRequest("filters.price_min", "must not exceed filters.price_max")
    size = _integer(payload, "size", 10, 1, MAX_PAGE_SIZE)
    page = _integer(payload, "page", 1, 1, MAX_RESULT_WINDOW)
    if page * size > MAX_RESULT_WINDOW:
        raise InvalidRequest("page", f"page * size must not exceed {MAX_RESULT_WINDOW}")
    debug = payload.get("debug", False)
    if not isinstance(debug, bool):
        raise InvalidRequest("debug", "must be true or false")
    config = payload.get("config")
    if config is not None and (not isinstance(config, str) or (known_configs and config not in known_configs)):
        raise InvalidRequest("config", f"must be one of {', '.join(known_configs)}")
    return SearchRequest(query=" ".join(query.split()), filters=filters, page=page, size=size,
                         user_id=_optional_id(payload, "user_id"), session_id=_optional_id(payload, "session_id"),
                         debug=debug, config=config)
