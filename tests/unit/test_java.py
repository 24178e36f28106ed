from pathlib import Path

import pytest

from core.localnode.errors import NodeError
from core.localnode.java import find_java_home, jdk_major


def fake_jdk(root: Path, version: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("")
    (root / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return root


def test_jdk_major_reads_release_file(tmp_path: Path) -> None:
    assert jdk_major(fake_jdk(tmp_path / "a", "17.0.15")) == 17
    assert jdk_major(fake_jdk(tmp_path / "b", "1.8.0_392")) == 8
    assert jdk_major(fake_jdk(tmp_path / "c", "25")) == 25
    assert jdk_major(tmp_path / "missing") is None


def test_configured_jdk_25_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="security manager"):
        find_java_home(fake_jdk(tmp_path / "jdk25", "25.0.1"))


def test_configured_supported_jdk_is_used(tmp_path: Path) -> None:
    jdk = fake_jdk(tmp_path / "jdk21", "21.0.4")
    assert find_java_home(jdk) == jdk
