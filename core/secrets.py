"""The two secrets Shelfrank needs: the pseudonym key and the admin console's session secret.

A key in the source code would let anyone who reads it reverse stored pseudonyms (an HMAC of a small
id space is easily brute-forced with the key), so there is no built-in default. An explicit setting
(``SHELFRANK_PSEUDONYM_KEY``, ``SHELFRANK_SECRET_KEY``) always wins. In production it is required. In
development a random value is generated once into ``state_dir/secrets.json`` (mode 0600), so every
process on the machine (CLI, API workers, Celery) hashes the same shopper to the same pseudonym
without anyone having to configure anything.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from core.settings import Settings

SECRETS_FILE = "secrets.json"

# The settings field of each secret (also its key in secrets.json) and the variable that sets it.
ENV_VARIABLES: dict[str, str] = {
    "pseudonym_key": "SHELFRANK_PSEUDONYM_KEY",
    "secret_key": "SHELFRANK_SECRET_KEY",
}


class MissingSecret(RuntimeError):
    """A production deployment has no value for a secret: generating one per process would silently
    make pseudonyms or sessions differ between processes and restarts."""


class SecretsFileError(RuntimeError):
    """``secrets.json`` cannot be trusted or read (readable by others, not valid JSON)."""


def pseudonym_key(settings: Settings) -> str:
    """The HMAC key for shopper ids (core.privacy.pseudonymise)."""
    return _resolve(settings, "pseudonym_key", settings.pseudonym_key)


def session_secret(settings: Settings) -> str:
    """The key that signs admin console sessions (Flask's SECRET_KEY)."""
    return _resolve(settings, "secret_key", settings.secret_key)


def clear_cache() -> None:
    """Forget values read from secrets.json (tests; a process otherwise keeps what it read)."""
    _from_file.cache_clear()


def _resolve(settings: Settings, name: str, explicit: str) -> str:
    if explicit:
        return explicit
    if settings.environment == "production":
        raise MissingSecret(
            f"{ENV_VARIABLES[name]} must be set when SHELFRANK_ENVIRONMENT=production (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` and keep it stable: a new "
            "pseudonym key no longer matches stored user ids, a new secret key signs everyone out)"
        )
    return _from_file(Path(settings.state_dir))[name]


@lru_cache(maxsize=None)
def _from_file(state_dir: Path) -> dict[str, str]:
    """Cached so hot paths (one call per request) do not read the file each time."""
    return load_or_create(state_dir / SECRETS_FILE)


def load_or_create(path: Path) -> dict[str, str]:
    """All secrets from ``path``, creating the file, or adding the keys it lacks, as needed.

    Creation is lock-free and race-safe: the complete file is written under a unique temporary name
    and hard-linked into place, which fails if another process got there first; the loser then reads
    the winner's file, so concurrent first starts agree on one value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        values = _read(path)
        if values is None:
            generated = {name: secrets.token_urlsafe(32) for name in ENV_VARIABLES}
            if _publish(path, generated, replace=False):
                return generated
            continue  # another process created it meanwhile: use theirs
        if all(name in values for name in ENV_VARIABLES):
            return values
        upgraded = _add_missing(path)
        if upgraded is not None:
            return upgraded


def _add_missing(path: Path) -> dict[str, str] | None:
    """Add the secrets an older file lacks, keeping the values it has (they hash stored data).

    Under an exclusive lock with a re-read, so two processes upgrading the same file do not each
    add a different value; the atomic replace means lock-free readers see the old or the new file.
    None if the file was deleted meanwhile (the caller starts over).
    """
    with _locked(path.with_name(path.name + ".lock")):
        values = _read(path)
        if values is None:
            return None
        missing = {name: secrets.token_urlsafe(32) for name in ENV_VARIABLES if name not in values}
        if missing:
            values |= missing
            _publish(path, values, replace=True)
        return values


def _read(path: Path) -> dict[str, str] | None:
    """The file's secrets, or None if it does not exist; refuses a file other users can read."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, encoding="utf-8") as file:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise SecretsFileError(
                f"{path} is accessible to other users (mode {mode:04o}), so its secrets could leak; "
                f"restrict it with `chmod 600 {path}` (or set SHELFRANK_PSEUDONYM_KEY and "
                "SHELFRANK_SECRET_KEY instead)"
            )
        try:
            data = json.load(file)
        except json.JSONDecodeError as exc:
            raise SecretsFileError(f"{path} is not valid JSON ({exc}); fix it rather than delete it: "
                                   "a new pseudonym key no longer matches stored pseudonyms") from exc
    if not isinstance(data, dict):
        raise SecretsFileError(f"{path} must hold a JSON object of secrets")
    bad = [name for name in ENV_VARIABLES if name in data and not (isinstance(data[name], str) and data[name])]
    if bad:
        raise SecretsFileError(f"{path}: {', '.join(bad)} must be non-empty strings")
    return data


def _publish(path: Path, values: dict[str, str], *, replace: bool) -> bool:
    """Write ``values`` to ``path`` atomically with mode 0600; without ``replace``, only if ``path``
    does not exist yet (False when another process created it first)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(values, file, indent=2)
            file.write("\n")
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_dir(path.parent)
    return True


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose a key already used to hash data."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot fsync a directory
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
