"""Finding the local folder of the model an index names: by name first, then by the weights' digest,
remembered per version of the weights file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from encoders import registry
from encoders.identity import ModelIdentity, bundled_model_path
from encoders.registry import find_model, model_folders


def model(folder: Path, weights: bytes) -> ModelIdentity:
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(weights)
    return ModelIdentity(folder.name, hashlib.sha256(weights).hexdigest(), "mean", 384)


def test_the_folder_with_the_same_name_and_weights_is_found(tmp_path: Path) -> None:
    encoders = tmp_path / "encoders"
    tuned = model(encoders / "minilm-shop", b"tuned weights")
    model(encoders / "minilm-other", b"tuned weights")  # same weights under another name: another model
    (encoders / "notes").mkdir()  # no weights: not a model
    folders = model_folders(None, encoders)
    assert folders[0] == bundled_model_path()
    assert folders[1:] == [encoders / "minilm-other", encoders / "minilm-shop"]
    assert find_model(tuned, folders) == encoders / "minilm-shop"
    retrained = ModelIdentity("minilm-shop", hashlib.sha256(b"newer weights").hexdigest(), "mean", 384)
    assert find_model(retrained, folders) is None
    assert model_folders(encoders / "minilm-other", tmp_path / "nowhere")[0] == encoders / "minilm-other"


def test_digests_are_remembered_until_the_weights_change(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "minilm-shop"
    first = model(folder, b"first")
    hashed: list[Path] = []
    real = registry.weights_digest
    monkeypatch.setattr(registry, "weights_digest", lambda f: hashed.append(f) or real(f))
    assert find_model(first, [folder]) == folder and find_model(first, [folder]) == folder
    assert len(hashed) == 1
    (folder / "model.safetensors").write_bytes(b"second")
    stat = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert find_model(first, [folder]) is None and len(hashed) == 2
