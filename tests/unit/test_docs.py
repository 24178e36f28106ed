"""The README's architecture picture is rendered from docs/architecture.dot: check it was re-rendered."""

from __future__ import annotations

import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_architecture_svg_shows_every_box_of_its_source() -> None:
    source = (ROOT / "docs" / "architecture.dot").read_text()
    svg = html.unescape((ROOT / "docs" / "images" / "architecture.svg").read_text())  # Graphviz writes - as &#45;
    labels = re.findall(r'\blabel="([^"]+)"', source)
    assert len(labels) > 20
    missing = []
    for label in labels:
        for line in label.split("\\n"):
            if line and line not in svg:
                missing.append(line)
    assert not missing, f"docs/images/architecture.svg is older than its source; run `make diagram` ({missing})"
    assert "architecture.svg" in (ROOT / "README.md").read_text()


def _documented(name: str, first_cells: list[str]) -> bool:
    """``SHELFRANK_NAME`` in a row's first cell, alone or in a group such as `SHELFRANK_X_A`, `_B`."""
    env = f"SHELFRANK_{name.upper()}"
    parts = name.upper().split("_")
    for cell in first_cells:
        if f"`{env}`" in cell:
            return True
        for cut in range(1, len(parts)):
            prefix, rest = "_".join(parts[:cut]), "_".join(parts[cut:])
            if f"`_{rest}`" in cell and f"`SHELFRANK_{prefix}_" in cell:
                return True
    return False


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    from core.settings import Settings

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("\n## ", readme.index("## Configuration") + 5)]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `SHELFRANK_")]
    missing = [name for name in Settings.model_fields if not _documented(name, first_cells)]
    assert not missing, f"settings missing from README's configuration table: {missing}"
