"""The packages' imports point down only (README, "Layout"): a module may import its own package and the
layers below it, never a layer above or a face beside it. Checked on the source (every import statement,
function-level ones included), so a lazy import cannot hide an upward dependency."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Bottom to top. The faces (HTTP API, Celery tasks, console) share a layer and do not import each other;
#: the CLI is the composition root that starts them.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("encoders",),
    ("indexer",),
    ("storefront",),
    ("evaluation",),
    ("ltr",),
    ("api", "workers", "admin"),
    ("cli",),
)
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def imported_packages(path: Path) -> set[str]:
    """The project's top-level packages that one module imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in LEVEL)
    return found


def upward_imports() -> list[str]:
    problems = []
    for package, level in LEVEL.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            for imported in imported_packages(path):
                if imported != package and LEVEL[imported] >= level:
                    problems.append(f"{path.relative_to(ROOT)} imports {imported} (layer {LEVEL[imported]} >= {level})")
    return problems


def test_every_package_is_in_a_layer() -> None:
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file()} - {"tests"}
    assert packages == set(LEVEL), f"packages without a layer: {packages - set(LEVEL)}; gone: {set(LEVEL) - packages}"


def test_imports_point_down_only() -> None:
    assert upward_imports() == []


def test_the_check_sees_a_lazy_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from ltr.registry import active_model\n    import storefront.service as s\n")
    assert imported_packages(module) == {"ltr", "storefront"}
