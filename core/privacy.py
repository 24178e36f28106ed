"""Pseudonymous user ids: a keyed hash, so stored events cannot be joined back to a person
without the key, while the same shopper still maps to the same id."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(user_id: str, key: str) -> str:
    return hmac.new(key.encode(), user_id.encode(), hashlib.sha256).hexdigest()[:32]
