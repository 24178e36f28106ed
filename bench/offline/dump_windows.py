"""Log the v2-query features of every train and test query's hybrid window once, for offline LTR experiments.

Usage: .venv/bin/python bench/offline/dump_windows.py INDEX OUTDIR [FEATURESET]
Needs the local node with the Home Depot catalogue. Writes OUTDIR/train.pkl and OUTDIR/test.pkl
(candidate ids, feature matrix, grades); bench/offline/experiments.py reads them.
"""
import pickle
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]; sys.path.insert(0, str(ROOT / "bench")); sys.path.insert(0, str(ROOT))
import numpy as np
from tqdm import tqdm
from _data import HOMEDEPOT
from _simulated_shop import recording_service
from core.settings import get_settings
from evaluation.judgments import load_homedepot, select_split
from ltr.ranker.extract import FeatureExtractor, EngineFeatureLogger
from ltr.ranker.featureset import FEATURESETS

index, out, fs_name = sys.argv[1], Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "shelfrank-v2-query"
settings = get_settings()
service, url = recording_service(settings, Path(tempfile.mkdtemp()) / "e.db", index)
fs = FEATURESETS[fs_name]
ext = FeatureExtractor(fs, EngineFeatureLogger(service.client, service.index), service.encoder if fs.of_source("vector") else None)
j = load_homedepot(HOMEDEPOT)
for split in ("train", "test"):
    data = select_split(j, split)
    rec = {}
    for q in tqdm(sorted(data), desc=split):
        pool = service.candidates(q, "hybrid-minmax")[:200]
        if len(pool) < 2:
            rec[q] = ([c.product_id for c in pool], None); continue
        rec[q] = ([c.product_id for c in pool], ext.matrix(q, pool).astype(np.float32))
    with open(out / f"{split}.pkl", "wb") as f:
        pickle.dump({"names": fs.names, "rows": rec, "grades": {q: dict(g) for q, g in data.items()}}, f)
print("done")
