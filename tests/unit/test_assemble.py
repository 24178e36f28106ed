import os
import stat
import zipfile
from pathlib import Path

from core.localnode.assemble import descriptor_text, extract_zip, jar_artifact_name, module_jars, security_policy_text
from core.localnode.recipe import ModuleSpec, default_recipe

# The only keys OpenSearch 2.19 accepts in plugin-descriptor.properties.
ALLOWED_DESCRIPTOR_KEYS = {
    "name", "description", "version", "classname", "java.version", "opensearch.version",
    "custom.foldername", "extended.plugins", "has.native.controller",
}


def test_jar_artifact_name_strips_versions() -> None:
    assert jar_artifact_name("lucene-core-9.12.1.jar") == "lucene-core"
    assert jar_artifact_name("zstd-jni-1.5.5-5.jar") == "zstd-jni"
    assert jar_artifact_name("netty-codec-4.1.118.Final.jar") == "netty-codec"
    assert jar_artifact_name("opensearch-scripting-painless-spi-2.19.1.jar") == "opensearch-scripting-painless-spi"
    assert jar_artifact_name("plain.jar") == "plain"


def test_module_jars_drop_what_the_server_already_has() -> None:
    candidates = [Path(n) for n in ("lang-painless-2.19.1.jar", "asm-9.7.jar", "lucene-core-9.12.1.jar",
                                    "opensearch-2.19.1.jar", "jackson-core-2.18.1.jar")]
    lib = {"lucene-core-9.12.1.jar", "opensearch-2.19.1.jar", "jackson-core-2.18.2.jar"}
    kept = [p.name for p in module_jars(candidates, lib)]
    # A different version of a jar already in lib/ would still be jar hell: dropped too.
    assert kept == ["lang-painless-2.19.1.jar", "asm-9.7.jar"]


def test_descriptors_use_only_allowed_keys() -> None:
    recipe = default_recipe()
    for module in recipe.modules:
        lines = [line for line in descriptor_text(module, recipe.version).splitlines() if line]
        keys = {line.split("=", 1)[0] for line in lines}
        assert keys <= ALLOWED_DESCRIPTOR_KEYS
        assert f"opensearch.version={recipe.version}" in lines
        assert f"classname={module.classname}" in lines


def test_analysis_common_extends_painless_which_comes_first() -> None:
    names = [m.name for m in default_recipe().modules]
    analysis = next(m for m in default_recipe().modules if m.name == "analysis-common")
    assert "extended.plugins=lang-painless" in descriptor_text(analysis, "2.19.1")
    for module in default_recipe().modules:
        for parent in module.extended_plugins:
            assert names.index(parent) < names.index(module.name)


def test_security_policy_grants_class_loader_permissions() -> None:
    module = ModuleSpec("m", "g:a", "C", runtime_permissions=("createClassLoader", "getClassLoader"))
    text = security_policy_text(module)
    assert 'permission java.lang.RuntimePermission "createClassLoader";' in text
    assert 'permission java.lang.RuntimePermission "getClassLoader";' in text
    assert text.startswith("grant {") and text.rstrip().endswith("};")


def test_extract_zip_keeps_executable_bits(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("dist/bin/opensearch")
        info.external_attr = (stat.S_IFREG | 0o755) << 16
        zf.writestr(info, "#!/bin/sh\n")
        zf.writestr("dist/config/jvm.options", "-Xmx1g\n")
    extract_zip(archive, tmp_path / "out")
    assert os.access(tmp_path / "out/dist/bin/opensearch", os.X_OK)
    assert (tmp_path / "out/dist/config/jvm.options").read_text() == "-Xmx1g\n"
