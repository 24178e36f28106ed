"""Where the node's plugin zips come from: Maven Central's download first, then the artifacts folder."""

from pathlib import Path

import pytest

from core.localnode import LocalNode
from core.localnode.errors import NodeError
from core.settings import Settings


def _node(tmp_path: Path, artifacts: Path | None) -> LocalNode:
    settings = Settings(cache_dir=tmp_path / "cache", state_dir=tmp_path / "state",
                        opensearch_dir=tmp_path / "node", opensearch_artifacts_dir=artifacts)
    return LocalNode(settings, progress=lambda _line: None)


def _ltr(node: LocalNode):  # type: ignore[no-untyped-def]
    (plugin,) = [p for p in node.recipe.plugins if p.name == "opensearch-ltr"]
    return plugin


def test_maven_download_wins_over_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    node = _node(tmp_path, folder)
    plugin = _ltr(node)
    (folder / plugin.file_name).write_bytes(b"from the folder")
    downloaded = node.downloads.plugin_zip(plugin)
    downloaded.parent.mkdir(parents=True)
    downloaded.write_bytes(b"from maven")
    assert node.plugin_zip(plugin).read_bytes() == b"from maven"


def test_folder_zip_is_kept_in_the_download_cache(tmp_path: Path) -> None:
    folder = tmp_path / "artifacts"
    folder.mkdir()
    plugin = _ltr(_node(tmp_path, folder))
    (folder / plugin.file_name).write_bytes(b"zip bytes")
    path = _node(tmp_path, folder).plugin_zip(plugin)
    assert path == _node(tmp_path, None).downloads.plugin_zip(plugin)
    assert path.read_bytes() == b"zip bytes"
    # A later start without the folder still finds it.
    assert _node(tmp_path, None).plugin_zip(plugin) == path


@pytest.mark.parametrize("with_folder", [False, True])
def test_a_plugin_nobody_supplies_names_both_routes(tmp_path: Path, with_folder: bool) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    node = _node(tmp_path, folder if with_folder else None)
    with pytest.raises(NodeError) as error:
        node.plugin_zip(_ltr(node))
    message = str(error.value)
    assert "org.opensearch:ltr:2.19.1.0:zip" in message and "Maven Central" in message
    assert "SHELFRANK_OPENSEARCH_ARTIFACTS_DIR" in message
    assert ("has no ltr-2.19.1.0.zip" in message) == with_folder
