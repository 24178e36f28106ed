"""Shop API keys for the events API and the other write endpoints: shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db.models import ApiKey, utcnow

KEY_PREFIX = "srk_"


@dataclass(frozen=True)
class IssuedKey:
    """The one moment the plain key exists outside the shop's sender: show it, then forget it."""

    record: ApiKey
    key: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, by: str) -> IssuedKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("name: must be 1-100 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(name=name, prefix=key[:12], key_hash=_digest(key), created_by=by)
    session.add(record)
    session.flush()
    return IssuedKey(record, key)


def revoke_key(session: Session, key_id: int, by: str) -> ApiKey:
    record = session.get(ApiKey, key_id)
    if record is None:
        raise LookupError(f"no API key with id {key_id}")
    if record.revoked_at is None:
        record.revoked_at, record.revoked_by = utcnow(), by
    return record


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def verify_key(session: Session, key: str) -> ApiKey | None:
    """The live key record matching ``key``, or None (unknown, malformed or revoked)."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    digest = _digest(key)
    record = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if record is None or record.revoked_at is not None or not hmac.compare_digest(record.key_hash, digest):
        return None
    return record
