"""Build the configured encoder (with its persistent cache) from settings."""

from __future__ import annotations

from functools import lru_cache

from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import CachedEncoder, EmbeddingCache


@lru_cache(maxsize=4)
def _bert(model_path: str | None, max_length: int, device: str | None, threads: int | None) -> BertEncoder:
    from pathlib import Path

    return BertEncoder(Path(model_path) if model_path else None, max_length=max_length, device=device,
                       cpu_threads=threads)


def load_encoder(settings: Settings) -> BertEncoder:
    """The configured BERT encoder, loaded once per process."""
    return _bert(str(settings.model_path) if settings.model_path else None, settings.encoder_max_length,
                 settings.encoder_device, settings.encoder_cpu_threads)


def load_cached_encoder(settings: Settings) -> CachedEncoder:
    return CachedEncoder(load_encoder(settings), EmbeddingCache(settings.cache_dir / "embeddings.sqlite"))
