"""Console users: salted password hashes, roles that grow (viewer < tuner < admin), authentication."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.db.models import ConsoleUser, utcnow

ROLES = ("viewer", "tuner", "admin")
MIN_PASSWORD_CHARS = 12
_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")
#: Compared against when the user does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("shelfrank timing equaliser")


class AccountError(ValueError):
    """A user cannot be created or changed; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def role_allows(role: str, needed: str) -> bool:
    """Whether ``role`` has at least the rights of ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError("password", f"must be at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > 1000:
        raise AccountError("password", "must be at most 1000 characters")


def create_user(session: Session, username: str, password: str, role: str) -> ConsoleUser:
    username = username.strip()
    if not _USERNAME.match(username):
        raise AccountError("username", "1-100 letters, digits or . _ @ -")
    if role not in ROLES:
        raise AccountError("role", f"must be one of {', '.join(ROLES)}")
    validate_password(password)
    if find_user(session, username) is not None:
        raise AccountError("username", f"{username!r} already exists")
    user = ConsoleUser(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> ConsoleUser | None:
    return session.scalar(select(ConsoleUser).where(func.lower(ConsoleUser.username) == username.strip().lower()))


def authenticate(session: Session, username: str, password: str) -> ConsoleUser | None:
    """The enabled user with this password, or None (the same work is done either way)."""
    user = find_user(session, username) if username else None
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or user.disabled:
        return None
    user.last_login_at = utcnow()
    return user


def set_role(session: Session, user: ConsoleUser, role: str) -> None:
    if role not in ROLES:
        raise AccountError("role", f"must be one of {', '.join(ROLES)}")
    if user.role == "admin" and role != "admin":
        _keep_one_admin(session, user)
    user.role = role


def set_disabled(session: Session, user: ConsoleUser, disabled: bool) -> None:
    if disabled and user.role == "admin":
        _keep_one_admin(session, user)
    user.disabled = disabled


def set_password(user: ConsoleUser, password: str) -> None:
    validate_password(password)
    user.password_hash = generate_password_hash(password)


def list_users(session: Session) -> list[ConsoleUser]:
    return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))


def _keep_one_admin(session: Session, leaving: ConsoleUser) -> None:
    """Refuse the change that would leave the console without an enabled admin (nobody could fix it)."""
    others = session.scalar(select(func.count()).select_from(ConsoleUser).where(
        ConsoleUser.role == "admin", ConsoleUser.disabled.is_(False), ConsoleUser.id != leaving.id))
    if not others:
        raise AccountError("role", f"{leaving.username} is the last enabled admin")
