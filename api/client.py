"""A small Python client for the storefront API (what a shop's backend or the simulator calls)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class SearchApiError(RuntimeError):
    """The API answered with an error status; the message is the API's own."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _post(url: str, payload: Any, timeout: float, api_key: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except (ValueError, AttributeError):
            message = str(exc.reason)
        raise SearchApiError(exc.code, message) from None


def search(base_url: str, query: str, *, filters: dict[str, Any] | None = None, page: int = 1, size: int = 10,
           user_id: str | None = None, session_id: str | None = None, debug: bool = False,
           config: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """``POST {base_url}/api/v1/search``; returns the response JSON or raises :class:`SearchApiError`."""
    payload: dict[str, Any] = {"query": query, "page": page, "size": size, "debug": debug}
    for key, value in (("filters", filters), ("user_id", user_id), ("session_id", session_id), ("config", config)):
        if value is not None:
            payload[key] = value
    return _post(base_url.rstrip("/") + "/api/v1/search", payload, timeout)


def send_events(base_url: str, events: list[dict[str, Any]], *, api_key: str | None = None,
                timeout: float = 30.0) -> dict[str, Any]:
    """``POST {base_url}/api/v1/events`` with the shop's API key; returns the ingestion report (accepted,
    duplicates, rejected...)."""
    return _post(base_url.rstrip("/") + "/api/v1/events", events, timeout, api_key)
