"""The local folder that holds a given model, found by the identity an index records.

An index names the model its vectors came from (name and weights digest), not a path: paths differ
between the machine that rebuilt it and the API servers that query it. Every process that must encode
for an index (a storefront's queries, a catalogue sync's new products) looks the model up among the
folders it can see: the configured ``SHELFRANK_MODEL_PATH``, the bundled model, and each folder of the
shop's encoders directory. Names are compared first, so only a folder that could match is hashed, and
digests are remembered per (path, size, mtime): a lookup costs a directory listing once warm.
"""

from __future__ import annotations

import threading
from pathlib import Path

from encoders.identity import WEIGHT_FILES, ModelIdentity, bundled_model_path, model_name, weights_digest

_digests: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def _weights(folder: Path) -> Path | None:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def cached_digest(folder: Path) -> str:
    """:func:`weights_digest`, computed once per version of the weights file."""
    weights = _weights(folder)
    if weights is None:
        raise FileNotFoundError(f"no weights ({' or '.join(WEIGHT_FILES)}) in {folder}")
    stat = weights.stat()
    key = (str(weights.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _digests.get(key)
    if known is None:
        known = weights_digest(folder)
        with _lock:
            _digests[key] = known
    return known


def model_folders(configured: Path | None, encoders_dir: Path) -> list[Path]:
    """Where a model may be, in the order looked at: the configured one, the bundled one, then the
    encoders directory's folders that hold weights (sorted by name)."""
    folders: list[Path] = []
    if configured is not None:
        folders.append(configured)
    try:
        folders.append(bundled_model_path())
    except ImportError:  # a deployment without the bundled package has its own models
        pass
    if encoders_dir.is_dir():
        folders += sorted(f for f in encoders_dir.iterdir() if f.is_dir() and _weights(f) is not None)
    return folders


def find_model(identity: ModelIdentity, folders: list[Path]) -> Path | None:
    """The first folder whose model has ``identity``'s name and weights; None when none has."""
    for folder in folders:
        if _weights(folder) is None or model_name(folder) != identity.name:
            continue
        if cached_digest(folder) == identity.weights_sha256:
            return folder
    return None
