"""Find a JDK that OpenSearch 2.19 runs on.

2.19 needs Java 11..23: JDK 24 removed the security manager the node relies on, so a
newer JDK that happens to be first on PATH must be skipped, not used.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from core.localnode.errors import NodeError

SUPPORTED_MAJORS = range(11, 24)
_PREFERRED = (21, 17, 11)


def jdk_major(home: Path) -> int | None:
    """Major version from the JDK's ``release`` file (``JAVA_VERSION="17.0.15"``)."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', text, re.MULTILINE)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def _candidates(configured: Path | None) -> list[Path]:
    found: list[Path] = []
    if configured:
        return [configured]
    for variable in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(variable):
            found.append(Path(os.environ[variable]))
    java = shutil.which("java")
    if java:
        found.append(Path(os.path.realpath(java)).parent.parent)
    jvm_root = Path("/usr/lib/jvm")
    if jvm_root.is_dir():
        found.extend(sorted(p for p in jvm_root.iterdir() if p.is_dir() and not p.is_symlink()))
    return found


def find_java_home(configured: Path | None = None) -> Path:
    """The best supported JDK: the configured one, else the newest preferred LTS found."""
    candidates = [(home, jdk_major(home)) for home in _candidates(configured)]
    supported = [(home, major) for home, major in candidates if major in SUPPORTED_MAJORS]
    if configured:
        if not supported:
            raise NodeError(
                f"SHELFRANK_JAVA_HOME={configured} is not a JDK 11..23 (OpenSearch 2.19 needs one; "
                "JDK 24+ removed the security manager it uses)"
            )
        return supported[0][0]
    for wanted in _PREFERRED:
        for home, major in supported:
            if major == wanted and (home / "bin" / "java").exists():
                return home
    for home, _major in supported:
        if (home / "bin" / "java").exists():
            return home
    seen = ", ".join(f"{h} (Java {m})" for h, m in candidates if m) or "none"
    raise NodeError(
        "no JDK 11..23 found for OpenSearch 2.19 (found: " + seen + "); install OpenJDK 17 "
        "(apt-get install openjdk-17-jdk-headless) or set SHELFRANK_JAVA_HOME"
    )
