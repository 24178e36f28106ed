"""The storefront's query encoder follows the live index's model: switches in the background, keeps serving
the old model while loading, when no folder has the new one, when loading fails or when the node does not
answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from encoders.cache import QueryVectorCache
from encoders.identity import ModelIdentity
from storefront import live_encoder
from storefront.live_encoder import LiveQueryEncoder

STOCK = ModelIdentity("all-MiniLM-L6-v2", "a" * 64, "mean", 3)
TUNED = ModelIdentity("minilm-shop", "b" * 64, "mean", 3)


class FixedEncoder:
    """Encodes every text as one vector that says which model it is."""

    def __init__(self, identity: ModelIdentity, value: float, closed: list | None = None) -> None:  # type: ignore[type-arg]
        self.identity, self.value, self.closed = identity, value, closed

    def close(self) -> None:
        if self.closed is not None:
            self.closed.append(self.identity)

    @property
    def dimension(self) -> int:
        return 3

    def encode(self, texts, batch_size: int = 64, progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        return np.full((len(texts), 3), self.value, dtype=np.float32)


class Shop:
    """The live index's model, the folders on disk, and what loading them gives."""

    def __init__(self) -> None:
        self.live: ModelIdentity | None = STOCK
        self.folders = {TUNED: Path("/encoders/minilm-shop")}
        self.loads: list[Path] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = False
        self.loaded_identity = TUNED
        self.reads = 0
        self.closed: list[ModelIdentity] = []

    def live_model(self) -> ModelIdentity | None:
        self.reads += 1
        if isinstance(self.live, Exception):
            raise self.live
        return self.live

    def load(self, folder: Path) -> QueryVectorCache:
        self.gate.wait(5)
        self.loads.append(folder)
        if self.fail:
            raise OSError("weights unreadable")
        return QueryVectorCache(FixedEncoder(self.loaded_identity, 2.0))  # type: ignore[arg-type]

    def encoder(self, refresh_s: float = 0.0) -> LiveQueryEncoder:
        return LiveQueryEncoder(QueryVectorCache(FixedEncoder(STOCK, 1.0, self.closed)), self.live_model,  # type: ignore[arg-type]
                                self.folders.get, self.load, refresh_s)


def test_a_new_live_model_is_loaded_in_the_background_and_then_serves(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(live_encoder, "RETIRE_AFTER_S", 0.0)
    shop = Shop()
    encoder = shop.encoder()
    assert encoder.vector("drill")[0] == 1.0 and shop.loads == []  # same model: nothing to do
    shop.live, shop.gate = TUNED, threading.Event()
    assert encoder.vector("drill")[0] == 1.0  # the load waits: this search is not held up
    shop.gate.set()
    encoder.wait(5)
    assert encoder.identity == TUNED and encoder.vector("drill")[0] == 2.0
    assert shop.loads == [Path("/encoders/minilm-shop")]
    deadline = time.monotonic() + 5
    while not shop.closed and time.monotonic() < deadline:  # the replaced encoder is closed after its grace
        time.sleep(0.01)
    assert shop.closed == [STOCK]
    encoder.vector("drill")
    encoder.wait(5)
    assert len(shop.loads) == 1  # loaded once


def test_the_live_model_is_read_at_most_every_refresh_interval(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = [1000.0]
    monkeypatch.setattr(live_encoder.time, "monotonic", lambda: clock[0])
    shop = Shop()
    encoder = shop.encoder(refresh_s=30)
    shop.live = TUNED
    for _ in range(5):
        encoder.vector("drill")
        encoder.wait(5)
    assert shop.reads == 0 and encoder.identity == STOCK  # its builder has just read it
    clock[0] += 31
    for _ in range(5):
        encoder.vector("drill")
        encoder.wait(5)
    assert shop.reads == 2 and encoder.identity == TUNED  # read, loaded, read again before switching


def test_a_load_the_alias_moved_away_from_meanwhile_is_not_served() -> None:
    shop = Shop()
    shop.live, shop.gate = TUNED, threading.Event()
    encoder = shop.encoder()
    encoder.vector("drill")
    shop.live = STOCK  # a quick rollback while the fine-tuned model loads
    shop.gate.set()
    encoder.wait(5)
    assert shop.loads == [Path("/encoders/minilm-shop")] and encoder.identity == STOCK
    assert encoder.vector("drill")[0] == 1.0


@pytest.mark.parametrize("problem", ["no folder", "load fails", "other weights", "node down", "no record"])
def test_the_old_model_keeps_serving_when_the_new_one_cannot_be_had(problem: str, caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shop = Shop()
    shop.live = TUNED
    if problem == "no folder":
        shop.folders = {}
    elif problem == "load fails":
        shop.fail = True
    elif problem == "other weights":
        shop.loaded_identity = ModelIdentity("minilm-shop", "c" * 64, "mean", 3)
    elif problem == "node down":
        shop.live = ConnectionError("node down")  # type: ignore[assignment]
    else:
        shop.live = None
    encoder = shop.encoder()
    with caplog.at_level("INFO"):
        assert encoder.vector("drill")[0] == 1.0
        encoder.wait(5)
        assert encoder.identity == STOCK and encoder.vector("lamp")[0] == 1.0
        encoder.wait(5)
    if problem in ("no folder", "load fails", "other weights"):
        assert TUNED.key in caplog.text
        # not looked for again on every search
        assert len(shop.loads) <= 1
        shop.folders[TUNED], shop.fail, shop.loaded_identity = Path("/encoders/minilm-shop"), False, TUNED
        encoder.vector("drill")
        encoder.wait(5)
        assert encoder.identity == STOCK
        monkeypatch.setattr(live_encoder, "RETRY_MISSING_S", 0.0)  # later (the folder was copied in): found
        encoder.vector("drill")
        encoder.wait(5)
        assert encoder.identity == TUNED
    elif problem == "node down":
        assert "could not read the live index's model" in caplog.text
    else:
        assert shop.reads >= 1 and shop.loads == []
