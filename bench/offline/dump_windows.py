"""Log one featureset's values for every train and test query's hybrid window, once, for offline LTR
experiments (bench/offline/experiments.py) that then cost seconds instead of an engine pass each.

Usage: .venv/bin/python bench/offline/dump_windows.py OUT [--index products] [--featureset shelfrank-v2-query]

Needs the local node with the Home Depot catalogue indexed (for a v4 featureset, with the train split's
history synced: `shelfrank index history --judgments ../shared/data/homedepot/train.csv --format homedepot`).
Train rows of a history featureset leave their own query out, as training does; test rows read the documents.
Writes OUT/train.pkl and OUT/test.pkl: the featureset's names, per query the window's product ids (fused order) and feature matrix, and the grades.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _data import HOMEDEPOT  # noqa: E402
from _simulated_shop import recording_service  # noqa: E402

from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from ltr.history_sync import judged_history  # noqa: E402
from ltr.ranker.extract import EngineFeatureLogger, FeatureExtractor  # noqa: E402
from ltr.ranker.featureset import FEATURESETS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--index", default=None, help="catalogue alias (default: the settings' index)")
    parser.add_argument("--featureset", default="shelfrank-v2-query", choices=sorted(FEATURESETS))
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    service, _ = recording_service(get_settings(), Path(tempfile.mkdtemp()) / "events.db", args.index)
    featureset = FEATURESETS[args.featureset]
    extractor = FeatureExtractor(featureset, EngineFeatureLogger(service.client, service.index),
                                 service.encoder.vector if featureset.of_source("vector") else None)
    judgments = load_homedepot(HOMEDEPOT)
    served = extractor
    for split in ("train", "test"):
        grades = select_split(judgments, split)
        leave_one_out = split == "train" and featureset.of_source("history")
        extractor = served.with_history(judged_history(grades)) if leave_one_out else served
        rows = {}
        for query in tqdm(sorted(grades), desc=split, unit="query"):
            pool = service.candidates(query, "hybrid-minmax")[: args.window]
            matrix = extractor.matrix(query, pool).astype(np.float32) if len(pool) > 1 else None
            rows[query] = ([c.product_id for c in pool], matrix)
        with open(args.out / f"{split}.pkl", "wb") as f:
            pickle.dump({"names": featureset.names, "rows": rows, "grades": {q: dict(g) for q, g in grades.items()}}, f)
    print(f"saved {args.out}/train.pkl and test.pkl")


if __name__ == "__main__":
    main()
