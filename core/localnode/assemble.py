"""Turn downloaded artifacts into a runnable OpenSearch home directory.

The integ-test distribution carries only the transport module; the other core modules
are rebuilt from their Maven jars. A module folder must not repeat a jar that the
server already has in ``lib/`` (OpenSearch refuses to start on "jar hell"), so module
dependencies are filtered against ``lib/`` by artifact name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from core.localnode.errors import NodeError
from core.localnode.maven import Downloads
from core.localnode.recipe import ModuleSpec, NodeRecipe

_VERSIONED_JAR = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def jar_artifact_name(file_name: str) -> str:
    """``lucene-core-9.12.1.jar`` -> ``lucene-core``; unversioned names are returned whole."""
    match = _VERSIONED_JAR.match(file_name)
    return match.group("artifact") if match else file_name.removesuffix(".jar")


def module_jars(candidates: list[Path], lib_jars: set[str]) -> list[Path]:
    """The module's own jars: everything not already provided by the server's ``lib/``."""
    provided = {jar_artifact_name(name) for name in lib_jars}
    return [jar for jar in candidates if jar_artifact_name(jar.name) not in provided]


def descriptor_text(module: ModuleSpec, version: str) -> str:
    """``plugin-descriptor.properties``; OpenSearch rejects keys outside its fixed set."""
    lines = [
        f"name={module.name}",
        f"description={module.name} module rebuilt from Maven Central by Shelfrank",
        f"version={version}",
        f"classname={module.classname}",
        "java.version=11",
        f"opensearch.version={version}",
        f"extended.plugins={','.join(module.extended_plugins)}",
        "has.native.controller=false",
    ]
    return "\n".join(lines) + "\n"


def security_policy_text(module: ModuleSpec) -> str:
    grants = "".join(f'  permission java.lang.RuntimePermission "{p}";\n' for p in module.runtime_permissions)
    return f"grant {{\n{grants}}};\n"


def extract_zip(archive: Path, target: Path) -> None:
    """Unzip keeping Unix modes (``zipfile`` alone drops the executable bits of bin/)."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = zf.extract(info, target)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                os.chmod(path, mode & 0o7777)


def _install_module(home: Path, module: ModuleSpec, downloads: Downloads, version: str) -> None:
    lib_jars = {p.name for p in (home / "lib").glob("*.jar")}
    candidates = sorted(downloads.module_dir(module.name).glob("*.jar"))
    if not candidates:
        raise NodeError(f"no jars were downloaded for the {module.name} module")
    folder = home / "modules" / module.name
    folder.mkdir(parents=True)
    for jar in module_jars(candidates, lib_jars):
        shutil.copy2(jar, folder / jar.name)
    (folder / "plugin-descriptor.properties").write_text(descriptor_text(module, version))
    if module.runtime_permissions:
        (folder / "plugin-security.policy").write_text(security_policy_text(module))


def _install_plugin(home: Path, plugin_zip: Path, java_home: Path) -> None:
    env = {**os.environ, "JAVA_HOME": str(java_home), "OPENSEARCH_PATH_CONF": str(home / "config")}
    env.pop("OPENSEARCH_JAVA_OPTS", None)
    result = subprocess.run(
        [str(home / "bin" / "opensearch-plugin"), "install", "--batch", plugin_zip.resolve().as_uri()],
        capture_output=True, text=True, env=env, check=False,
    )
    if result.returncode != 0:
        raise NodeError(f"installing {plugin_zip.name} failed:\n{(result.stdout + result.stderr).strip()[-2000:]}")


def assemble(recipe: NodeRecipe, downloads: Downloads, plugin_zips: list[Path], target: Path, java_home: Path) -> Path:
    """Build the node home at ``target`` unless it is already complete; returns ``target``.

    Work happens in a sibling ``.partial`` folder renamed into place at the end, so an
    interrupted assembly never leaves a half-built node that looks finished.
    """
    marker = target / ".assembled"
    if marker.exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.mkdir(parents=True)
    staging = partial / "unzip"
    extract_zip(downloads.distribution_zip(recipe), staging)
    (inner,) = [p for p in staging.iterdir() if p.is_dir()]
    home = partial / "home"
    inner.rename(home)
    staging.rmdir()
    for module in recipe.modules:
        _install_module(home, module, downloads, recipe.version)
    for plugin_zip in plugin_zips:
        _install_plugin(home, plugin_zip, java_home)
    (home / ".assembled").write_text(recipe.fingerprint + "\n")
    home.rename(target)
    shutil.rmtree(partial)
    return target
