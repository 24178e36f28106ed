from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

from core.localnode.maven import Downloads, write_fetch_project
from core.localnode.recipe import default_recipe

NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def test_fingerprint_is_stable_and_tracks_changes() -> None:
    recipe = default_recipe()
    assert recipe.fingerprint == default_recipe().fingerprint
    assert replace(recipe, version="2.19.2").fingerprint != recipe.fingerprint


def test_every_artifact_is_pinned_to_one_opensearch_version() -> None:
    recipe = default_recipe()
    assert recipe.distribution.endswith(f":{recipe.version}:zip")
    for plugin in recipe.plugins:
        assert plugin.coordinate.split(":")[2] == f"{recipe.version}.0"
    assert {p.name for p in recipe.plugins} >= {"opensearch-knn", "opensearch-ltr"}


def test_fetch_project_lists_distribution_modules_and_required_plugins(tmp_path: Path) -> None:
    recipe = default_recipe()
    downloads = Downloads(tmp_path / "downloads")
    required = [p for p in recipe.plugins if not p.mirrors_may_lack]
    write_fetch_project(recipe, downloads, required, tmp_path)

    root = ElementTree.parse(tmp_path / "pom.xml").getroot()
    modules = [m.text for m in root.findall("m:modules/m:module", NS)]
    assert modules == ["zips"] + [m.name for m in recipe.modules]

    zips = ElementTree.parse(tmp_path / "zips" / "pom.xml").getroot()
    artifacts = {d.findtext("m:artifactId", namespaces=NS) for d in zips.findall("m:dependencies/m:dependency", NS)}
    assert artifacts == {"opensearch", "opensearch-knn", "neural-search"}
    assert zips.findtext(".//m:excludeTransitive", namespaces=NS) == "true"
    assert zips.findtext(".//m:outputDirectory", namespaces=NS) == str(downloads.zips)

    painless = ElementTree.parse(tmp_path / "lang-painless" / "pom.xml").getroot()
    assert painless.findtext("m:dependencies/m:dependency/m:version", namespaces=NS) == recipe.version
    assert painless.findtext(".//m:excludeTransitive", namespaces=NS) == "false"
