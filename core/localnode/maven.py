"""Fetch the recipe's artifacts from Maven Central with ``mvn``, once.

One throw-away aggregator POM resolves everything in a single Maven run: a module per
core module (its jar plus runtime dependencies, via ``copy-dependencies``) and one for
the zips (distribution and plugins, without their transitive POM dependencies).
Maven's own local repository lives under the Shelfrank cache so that everything this
project downloads sits in one folder a CI cache can keep.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from core.localnode.errors import NodeError
from core.localnode.recipe import NodeRecipe, PluginSpec


@dataclass(frozen=True)
class Downloads:
    """Where a recipe's artifacts landed; complete once ``marker`` exists."""

    root: Path

    @property
    def marker(self) -> Path:
        return self.root / ".complete"

    @property
    def zips(self) -> Path:
        return self.root / "zips"

    def module_dir(self, module_name: str) -> Path:
        return self.root / "modules" / module_name

    def distribution_zip(self, recipe: NodeRecipe) -> Path:
        return self.zips / _zip_file_name(recipe.distribution)

    def plugin_zip(self, plugin: PluginSpec) -> Path:
        return self.zips / plugin.file_name


def _zip_file_name(coordinate: str) -> str:
    _group, artifact, version, _packaging = coordinate.split(":")
    return f"{artifact}-{version}.zip"



def _dependency_xml(group: str, artifact: str, version: str, packaging: str = "jar") -> str:
    return (
        "<dependency>"
        f"<groupId>{escape(group)}</groupId><artifactId>{escape(artifact)}</artifactId>"
        f"<version>{escape(version)}</version><type>{escape(packaging)}</type>"
        "</dependency>"
    )


def _pom(artifact_id: str, body: str, output_dir: Path | None = None, exclude_transitive: bool = False) -> str:
    plugin = ""
    if output_dir is not None:
        plugin = (
            "<build><plugins><plugin>"
            "<groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>"
            "<version>3.6.1</version><configuration>"
            f"<outputDirectory>{escape(str(output_dir))}</outputDirectory>"
            "<includeScope>runtime</includeScope>"
            f"<excludeTransitive>{str(exclude_transitive).lower()}</excludeTransitive>"
            "</configuration></plugin></plugins></build>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>local.shelfrank.fetch</groupId><artifactId>{artifact_id}</artifactId><version>1</version>"
        f"{body}{plugin}</project>"
    )


def write_fetch_project(recipe: NodeRecipe, downloads: Downloads, plugins: list[PluginSpec], workdir: Path) -> None:
    """Lay out the aggregator POM in ``workdir`` for the distribution, modules and ``plugins``."""
    required_zips = [recipe.distribution] + [p.coordinate for p in plugins]
    children: dict[str, str] = {}
    deps = "".join(_dependency_xml(*c.split(":")) for c in required_zips)
    children["zips"] = _pom("zips", f"<dependencies>{deps}</dependencies>", downloads.zips, True)
    for module in recipe.modules:
        group, artifact = module.artifact.split(":")
        dep = _dependency_xml(group, artifact, recipe.version)
        children[module.name] = _pom(
            f"module-{module.name}", f"<dependencies>{dep}</dependencies>", downloads.module_dir(module.name)
        )
    modules_xml = "".join(f"<module>{name}</module>" for name in children)
    (workdir / "pom.xml").write_text(_pom("aggregator", f"<packaging>pom</packaging><modules>{modules_xml}</modules>"))
    for name, pom in children.items():
        (workdir / name).mkdir()
        (workdir / name / "pom.xml").write_text(pom)


def _run_maven(command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise NodeError(
            f"'{command[0]}' (Maven) is needed to download {what} from Maven Central but was not found; "
            "install Maven or set SHELFRANK_MAVEN_COMMAND"
        ) from exc
    return result


def _maven_base(maven_command: str, local_repo: Path) -> list[str]:
    return [maven_command, "-B", "-ntp", "-q", f"-Dmaven.repo.local={local_repo}"]


def fetch_optional_zip(maven_command: str, local_repo: Path, coordinate: str, target_dir: Path) -> Path | None:
    """Download one zip; ``None`` when Maven Central (or its mirror) does not have it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    command = _maven_base(maven_command, local_repo) + [
        "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
        f"-Dartifact={coordinate}",
        f"-DoutputDirectory={target_dir}",
    ]
    result = _run_maven(command, coordinate)
    path = target_dir / _zip_file_name(coordinate)
    return path if result.returncode == 0 and path.exists() else None


def fetch(recipe: NodeRecipe, downloads: Downloads, maven_command: str, local_repo: Path) -> None:
    """Resolve the recipe's artifacts into ``downloads`` (no-op when already complete).

    Plugins that some mirrors lack are fetched one by one afterwards, and a missing one is
    not an error here: the caller looks for it in the artifacts folder next.
    """
    if downloads.marker.exists():
        return
    if downloads.root.exists():
        shutil.rmtree(downloads.root)  # an interrupted earlier fetch
    downloads.root.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="shelfrank-fetch-") as tmp:
        workdir = Path(tmp)
        required = [p for p in recipe.plugins if not p.mirrors_may_lack]
        write_fetch_project(recipe, downloads, required, workdir)
        command = _maven_base(maven_command, local_repo) + [
            "-f", str(workdir / "pom.xml"),
            "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies",
        ]
        result = _run_maven(command, f"OpenSearch {recipe.version}")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise NodeError(f"Maven could not fetch the OpenSearch {recipe.version} artifacts:\n{tail}")
    for plugin in recipe.plugins:
        if plugin.mirrors_may_lack:
            fetch_optional_zip(maven_command, local_repo, plugin.coordinate, downloads.zips)
    downloads.marker.write_text(recipe.fingerprint)
