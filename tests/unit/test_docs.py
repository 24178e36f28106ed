"""What the README shows stays true to its sources: the architecture picture to docs/architecture.dot, the
configuration table to the settings object."""

from __future__ import annotations

import html
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_architecture_svg_shows_every_box_of_its_source() -> None:
    source = (ROOT / "docs" / "architecture.dot").read_text()
    svg = html.unescape((ROOT / "docs" / "images" / "architecture.svg").read_text())  # Graphviz writes - as &#45;
    wanted = {line for label in re.findall(r'\blabel="([^"]+)"', source) for line in label.split("\\n") if line}
    shown = {text.strip() for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg)}
    assert len(wanted) > 20
    assert wanted == shown, ("docs/images/architecture.svg differs from its source; run `make diagram` "
                             f"(only in the source: {sorted(wanted - shown)}; only in the picture: {sorted(shown - wanted)})")
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
