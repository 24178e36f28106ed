"""core.secrets: explicit settings win, production requires them, development generates them once."""

from __future__ import annotations

import json
import multiprocessing
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import core.secrets
from core.secrets import MissingSecret, SecretsFileError, pseudonym_key, session_secret
from core.settings import Settings


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for variable in ("SHELFRANK_PSEUDONYM_KEY", "SHELFRANK_SECRET_KEY", "SHELFRANK_ENVIRONMENT"):
        monkeypatch.delenv(variable, raising=False)
    core.secrets.clear_cache()
    yield
    core.secrets.clear_cache()


def make_settings(state_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"pseudonym_key": "", "secret_key": "", "environment": "development"}
    return Settings(state_dir=state_dir, _env_file=None, **(values | overrides))  # type: ignore[call-arg]


def file_of(state_dir: Path) -> Path:
    return state_dir / "secrets.json"


def write_secrets(path: Path, values: dict[str, str], mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(mode)


def test_development_generates_both_once_into_a_private_file(tmp_path: Path) -> None:
    state = tmp_path / "state"  # does not exist yet: created on first use
    key, secret = pseudonym_key(make_settings(state)), session_secret(make_settings(state))
    assert len(key) >= 40 and len(secret) >= 40 and key != secret
    path = file_of(state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"pseudonym_key": key, "secret_key": secret}
    assert list(state.glob("*.tmp")) == []  # no temporary left behind

    core.secrets.clear_cache()  # what a new process sees: read back from the file, not regenerated
    assert pseudonym_key(make_settings(state)) == key and session_secret(make_settings(state)) == secret


def test_another_state_dir_gets_other_values(tmp_path: Path) -> None:
    assert pseudonym_key(make_settings(tmp_path / "a")) != pseudonym_key(make_settings(tmp_path / "b"))


def test_values_are_cached_in_process(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    key = pseudonym_key(settings)
    file_of(tmp_path).unlink()  # a hot path does not go back to the file
    assert pseudonym_key(settings) == key and not file_of(tmp_path).exists()


def test_an_explicit_value_wins_over_the_file(tmp_path: Path) -> None:
    write_secrets(file_of(tmp_path), {"pseudonym_key": "from-file", "secret_key": "file-secret"})
    settings = make_settings(tmp_path, pseudonym_key="explicit-key", secret_key="explicit-secret")
    assert pseudonym_key(settings) == "explicit-key" and session_secret(settings) == "explicit-secret"
    assert pseudonym_key(make_settings(tmp_path)) == "from-file"  # and the file is used without one


def test_an_explicit_value_creates_no_file(tmp_path: Path) -> None:
    assert pseudonym_key(make_settings(tmp_path, pseudonym_key="explicit-key")) == "explicit-key"
    assert not file_of(tmp_path).exists()


def test_the_environment_variables_set_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELFRANK_ENVIRONMENT", "production")
    monkeypatch.setenv("SHELFRANK_PSEUDONYM_KEY", "env-key")
    monkeypatch.setenv("SHELFRANK_SECRET_KEY", "env-secret")
    settings = Settings(state_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert pseudonym_key(settings) == "env-key" and session_secret(settings) == "env-secret"


def test_production_without_a_value_names_the_variable(tmp_path: Path) -> None:
    write_secrets(file_of(tmp_path), {"pseudonym_key": "from-file", "secret_key": "file-secret"})
    settings = make_settings(tmp_path, environment="production")  # a development file is not used either
    with pytest.raises(MissingSecret, match="SHELFRANK_PSEUDONYM_KEY"):
        pseudonym_key(settings)
    with pytest.raises(MissingSecret, match="SHELFRANK_SECRET_KEY"):
        session_secret(settings)
    assert issubclass(MissingSecret, RuntimeError)


def test_production_generates_nothing(tmp_path: Path) -> None:
    with pytest.raises(MissingSecret):
        pseudonym_key(make_settings(tmp_path, environment="production"))
    assert not file_of(tmp_path).exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_file_other_users_can_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = file_of(tmp_path)
    write_secrets(path, {"pseudonym_key": "leaked", "secret_key": "leaked"}, mode)
    with pytest.raises(SecretsFileError) as refused:
        pseudonym_key(make_settings(tmp_path))
    assert f"chmod 600 {path}" in str(refused.value) and f"{mode:04o}" in str(refused.value)
    path.chmod(0o600)  # after the advised fix it is accepted
    assert pseudonym_key(make_settings(tmp_path)) == "leaked"


def test_a_missing_key_is_added_and_the_existing_one_kept(tmp_path: Path) -> None:
    path = file_of(tmp_path)
    write_secrets(path, {"pseudonym_key": "keep-me", "unrelated": "also kept"})
    secret = session_secret(make_settings(tmp_path))
    assert len(secret) >= 40
    assert json.loads(path.read_text()) == {"pseudonym_key": "keep-me", "unrelated": "also kept",
                                            "secret_key": secret}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pseudonym_key(make_settings(tmp_path)) == "keep-me"


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"pseudonym_key": ""}', '{"secret_key": 7}'])
def test_a_broken_file_is_reported_not_overwritten(tmp_path: Path, content: str) -> None:
    path = file_of(tmp_path)
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(SecretsFileError, match=str(path)):
        pseudonym_key(make_settings(tmp_path))
    assert path.read_text() == content


def test_a_creator_that_loses_the_race_uses_the_winners_file(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = file_of(tmp_path)
    real_read = core.secrets._read
    calls = 0

    def read_before_the_other_process_wrote(p: Path) -> dict[str, str] | None:
        nonlocal calls
        calls += 1
        if calls == 1:  # this process saw no file, then the other one published its own
            write_secrets(p, {"pseudonym_key": "winner", "secret_key": "winner-secret"})
            return None
        return real_read(p)

    monkeypatch.setattr(core.secrets, "_read", read_before_the_other_process_wrote)
    assert pseudonym_key(make_settings(tmp_path)) == "winner"
    assert json.loads(path.read_text()) == {"pseudonym_key": "winner", "secret_key": "winner-secret"}


def _resolve_in_a_process(state_dir: str, barrier: Any) -> tuple[str, str]:
    barrier.wait()  # all start at once
    settings = make_settings(Path(state_dir))
    secret = session_secret(settings)  # first: an upgrade adds this one, so it is the value at stake
    return pseudonym_key(settings), secret


def _race(state_dir: Path, processes: int = 4) -> set[tuple[str, str]]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(processes)
        with context.Pool(processes) as pool:
            return set(pool.starmap(_resolve_in_a_process, [(str(state_dir), barrier)] * processes))


def test_concurrent_creators_agree_on_one_value(tmp_path: Path) -> None:
    for attempt in range(3):
        state = tmp_path / str(attempt)
        results = _race(state)
        assert len(results) == 1
        ((key, secret),) = results
        assert json.loads(file_of(state).read_text()) == {"pseudonym_key": key, "secret_key": secret}


def test_concurrent_upgraders_agree_on_the_added_value(tmp_path: Path) -> None:
    write_secrets(file_of(tmp_path), {"pseudonym_key": "old"})
    results = _race(tmp_path)
    assert len(results) == 1
    ((key, secret),) = results
    assert key == "old" and json.loads(file_of(tmp_path).read_text())["secret_key"] == secret
    assert list(tmp_path.glob("*.tmp")) == []
