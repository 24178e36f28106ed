"""The same sentence encoder on ONNX Runtime, for storefront queries on CPU.

A storefront query is a few words. For such short inputs torch's per-call overhead dominates:
all-MiniLM-L6-v2 takes ~9 ms per query in torch (1 thread) and ~3 ms in ONNX Runtime (1 thread),
with vectors equal to 1e-7 cosine, in a process a fifth the size (docs/measurements.md). So the
query path runs the model exported from the *local* weights (nothing is downloaded): exported
once per weights digest into the cache folder, then loaded by every server worker. The graph
includes the mean pooling and L2 normalisation, so its output is :class:`BertEncoder`'s vector.

Nothing here imports torch except :func:`export_onnx`, which runs once per model.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from encoders.identity import ModelIdentity, model_name, weights_digest

OPSET = 17


def onnx_path(cache_dir: Path, model_path: Path) -> Path:
    """Where the export of ``model_path`` lives: keyed by its weights, so a fine-tuned model gets its own."""
    return cache_dir / "onnx" / f"{model_name(model_path)}-{weights_digest(model_path)[:16]}-opset{OPSET}.onnx"


def export_onnx(model_path: Path, target: Path) -> Path:
    """Export the local model (with pooling and normalisation) to ``target``; atomic, so racing exports
    by several processes leave one complete file."""
    import torch
    from transformers import AutoModel

    from encoders.bert import mean_pool_normalise

    class Pooled(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return mean_pool_normalise(hidden, attention_mask)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = AutoModel.from_pretrained(model_path, local_files_only=True, attn_implementation="sdpa").eval()
    example = torch.tensor([[101, 7367, 2121, 102, 0, 0], [101, 2000, 2001, 2002, 2003, 102]])
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.part")
    os.close(handle)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape-dependent branches; parity is tested
            torch.onnx.export(Pooled(model).eval(), (example, (example != 0).long()), temporary, dynamo=False,
                              opset_version=OPSET, input_names=["input_ids", "attention_mask"],
                              output_names=["embedding"], do_constant_folding=True,
                              dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                            "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}})
        os.chmod(temporary, 0o644)  # readable by a server running as another user
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


class OnnxEncoder:
    """A :class:`~encoders.base.TextEncoder` running an exported model with ONNX Runtime on CPU.

    ``threads`` is ONNX Runtime's intra-op pool per process: 1 suits several server workers
    sharing a few cores with OpenSearch (a spinning pool per worker fights the others for them).
    """

    pooling = "mean"

    def __init__(self, model_path: Path, onnx_file: Path, max_length: int = 256, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.tokenize = _tokenizer(model_path, max_length)
        dimension = int(self.session.get_outputs()[0].shape[-1])
        self.identity = ModelIdentity(name=model_name(model_path), weights_sha256=weights_digest(model_path),
                                      pooling=self.pooling, dimension=dimension)

    @property
    def dimension(self) -> int:
        return self.identity.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        ids = self.tokenize(list(texts))
        order = np.argsort([-len(x) for x in ids], kind="stable")  # each batch pads to its own longest
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            width = max(len(ids[i]) for i in rows)
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                input_ids[row, :len(ids[i])] = ids[i]
                mask[row, :len(ids[i])] = 1
            out[rows] = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return out


def _tokenizer(model_path: Path, max_length: int):  # type: ignore[no-untyped-def]
    """Token ids per text, as the model's fast tokenizer gives them to :class:`BertEncoder`.

    The ``tokenizers`` file directly when the folder has one (4x cheaper per query than the
    transformers wrapper), with the folder's padding switched off and truncation at ``max_length``.
    """
    file = model_path / "tokenizer.json"
    if file.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(file))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        return lambda texts: [e.ids for e in tokenizer.encode_batch(texts)]
    from transformers import AutoTokenizer

    wrapped = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    return lambda texts: wrapped(texts, truncation=True, max_length=max_length)["input_ids"]
