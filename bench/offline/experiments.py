"""Offline LTR experiments on the windows bench/offline/dump_windows.py logged (no engine calls).

Usage: .venv/bin/python bench/offline/experiments.py DUMPDIR judgments|clicks [SESSIONS]
judgments: the judgments-trained model on a 3,000-query sample against all train queries, LightGBM
parameters, and the columns an engine-only featureset could compute. clicks: simulated PBM shoppers
(ltr.simulation.behaviour) over the windows' hybrid and BM25 top 10, labels from the empirical-prior PBM,
unshown candidates as 0 or left out, with and without exploration slots in the logging pages.
Choices read the validation slice; the test split is printed for the record only.
"""
import pickle
import random
import sys
import time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
import numpy as np
from evaluation.metrics import evaluate_query
from ltr.ranker.dataset import RankingData
from ltr.ranker.job import is_validation_query
from ltr.ranker.labels import judgment_labels, click_model_labels, naive_ctr_labels
from ltr.ranker.train import TrainParams, train_lambdamart
from ltr.clickmodels import ClickLog, make_model
from ltr.simulation.behaviour import EXAMINATION, base_attractiveness, relevance_of_grade

def load(folder):
    tr = pickle.load(open(f"{folder}/train.pkl", "rb")); te = pickle.load(open(f"{folder}/test.pkl", "rb"))
    return tr, te

def dataset(rows, queries, labels, zero=True, cols=None, top=None):
    X, y, g, qs, pid = [], [], [], [], []
    for q in queries:
        ids, M = rows[q]
        if M is None: continue
        lab = labels.get(q, {})
        keep = [i for i, p in enumerate(ids) if (zero and (top is None or i < top)) or p in lab]
        yy = np.array([lab.get(ids[i], 0) for i in keep])
        if len(keep) < 2 or len(set(yy.tolist())) < 2: continue
        X.append(M[keep] if cols is None else M[keep][:, cols]); y.append(yy); g.append(len(keep)); qs.append(q); pid.extend(ids[i] for i in keep)
    return RankingData(np.vstack(X), np.concatenate(y), np.array(g), qs, pid)

def train(rows, queries, labels, names, params=TrainParams(), zero=True, cols=None, top=None):
    d = dataset(rows, queries, labels, zero, cols, top)
    v = [is_validation_query(q) for q in d.queries]
    nm = names if cols is None else [names[c] for c in cols]
    return train_lambdamart(d.select([not x for x in v]), d.select(v), nm, params)

def evaluate(booster, rows, grades, queries, cols=None, metric="ndcg@10"):
    out = []
    for q in queries:
        ids, M = rows[q]
        if M is None or booster is None:
            ranking = ids
        else:
            s = booster.predict(M if cols is None else M[:, cols])
            ranking = [ids[i] for i in np.argsort(-s, kind="stable")]
        out.append(evaluate_query(ranking[:100], grades[q])[metric])
    return float(np.mean(out)), np.array(out)

def pages(rows, names, q):
    ids, M = rows[q]
    hybrid = ids[:10]
    if M is None: return {"hybrid": hybrid, "bm25": hybrid}
    r, inb = M[:, names.index("bm25_rank")], M[:, names.index("in_bm25")]
    order = [i for i in np.argsort(r, kind="stable") if inb[i] > 0][:10]
    return {"hybrid": hybrid, "bm25": [ids[i] for i in order]}

def simulate(rows, names, queries, grades, sessions, seed=0, page_fn=None):
    rng = np.random.default_rng(seed)
    w = 1.0 / (np.arange(len(queries)) + 10.0); w = w[rng.permutation(len(queries))]; w /= w.sum()
    maxg = 2.0
    cache = {}
    out = []
    for s in range(sessions):
        for k in range(int(rng.geometric(0.7))):
            q = queries[int(rng.choice(len(queries), p=w))]
            if q not in cache: cache[q] = pages(rows, names, q)
            ranker = ["hybrid", "bm25"][int(rng.integers(2))]
            page = page_fn(q, cache[q], rng) if page_fn else cache[q][ranker]
            rel = np.array([relevance_of_grade(grades[q].get(p), maxg) for p in page])
            att = np.minimum(0.95, np.array([base_attractiveness(r) for r in rel]))
            ex = rng.random(len(page)) < EXAMINATION[:len(page)]
            cl = set(page[i] for i in np.flatnonzero(ex & (rng.random(len(page)) < att)))
            out.append((q, page, cl))
    return out


def main() -> None:
    mode = sys.argv[2]
    if mode == "judgments":
        folder = sys.argv[1]
        tr, te = load(folder)
        names, rows, grades = tr["names"], tr["rows"], tr["grades"]
        trows, tgrades = te["rows"], te["grades"]
        trainq = sorted(grades)
        valq = [q for q in trainq if is_validation_query(q)]
        sample = sorted(random.Random(0).sample(trainq, 3000))
        oracle = judgment_labels(grades, 2.0)
        testq = sorted(tgrades)
        print("hybrid valid", round(evaluate(None, rows, grades, valq)[0], 4), "test", round(evaluate(None, trows, tgrades, testq)[0], 4))
        def run(tag, queries, params=TrainParams(), cols=None, labels=oracle, zero=True, top=None):
            t = time.time()
            b = train(rows, [q for q in queries if q in rows], labels, names, params, zero=zero, cols=cols, top=top)
            # validation for choice: the validation slice (early-stopping slice; the same for every variant)
            v = evaluate(b, rows, grades, valq, cols)[0]
            s = evaluate(b, trows, tgrades, testq, cols)[0]
            print(f"{tag:50} trees {b.best_iteration:4} valid {v:.4f} test {s:.4f} ({time.time()-t:.0f}s)", flush=True)
            return b
        run("oracle, 3000 sample", sample)
        run("oracle, all train", trainq)
        for nl, md, lr in [(15, 50, 0.05), (63, 50, 0.05), (31, 100, 0.05), (31, 20, 0.1), (63, 200, 0.05), (127, 100, 0.03)]:
            run(f"oracle all, leaves {nl} min_data {md} lr {lr}", trainq, TrainParams(num_leaves=nl, min_data_in_leaf=md, learning_rate=lr, max_rounds=1500))
        stage = [n for n in names if n in ("bm25_rank","vector_rank","fused_score","fused_rank")]
        cols = [i for i, n in enumerate(names) if n not in stage]
        run("oracle all, engine-derivable columns only", trainq, cols=cols)
    else:
        folder = sys.argv[1]
        tr, te = load(folder)
        names, rows, grades = tr["names"], tr["rows"], tr["grades"]
        trows, tgrades = te["rows"], te["grades"]
        trainq = sorted(grades)
        valq = [q for q in trainq if is_validation_query(q)]
        sample = sorted(random.Random(0).sample(trainq, 3000))
        testq = sorted(tgrades)
        sessions = int(sys.argv[3]) if len(sys.argv) > 3 else 45000
        def run(tag, labels, zero=True, top=None, queries=sample):
            t = time.time()
            b = train(rows, queries, labels, names, zero=zero, top=top)
            v = evaluate(b, rows, grades, valq)[0]; s = evaluate(b, trows, tgrades, testq)[0]
            print(f"{tag:55} trees {b.best_iteration:4} valid {v:.4f} test {s:.4f} ({time.time()-t:.0f}s)", flush=True)
        def explore(rate):
            def page_fn(q, pages, rng):
                ranker = ["hybrid", "bm25"][int(rng.integers(2))]
                page = list(pages[ranker])
                if rng.random() < rate:
                    ids = rows[q][0]
                    pool = [p for p in ids[:100] if p not in page]
                    if pool:
                        k = min(len(pool), 3)
                        picks = [pool[i] for i in rng.choice(len(pool), k, replace=False)]
                        slots = rng.choice(range(3, 10), k, replace=False)
                        for s, p in zip(slots, picks):
                            if s < len(page): page[s] = p
                return page
            return page_fn
        for tag, fn in [("fixed pages", None), ("explore 30% (3 random of top 100 into slots 4-10)", explore(0.3))]:
            log = ClickLog.from_sessions(simulate(rows, names, sample, grades, sessions, page_fn=fn), depth=10)
            pbm = make_model("pbm", prior="empirical").fit(log, max_iter=100)
            print(tag, log.n_sessions, "exam", " ".join(f"{x:.2f}" for x in pbm.examination), flush=True)
            deb = click_model_labels(pbm, 5)
            print(" labelled pairs", sum(len(v) for v in deb.values()))
            run(f"{tag}: debiased, unshown=0", deb)
            run(f"{tag}: debiased, shown only", deb, zero=False)
            if fn is None:
                run(f"{tag}: naive, unshown=0", naive_ctr_labels(log, 5))


if __name__ == "__main__":
    main()
