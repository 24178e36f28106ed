from pathlib import Path

import pytest

from core.settings import Settings


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELFRANK_OPENSEARCH_URL", "http://127.0.0.1:9333/")
    monkeypatch.setenv("SHELFRANK_DATABASE_URL", "postgresql+psycopg://u@localhost/shop")
    settings = Settings()
    assert settings.opensearch_url == "http://127.0.0.1:9333"
    assert settings.effective_database_url == "postgresql+psycopg://u@localhost/shop"


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHELFRANK_BROKER_URL", raising=False)
    (tmp_path / ".env").write_text("SHELFRANK_BROKER_URL=redis://127.0.0.1:6390/1\n")
    assert Settings().broker_url == "redis://127.0.0.1:6390/1"


def test_default_database_is_sqlite_in_the_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHELFRANK_DATABASE_URL", raising=False)
    monkeypatch.setenv("SHELFRANK_STATE_DIR", str(tmp_path))
    assert Settings().effective_database_url == f"sqlite:///{tmp_path}/shelfrank.db"
