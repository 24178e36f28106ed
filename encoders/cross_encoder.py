"""A cross-encoder: reads a query and a product text together and scores how well one answers the other.

The sentence encoder embeds query and product apart, which is what makes k-NN search possible,
but it never sees how the words of the two relate ("1/2 in." in the query against "3/4 in." in the
title). A cross-encoder attends across both, so it ranks far better, at one forward pass per
(query, candidate): the search path uses it only as an optional last stage over the top few
candidates. Weights are local: a folder trained by :mod:`encoders.cross_finetune` from the bundled
MiniLM (the same Hugging Face layout with a one-logit classification head).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from encoders.bert import pick_device
from encoders.identity import weights_digest


#: What training records beside the weights (its log, and the blend weight chosen on validation queries).
METADATA = "shelfrank_cross_encoder.json"


class CrossEncoderError(ValueError):
    """The folder is not a cross-encoder this project can load; the message names the folder."""


class CrossEncoder:
    """Scores (query, text) pairs; higher is more relevant. Scores compare within one query only."""

    def __init__(self, model_path: Path, max_length: int = 64, device: str | None = None,
                 cpu_threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        if not (self.model_path / "config.json").is_file():
            raise CrossEncoderError(f"{self.model_path} is not a Hugging Face model folder (no config.json); "
                                    "train one with `shelfrank encoder train-cross`")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.device = pick_device(device)
        if cpu_threads and self.device.type == "cpu":
            torch.set_num_threads(cpu_threads)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        model = AutoModelForSequenceClassification.from_pretrained(self.model_path, local_files_only=True)
        if model.config.num_labels != 1:
            raise CrossEncoderError(f"{self.model_path} has {model.config.num_labels} output labels; a cross-encoder "
                                    "scores with exactly one")
        if self.device.type == "cuda":
            model = model.half()
        self.model = model.to(self.device).eval()
        self.max_length = max_length
        self.weights_sha256 = weights_digest(self.model_path)
        metadata = self.model_path / METADATA
        self.metadata: dict = json.loads(metadata.read_text()) if metadata.is_file() else {}

    @property
    def name(self) -> str:
        return f"{self.model_path.name}@{self.weights_sha256[:12]}"

    def score(self, query: str, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One relevance logit per text, in the order given (float32)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                chunk = list(texts[start:start + batch_size])
                batch = self.tokenizer([query] * len(chunk), chunk, truncation=True, max_length=self.max_length,
                                       padding=True, return_tensors="pt").to(self.device)
                scores.append(self.model(**batch).logits[:, 0].float().cpu().numpy())
        return np.concatenate(scores)
