"""Build the configured encoders from settings: the indexing encoder (with its persistent cache)
and the storefront's query encoder."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import Settings
from encoders.base import TextEncoder
from encoders.identity import bundled_model_path

if TYPE_CHECKING:
    from encoders.bert import BertEncoder
    from encoders.cache import CachedEncoder


@lru_cache(maxsize=4)
def _bert(model_path: str | None, max_length: int, device: str | None, threads: int | None) -> BertEncoder:
    from encoders.bert import BertEncoder

    return BertEncoder(Path(model_path) if model_path else None, max_length=max_length, device=device,
                       cpu_threads=threads)


def load_encoder(settings: Settings) -> BertEncoder:
    """The configured BERT encoder (torch), loaded once per process."""
    return _bert(str(settings.model_path) if settings.model_path else None, settings.encoder_max_length,
                 settings.encoder_device, settings.encoder_cpu_threads)


def load_cached_encoder(settings: Settings) -> CachedEncoder:
    from encoders.cache import CachedEncoder, EmbeddingCache

    return CachedEncoder(load_encoder(settings), EmbeddingCache(settings.cache_dir / "embeddings.sqlite"))


def _onnx_model(settings: Settings) -> tuple[Path, Path] | None:
    """(model folder, ONNX file) when queries are encoded by ONNX Runtime; None for torch (asked for, or a
    CUDA device, where torch is the faster runtime)."""
    if settings.query_encoder_runtime != "onnx" or (settings.encoder_device or "cpu").startswith("cuda"):
        return None
    from encoders.onnx_encoder import onnx_path

    model_path = settings.model_path or bundled_model_path()
    return model_path, onnx_path(settings.cache_dir, model_path)


def prepare_query_encoder(settings: Settings) -> Path | None:
    """Export the ONNX query model if the settings want one and it is not in the cache yet; its path.

    Run by the API server before it starts its workers, in a child process so that torch never
    loads (and never starts its thread pools) in the process the workers are forked from.
    """
    onnx = _onnx_model(settings)
    if onnx is None:
        return None
    model_path, target = onnx
    if target.is_file():
        return target
    import fcntl
    import multiprocessing

    from encoders.onnx_encoder import export_onnx

    target.parent.mkdir(parents=True, exist_ok=True)
    # One export per model: the API's processes that switch to a new model together wait for the first.
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            child = multiprocessing.get_context("spawn").Process(target=export_onnx, args=(model_path, target))
            child.start()
            child.join()
            if child.exitcode != 0 or not target.is_file():
                raise RuntimeError(f"exporting {model_path} to ONNX failed (exit code {child.exitcode}); "
                                   "set SHELFRANK_QUERY_ENCODER_RUNTIME=torch to serve without it")
    return target


def query_encoder_missing(settings: Settings) -> bool:
    """Whether the query path would have to export the configured model first (ONNX, not exported yet)."""
    onnx = _onnx_model(settings)
    return onnx is not None and not onnx[1].is_file()


@lru_cache(maxsize=4)
def _onnx(model_path: str, onnx_file: str, max_length: int, threads: int) -> TextEncoder:
    from encoders.onnx_encoder import OnnxEncoder

    return OnnxEncoder(Path(model_path), Path(onnx_file), max_length=max_length, threads=threads)


def load_query_encoder(settings: Settings) -> TextEncoder:
    """The storefront's query encoder, loaded once per process: ONNX Runtime on CPU (exported on first
    use) or torch, per ``query_encoder_runtime``; either gives the indexing encoder's vectors."""
    onnx = _onnx_model(settings)
    if onnx is None:
        threads = settings.encoder_cpu_threads or settings.query_encoder_threads
        return _bert(str(settings.model_path) if settings.model_path else None, settings.encoder_max_length,
                     settings.encoder_device, threads)
    model_path, target = onnx
    if not target.is_file():
        from encoders.onnx_encoder import export_onnx

        export_onnx(model_path, target)
    return _onnx(str(model_path), str(target), settings.encoder_max_length, settings.query_encoder_threads)
