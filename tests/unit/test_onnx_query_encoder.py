"""The storefront's ONNX Runtime query encoder gives the torch encoder's vectors (the bundled model, for real)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.settings import Settings, get_settings
from encoders.factory import load_encoder, load_query_encoder, prepare_query_encoder
from encoders.onnx_encoder import OnnxEncoder, onnx_path

QUERIES = ["angle bracket", "deck over", "1/2 inch pvc elbow", "Café façade LED — 60W équivalent", "", "x",
           "DEWALT 20V MAX cordless drill/driver kit with 2 batteries " * 40,  # past max_length: truncated alike
           "   spaced   out   ", "1 1/4 in. x 12 ft. copper pipe type l", "😀 emoji lamp"]


@pytest.fixture(scope="module")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="module")
def onnx_encoder(settings: Settings) -> OnnxEncoder:
    encoder = load_query_encoder(settings)
    assert isinstance(encoder, OnnxEncoder)  # the default runtime
    return encoder


def test_vectors_match_torch_within_1e6_cosine_alone_and_in_padded_batches(settings: Settings,
                                                                          onnx_encoder: OnnxEncoder) -> None:
    reference = load_encoder(settings).encode(QUERIES)
    alone = np.stack([onnx_encoder.encode([q])[0] for q in QUERIES])
    batched = onnx_encoder.encode(QUERIES, batch_size=4)
    for vectors in (alone, batched):
        cosine = np.sum(vectors * reference, axis=1)
        assert np.all(cosine > 1 - 1e-6), cosine
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx_encoder.identity == load_encoder(settings).identity  # the index's vectors stay valid


def test_the_export_is_cached_per_weights(settings: Settings, tmp_path: Path) -> None:
    fresh = settings.model_copy(update={"cache_dir": tmp_path})
    target = prepare_query_encoder(fresh)
    assert target == onnx_path(tmp_path, load_encoder(settings).model_path) and target.stat().st_size > 10**7
    assert prepare_query_encoder(fresh) == target  # second call: from the cache
    assert prepare_query_encoder(fresh.model_copy(update={"query_encoder_runtime": "torch"})) is None
