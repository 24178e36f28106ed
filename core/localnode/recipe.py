"""The pinned recipe of the local OpenSearch node: what to fetch from Maven Central.

OpenSearch ships no Debian package and no Docker engine runs on development and CI
machines, so the node is assembled from Maven Central artifacts: the minimal
``integ-test-zip`` distribution (core + transport only), the core modules we rely on
(published only as plain jars, so we build their module folders ourselves: painless, analysis-common,
mapper-extras, mustache for stored search templates) and the
k-NN, neural-search and Learning-to-Rank plugin zips, every one required. Production runs the official
OpenSearch image of the same version instead (see docker-compose.yml).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

OPENSEARCH_VERSION = "2.19.1"


@dataclass(frozen=True)
class ModuleSpec:
    """A core module rebuilt from its Maven jar: a folder with jars and a descriptor."""

    name: str
    artifact: str  # groupId:artifactId (version is the OpenSearch version)
    classname: str
    extended_plugins: tuple[str, ...] = ()
    # Java permissions the module needs beyond the defaults (lang-painless compiles scripts
    # into classes, so it must create class loaders).
    runtime_permissions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PluginSpec:
    """A plugin zip installed with the distribution's own ``opensearch-plugin`` tool."""

    name: str  # the name the node reports in _cat/plugins
    coordinate: str  # groupId:artifactId:version:zip
    # Fetched in a Maven run of its own, so that a mirror lacking it does not fail the others;
    # when Maven cannot supply it, SHELFRANK_OPENSEARCH_ARTIFACTS_DIR must (the node needs every plugin).
    mirrors_may_lack: bool = False

    @property
    def file_name(self) -> str:
        _group, artifact, version, _packaging = self.coordinate.split(":")
        return f"{artifact}-{version}.zip"


@dataclass(frozen=True)
class NodeRecipe:
    version: str
    distribution: str
    # Modules in dependency order: a module's extended plugins come before it.
    modules: tuple[ModuleSpec, ...] = field(default_factory=tuple)
    plugins: tuple[PluginSpec, ...] = field(default_factory=tuple)

    @property
    def fingerprint(self) -> str:
        """Changes whenever anything that ends up in the assembled node changes."""
        payload = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]


def default_recipe() -> NodeRecipe:
    v = OPENSEARCH_VERSION
    return NodeRecipe(
        version=v,
        distribution=f"org.opensearch.distribution.integ-test-zip:opensearch:{v}:zip",
        modules=(
            ModuleSpec(
                name="lang-painless",
                artifact="org.opensearch.plugin:lang-painless",
                classname="org.opensearch.painless.PainlessPlugin",
                runtime_permissions=("createClassLoader", "getClassLoader"),
            ),
            ModuleSpec(
                name="analysis-common",
                artifact="org.opensearch.plugin:analysis-common",
                classname="org.opensearch.analysis.common.CommonAnalysisPlugin",
                extended_plugins=("lang-painless",),
            ),
            ModuleSpec(
                name="mapper-extras",
                artifact="org.opensearch.plugin:mapper-extras-client",
                classname="org.opensearch.index.mapper.MapperExtrasPlugin",
            ),
            # Stored search templates (`shelfrank-search`, for storefronts that call OpenSearch directly).
            ModuleSpec(
                name="lang-mustache",
                artifact="org.opensearch.plugin:lang-mustache-client",
                classname="org.opensearch.script.mustache.MustachePlugin",
                runtime_permissions=("accessDeclaredMembers",),
            ),
        ),
        plugins=(
            PluginSpec("opensearch-knn", f"org.opensearch.plugin:opensearch-knn:{v}.0:zip"),
            PluginSpec("opensearch-neural-search", f"org.opensearch.plugin:neural-search:{v}.0:zip"),
            # Learning to Rank publishes under org.opensearch:ltr (not org.opensearch.plugin).
            # Some Maven Central mirrors lack it; SHELFRANK_OPENSEARCH_ARTIFACTS_DIR then supplies
            # the zip from a folder.
            PluginSpec("opensearch-ltr", f"org.opensearch:ltr:{v}.0:zip", mirrors_may_lack=True),
        ),
    )
