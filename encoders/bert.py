"""BERT-family sentence encoder on plain ``transformers`` + ``torch``.

Mean pooling over the attention mask, then L2 normalisation: the recipe
all-MiniLM-L6-v2 was trained with. All texts are tokenised in one call (the fast
tokenizer parallelises it) and sorted by length, so each batch pads only to its own
longest text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

from encoders.identity import ModelIdentity, bundled_model_path, model_name, weights_digest


def pick_device(requested: str | None = None) -> torch.device:
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class BertEncoder:
    """A local Hugging-Face-format BERT folder turned into a :class:`TextEncoder`."""

    pooling = "mean"

    def __init__(self, model_path: Path | None = None, max_length: int = 256, device: str | None = None,
                 cpu_threads: int | None = None, name: str | None = None) -> None:
        self.model_path = Path(model_path) if model_path else bundled_model_path()
        if not (self.model_path / "config.json").is_file():
            raise FileNotFoundError(f"{self.model_path} is not a Hugging Face model folder (no config.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub, whatever the folder says
        self.device = pick_device(device)
        if cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(cpu_threads)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        model = AutoModel.from_pretrained(self.model_path, local_files_only=True)
        if self.device.type == "cuda":
            model = model.half()
        self.model = model.to(self.device).eval()
        self.max_length = max_length
        self.identity = ModelIdentity(
            name=name or model_name(self.model_path),
            weights_sha256=weights_digest(self.model_path),
            pooling=self.pooling,
            dimension=int(self.model.config.hidden_size),
        )

    @property
    def dimension(self) -> int:
        return self.identity.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                                 add_special_tokens=True, return_attention_mask=False)["input_ids"]
        order = np.argsort([-len(ids) for ids in encoded], kind="stable")
        bar = tqdm(total=len(texts), desc="encoding", unit="text", disable=not progress)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self._encode_batch([encoded[i] for i in rows])
                bar.update(len(rows))
        bar.close()
        return out

    def _encode_batch(self, ids: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in ids)
        input_ids = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, seq in enumerate(ids):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return mean_pool_normalise(hidden.float(), mask).cpu().numpy()


def mean_pool_normalise(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors the attention mask keeps, then scale each row to unit length."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    counts = weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(summed / counts, p=2, dim=1)
