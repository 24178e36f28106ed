"""Offline LTR experiments on the windows bench/offline/dump_windows.py logged: no engine calls, seconds each.

Usage: .venv/bin/python bench/offline/experiments.py DUMP judgments
       .venv/bin/python bench/offline/experiments.py DUMP clicks [--sessions 45000]
       .venv/bin/python bench/offline/experiments.py DUMP windows
       .venv/bin/python bench/offline/experiments.py DUMP history
       .venv/bin/python bench/offline/experiments.py DUMP traffic [--queries 1000] [--plot FILE]
       .venv/bin/python bench/offline/experiments.py DUMP department
       .venv/bin/python bench/offline/experiments.py DUMP engine --engine-dump ENGINE_DUMP

judgments: the judgments-trained model on the engine bench's 3,000-query sample against all train
queries, a few LightGBM parameter sets, and the columns an engine-only featureset could compute.
windows: the engine-only model scoring fewer candidates (the fused top k, or each retriever's own top).
history: features of the queries a product was judged relevant for (grade >= 1), as a shop's "queries that
led to a purchase" field; a train query's own judgments never feed its rows (leave-one-query-out), test rows
read the train queries' history only.
clicks: PBM shoppers (ltr.simulation.behaviour, average shopper: no traits) over each window's hybrid and
BM25 top 10, labels from the empirical-prior PBM; unshown candidates as 0 or left out; with and without
exploration slots in the logged pages. Choices read the validation slice; test figures are only reported.
traffic: how much logged traffic, and how much exploration, the click model needs to teach the ranker what
the same queries' judgments teach it: the clicks' share of the judgments' gain over the hybrid, by searches
per query and by the share of pages with exploration slots, and what exploring costs the shoppers who see it
(nDCG@10 of the logged pages).
department: a predicted query department (naive Bayes over the query's tokens, learned from the departments
of the products judged relevant for the train queries, each train query left out of its own prediction)
matched against the candidate's department (indexer.traits: the catalogue's category, derived from title
keywords for Home Depot), as features on top of the dump's.
engine: a featureset with the first stage's values (DUMP, e.g. shelfrank-v4) against its engine-only twin
(ENGINE_DUMP, e.g. shelfrank-v4-engine, logged over the same windows), each on every train query's judgments:
the whole window and each retriever's top (the one-trip rerank), the paired 95% interval of the difference
on the validation slice over three seeds, and the same for the two sets' v3 columns.
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from evaluation.metrics import evaluate_query  # noqa: E402
from ltr.clickmodels import ClickLog, ClickModel, make_model  # noqa: E402
from indexer.title_terms import tokens  # noqa: E402
from ltr.ranker.dataset import RankingData  # noqa: E402
from ltr.ranker.featureset import FEATURESETS  # noqa: E402
from ltr.ranker.job import is_validation_query  # noqa: E402
from ltr.ranker.labels import Labels, click_model_labels, judgment_labels, naive_ctr_labels  # noqa: E402
from ltr.ranker.title_match import title_match  # noqa: E402
from ltr.ranker.train import TrainParams, train_lambdamart  # noqa: E402
from ltr.simulation.behaviour import DEPTH, base_attractiveness, browse, relevance_of_grade  # noqa: E402
from ltr.simulation.runner import query_popularity  # noqa: E402
from storefront.exploration import Exploration, explore_page  # noqa: E402

Rows = Mapping[str, tuple[list[str], np.ndarray | None]]
MAX_GRADE = 2.0  # Home Depot relevance 1..3 as grades 0..2
STAGE_ONLY = ("bm25_rank", "vector_rank", "fused_score", "fused_rank")  # what only the fused list knows


@dataclass(frozen=True)
class Dump:
    names: list[str]
    train: Rows
    train_grades: Mapping[str, Mapping[str, float]]
    test: Rows
    test_grades: Mapping[str, Mapping[str, float]]

    @classmethod
    def load(cls, folder: Path) -> Dump:
        with open(folder / "train.pkl", "rb") as f:
            train = pickle.load(f)
        with open(folder / "test.pkl", "rb") as f:
            test = pickle.load(f)
        return cls(train["names"], train["rows"], train["grades"], test["rows"], test["grades"])

    @property
    def validation(self) -> list[str]:
        return [q for q in sorted(self.train_grades) if is_validation_query(q)]

    def sample(self, n: int = 3000, seed: int = 0) -> list[str]:
        """The engine bench's (bench/ltr_relevance.py) sample of train queries."""
        return sorted(random.Random(seed).sample(sorted(self.train_grades), n))


def dataset(rows: Rows, queries: list[str], labels: Labels, unshown_as_zero: bool, columns: list[int]) -> RankingData:
    """As ltr.ranker.dataset.build_dataset, from logged matrices."""
    blocks, ys, groups, kept, ids = [], [], [], [], []
    for query in queries:
        pool, matrix = rows[query]
        graded = labels.get(query, {})
        keep = [i for i, p in enumerate(pool) if unshown_as_zero or p in graded]
        y = np.array([graded.get(pool[i], 0) for i in keep])
        if matrix is None or len(keep) < 2 or len(set(y.tolist())) < 2:
            continue
        blocks.append(matrix[np.ix_(keep, columns)])
        ys.append(y)
        groups.append(len(keep))
        kept.append(query)
        ids.extend(pool[i] for i in keep)
    return RankingData(np.vstack(blocks), np.concatenate(ys), np.array(groups), kept, ids)


Scored = Callable[[np.ndarray], np.ndarray]  # a window's matrix -> which candidates the model scores


def ndcg(rows: Rows, grades: Mapping[str, Mapping[str, float]], queries: list[str], score=None,
         scored: Scored | None = None) -> float:
    """Mean nDCG@10 of the window reordered by ``score`` (the fused order when None). With ``scored``,
    only those candidates are reordered, on top; the others follow in fused order (a smaller window)."""
    values = []
    for query in queries:
        pool, matrix = rows[query]
        if score is not None and matrix is not None:
            head = np.arange(len(pool)) if scored is None else np.flatnonzero(scored(matrix))
            tail = np.setdiff1d(np.arange(len(pool)), head)
            order = head[np.argsort(-score(matrix[head]), kind="stable")] if len(head) else head
            pool = [pool[i] for i in [*order, *tail]]
        values.append(evaluate_query(pool[:100], grades[query])["ndcg@10"])
    return float(np.mean(values))


def fit(dump: Dump, queries: list[str], labels: Labels, params: TrainParams = TrainParams(),
        unshown_as_zero: bool = True, columns: list[int] | None = None) -> tuple[int, Callable[[np.ndarray], np.ndarray]]:
    """LambdaMART on ``columns`` of those queries' windows (early-stopped on the validation slice):
    its number of trees, and its score of a window's matrix."""
    columns = columns if columns is not None else list(range(len(dump.names)))
    data = dataset(dump.train, queries, labels, unshown_as_zero, columns)
    valid = [is_validation_query(q) for q in data.queries]
    booster = train_lambdamart(data.select([not v for v in valid]), data.select(valid),
                               [dump.names[c] for c in columns], params)

    def score(matrix: np.ndarray) -> np.ndarray:
        return booster.predict(matrix[:, columns])

    return booster.best_iteration, score


def report(dump: Dump, tag: str, queries: list[str], labels: Labels, params: TrainParams = TrainParams(),
           unshown_as_zero: bool = True, columns: list[int] | None = None) -> None:
    started = time.perf_counter()
    trees, score = fit(dump, queries, labels, params, unshown_as_zero, columns)
    print(f"{tag:62} trees {trees:4} valid {ndcg(dump.train, dump.train_grades, dump.validation, score):.4f} "
          f"test {ndcg(dump.test, dump.test_grades, sorted(dump.test_grades), score):.4f} "
          f"({time.perf_counter() - started:.0f}s)", flush=True)


def judgments(dump: Dump) -> None:
    labels = judgment_labels(dump.train_grades, MAX_GRADE)
    everything = sorted(dump.train_grades)
    report(dump, "judgments, 3,000 sampled train queries", dump.sample(), labels)
    report(dump, "judgments, all train queries", everything, labels)
    for leaves, min_data, rate in [(15, 50, 0.05), (63, 50, 0.05), (31, 100, 0.05), (31, 20, 0.1), (63, 200, 0.05),
                                   (127, 100, 0.03)]:
        report(dump, f"all, leaves {leaves} min_data {min_data} lr {rate}", everything, labels,
               TrainParams(num_leaves=leaves, min_data_in_leaf=min_data, learning_rate=rate, max_rounds=1500))
    report(dump, f"all, without {', '.join(STAGE_ONLY)}", everything, labels,
           columns=[i for i, n in enumerate(dump.names) if n not in STAGE_ONLY])


def stage_columns(dump: Dump) -> dict[str, int]:
    """Where a dump with the first stage's values keeps the ranks that choose a smaller window."""
    return {name: dump.names.index(name) for name in ("fused_rank", "bm25_rank", "in_bm25", "vector_rank")}


def fused_top(column: Mapping[str, int], k: int) -> Scored:
    """The fused top k (a second request over the fused window)."""
    return lambda m: m[:, column["fused_rank"]] <= k


def per_retriever(column: Mapping[str, int], a: int, b: int) -> Scored:
    """BM25's top a and the vector search's top b (a rescore on each first-stage sub-request, one trip)."""
    return lambda m: ((m[:, column["in_bm25"]] > 0) & (m[:, column["bm25_rank"]] <= a)) | (m[:, column["vector_rank"]] <= b)


def windows(dump: Dump) -> None:
    """How few candidates the engine-only model can score: the fused top k (a second request over the
    fused window), or each retriever's own top (a rescore on each first-stage sub-request, one trip)."""
    columns = [i for i, n in enumerate(dump.names) if n not in STAGE_ONLY]
    trees, score = fit(dump, sorted(dump.train_grades), judgment_labels(dump.train_grades, MAX_GRADE),
                       columns=columns)
    column = stage_columns(dump)

    print(f"engine-only model, all train queries: {trees} trees", flush=True)
    rows = [(f"fused top {k}", fused_top(column, k)) for k in (200, 100, 50, 30, 20)]
    rows += [(f"BM25 top {a} + vector top {b}", per_retriever(column, a, b))
             for a, b in ((100, 30), (50, 30), (30, 30), (30, 20), (20, 20), (20, 10), (15, 10), (10, 10))]
    for tag, scored in rows:
        print(f"{tag:40} valid {ndcg(dump.train, dump.train_grades, dump.validation, score, scored):.4f} "
              f"test {ndcg(dump.test, dump.test_grades, sorted(dump.test_grades), score, scored):.4f}", flush=True)


def engine(dump: Dump, twin: Dump, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    """Whether a model the engine can compute alone (what the search template can serve) ranks as well as
    one reading the first stage's values. ``twin`` must hold the same windows (same index, queries, order)."""
    if any(dump.train[q][0] != twin.train[q][0] for q in dump.train) or \
            any(dump.test[q][0] != twin.test[q][0] for q in dump.test):
        raise SystemExit("the two dumps hold different windows: log both from the same index")
    labels = judgment_labels(dump.train_grades, MAX_GRADE)
    everything = sorted(dump.train_grades)
    column = stage_columns(dump)

    def head(query: str, cut: Scored | None) -> np.ndarray | None:  # chosen by the stage values, for both dumps
        stage = (dump.train.get(query) or dump.test[query])[1]
        return None if cut is None or stage is None else cut(stage)

    def per_query(rows: Rows, grades: Mapping, queries: list[str], score, cut: Scored | None = None) -> np.ndarray:
        values = []
        for query in queries:
            mask = head(query, cut)
            values.append(ndcg({query: rows[query]}, grades, [query], score,
                               None if mask is None else (lambda _m, mask=mask: mask)))
        return np.array(values)

    def named(of: Dump, names: list[str]) -> list[int]:
        return [of.names.index(n) for n in names]

    cuts = [("whole window", None), ("BM25 100 + vector 30", per_retriever(column, 100, 30)),
            ("BM25 50 + vector 30", per_retriever(column, 50, 30)),
            ("BM25 30 + vector 30", per_retriever(column, 30, 30)), ("fused top 50", fused_top(column, 50))]
    print("| model | trees | " + " | ".join(f"{tag}: valid / test" for tag, _ in cuts) + " |")
    models = [(f"stage values ({len(dump.names)} features)", dump, None),
              (f"without {', '.join(STAGE_ONLY)}", dump, [i for i, n in enumerate(dump.names) if n not in STAGE_ONLY]),
              (f"engine-only twin ({len(twin.names)} features)", twin, None)]
    for tag, of, columns in models:
        trees, score = fit(of, everything, labels, columns=columns)
        cells = [f"{per_query(of.train, of.train_grades, of.validation, score, cut).mean():.4f} / "
                 f"{per_query(of.test, of.test_grades, sorted(of.test_grades), score, cut).mean():.4f}"
                 for _, cut in cuts]
        print(f"| {tag} | {trees} | " + " | ".join(cells) + " |", flush=True)
    rng = np.random.default_rng(0)
    v3 = [spec.name for spec in FEATURESETS["shelfrank-v3"].features]
    v3_engine = [spec.name for spec in FEATURESETS["shelfrank-v3-engine"].features]
    pairs = [("whole sets", None, None)]
    if set(v3) <= set(dump.names) and set(v3_engine) <= set(twin.names):
        pairs.append(("their v3 columns", named(dump, v3), named(twin, v3_engine)))
    for tag, columns, twin_columns in pairs:
        for seed in seeds:
            params = TrainParams(seed=seed)
            _, a_score = fit(dump, everything, labels, params, columns=columns)
            _, b_score = fit(twin, everything, labels, params, columns=twin_columns)
            a = per_query(dump.train, dump.train_grades, dump.validation, a_score)
            b = per_query(twin.train, twin.train_grades, twin.validation, b_score)
            d = b - a
            means = [d[rng.integers(0, len(d), len(d))].mean() for _ in range(2000)]
            print(f"{tag}, seed {seed}: validation nDCG@10 {a.mean():.4f} with stage values, {b.mean():.4f} engine-only, "
                  f"difference {d.mean():+.4f} [{np.percentile(means, 2.5):+.4f}, {np.percentile(means, 97.5):+.4f}] "
                  f"over {len(d)} queries", flush=True)


HISTORY_NAMES = ["history_queries", "history_coverage", "history_best_jaccard", "history_head_match"]


def history_features(history: Mapping[str, list[str]], query: str, pool: list[str]) -> np.ndarray:
    """Per candidate: how many other queries it was judged relevant for, and how well the query matches
    them (typo-tolerant coverage and head noun over their tokens, best token Jaccard with one of them)."""
    q = set(tokens(query))
    out = np.zeros((len(pool), len(HISTORY_NAMES)), dtype=np.float32)
    for i, product in enumerate(pool):
        others = [h for h in history.get(product, ()) if h != query]
        if not others or not q:
            continue
        match = title_match(query, " ".join(others))
        best = max(len(q & set(tokens(h))) / len(q | set(tokens(h))) for h in others)
        out[i] = (len(others), match.coverage, best, match.head_match)
    return out


def with_history(dump: Dump, min_grade: float = 1.0) -> Dump:
    """The dump with the history columns appended, from the train split's judgments only."""
    history: dict[str, list[str]] = {}
    for query, graded in dump.train_grades.items():
        for product, grade in graded.items():
            if grade >= min_grade:
                history.setdefault(product, []).append(query)

    def extend(rows: Rows) -> dict:
        return {q: (pool, None if m is None else np.hstack([m, history_features(history, q, pool)]))
                for q, (pool, m) in rows.items()}

    return Dump(dump.names + HISTORY_NAMES, extend(dump.train), dump.train_grades, extend(dump.test),
                dump.test_grades)


def history(dump: Dump) -> None:
    labels = judgment_labels(dump.train_grades, MAX_GRADE)
    everything = sorted(dump.train_grades)
    report(dump, "judgments, all train queries", everything, labels)
    for min_grade in (1.0, 0.5):
        started = time.perf_counter()
        extended = with_history(dump, min_grade)
        print(f"history of grade >= {min_grade}: {time.perf_counter() - started:.0f}s", flush=True)
        report(extended, f"+ history (grade >= {min_grade})", everything, labels)
        base = len(dump.names)
        for k, name in enumerate(HISTORY_NAMES):
            report(extended, f"+ {name} only", everything, labels, columns=[*range(base), base + k])


DEPARTMENT_NAMES = ["department_probability", "department_is_predicted"]


def product_departments(path: Path) -> dict[str, str]:
    """Each Home Depot product's department, as the catalogue import derives it from the title."""
    import csv

    from indexer.traits import department_of
    with path.open(newline="", encoding="latin-1") as handle:
        return {row["product_uid"]: department_of(row["product_title"]) for row in csv.DictReader(handle)}


class QueryDepartments:
    """Multinomial naive Bayes P(department | query tokens), one example per (train query, relevant product);
    ``predict(query, leave_out=True)`` subtracts the query's own examples (its rows must not see its labels)."""

    def __init__(self, grades: Mapping[str, Mapping[str, float]], departments: Mapping[str, str], min_grade: float = 1.0):
        self.names = sorted(set(departments.values()))
        self.index = {d: i for i, d in enumerate(self.names)}
        self.own: dict[str, np.ndarray] = {}  # query -> its relevant products' department counts
        self.docs = np.zeros(len(self.names))
        self.tokens: dict[str, np.ndarray] = {}
        for query, graded in grades.items():
            counts = np.zeros(len(self.names))
            for product, grade in graded.items():
                if grade >= min_grade and product in departments:
                    counts[self.index[departments[product]]] += 1
            self.own[query] = counts
            self.docs += counts
            for token in set(tokens(query)):
                self.tokens.setdefault(token, np.zeros(len(self.names)))
                self.tokens[token] += counts
        self.token_totals = sum(self.tokens.values())
        self.vocabulary = len(self.tokens)

    def predict(self, query: str, leave_out: bool) -> np.ndarray:
        own = self.own.get(query) if leave_out else None
        own = own if own is not None else np.zeros(len(self.names))
        docs, totals = self.docs - own, self.token_totals - own * len(set(tokens(query)))
        log_p = np.log((docs + 1) / (docs.sum() + len(self.names)))
        for token in set(tokens(query)):
            counts = self.tokens.get(token, np.zeros(len(self.names))) - own
            log_p += np.log((counts + 1) / (totals + self.vocabulary))
        p = np.exp(log_p - log_p.max())
        return p / p.sum()


def with_departments(dump: Dump, departments: Mapping[str, str]) -> Dump:
    model = QueryDepartments(dump.train_grades, departments)

    def extend(rows: Rows, leave_out: bool) -> dict:
        out = {}
        for query, (pool, matrix) in rows.items():
            if matrix is None:
                out[query] = (pool, None)
                continue
            p = model.predict(query, leave_out)
            best = int(np.argmax(p))
            column = np.array([model.index.get(departments.get(product, ""), -1) for product in pool])
            extra = np.stack([np.where(column >= 0, p[np.maximum(column, 0)], 0.0), (column == best).astype(float)], axis=1)
            out[query] = (pool, np.hstack([matrix, extra.astype(np.float32)]))
        return out

    return Dump(dump.names + DEPARTMENT_NAMES, extend(dump.train, True), dump.train_grades, extend(dump.test, False),
                dump.test_grades)


def department(dump: Dump) -> None:
    from collections import Counter

    from _data import HOMEDEPOT
    departments = product_departments(HOMEDEPOT)
    shares = Counter(departments.values())
    print("products per department: " + ", ".join(f"{d} {n}" for d, n in shares.most_common()), flush=True)
    labels = judgment_labels(dump.train_grades, MAX_GRADE)
    everything = sorted(dump.train_grades)
    extended = with_departments(dump, departments)
    model = QueryDepartments(dump.train_grades, departments)
    hits = []
    for query, graded in sorted(dump.test_grades.items()):
        wanted = Counter(departments[p] for p, g in graded.items() if g >= 1.0 and p in departments)
        if wanted:
            hits.append(model.names[int(np.argmax(model.predict(query, False)))] == wanted.most_common(1)[0][0])
    print(f"test queries whose predicted department is their relevant products' most common: {np.mean(hits):.1%} "
          f"of {len(hits)}", flush=True)
    report(dump, "judgments, all train queries", everything, labels)
    report(extended, "+ predicted query department", everything, labels)
    base = len(dump.names)
    for k, name in enumerate(DEPARTMENT_NAMES):
        report(extended, f"+ {name} only", everything, labels, columns=[*range(base), base + k])


PageFn = Callable[[str, list[str], np.random.Generator], list[str]]
SESSION_ENDS = 0.7  # P(a session ends after each search): 1 / 0.7 searches per session on average


def pbm_labels(log: ClickLog) -> tuple[ClickModel, Labels]:
    """The empirical-prior PBM fitted to ``log``, and its graded labels of pairs with 5+ impressions."""
    pbm = make_model("pbm", prior="empirical").fit(log, max_iter=100)
    return pbm, click_model_labels(pbm, 5)


def logged_pages(dump: Dump, query: str) -> dict[str, list[str]]:
    """What the two logging rankers showed: the fused top 10 and BM25's top 10 (by its rank in the window)."""
    pool, matrix = dump.train[query]
    if matrix is None:
        return {"hybrid": pool[:DEPTH], "bm25": pool[:DEPTH]}
    rank, found = matrix[:, dump.names.index("bm25_rank")], matrix[:, dump.names.index("in_bm25")]
    bm25 = [pool[i] for i in np.argsort(rank, kind="stable") if found[i] > 0][:DEPTH]
    return {"hybrid": pool[:DEPTH], "bm25": bm25}


def simulate(dump: Dump, queries: list[str], sessions: int, page_fn: PageFn | None = None,
             seed: int = 0, shown_ndcg: list[float] | None = None) -> ClickLog:
    """PBM sessions as ltr.simulation.runner draws them (Zipf query traffic, 1+ queries per session).
    ``shown_ndcg`` collects each logged page's nDCG@10: what the logging policy cost its shoppers."""
    rng = np.random.default_rng(seed)
    popularity = query_popularity(len(queries), rng)
    shown: dict[str, dict[str, list[str]]] = {}
    log = []
    for _ in range(sessions):
        for _ in range(int(rng.geometric(SESSION_ENDS))):
            query = queries[int(rng.choice(len(queries), p=popularity))]
            pages = shown.setdefault(query, logged_pages(dump, query))
            page = pages[("hybrid", "bm25")[int(rng.integers(2))]]
            if page_fn is not None:
                page = page_fn(query, page, rng)
            relevance = np.array([relevance_of_grade(dump.train_grades[query].get(p), MAX_GRADE) for p in page])
            if shown_ndcg is not None:
                shown_ndcg.append(evaluate_query(page, dump.train_grades[query])["ndcg@10"])
            attract = np.minimum(0.95, [base_attractiveness(r) for r in relevance])
            log.append((query, page, {page[i] for i in browse("pbm", attract, relevance, rng)}))
    return ClickLog.from_sessions(log, depth=DEPTH)


def exploration(dump: Dump, rate: float, slots: int = 3, depth: int = 100) -> PageFn:
    """The storefront's exploration slots (storefront.exploration, as ``SHELFRANK_EXPLORATION_RATE`` serves
    them): with probability ``rate`` a page shows ``slots`` random candidates of the window's top ``depth``
    below its first three results. The pages here are the logged rankers' top 10 with the window behind them."""
    policy = Exploration(rate, slots=slots, depth=depth)

    def page_fn(query: str, page: list[str], rng: np.random.Generator) -> list[str]:
        shown = set(page)
        ranked = page + [p for p in dump.train[query][0][:depth] if p not in shown]
        return explore_page(ranked, len(page), policy, f"{query}:{rng.integers(1 << 62)}")[0]
    return page_fn


def clicks(dump: Dump, sessions: int) -> None:
    queries = dump.sample()
    for tag, page_fn in [("fixed pages", None), ("explore 30% (3 of the top 100 in slots 4-10)", exploration(dump, 0.3))]:
        log = simulate(dump, queries, sessions, page_fn)
        pbm, labels = pbm_labels(log)
        print(f"{tag}: {log.n_sessions} searches, {sum(len(v) for v in labels.values())} labelled pairs, "
              "examination " + " ".join(f"{x:.2f}" for x in pbm.examination), flush=True)
        report(dump, f"{tag}: debiased, unshown = 0", queries, labels)
        report(dump, f"{tag}: debiased, shown pairs only", queries, labels, unshown_as_zero=False)
        if page_fn is None:
            report(dump, f"{tag}: naive CTR, unshown = 0", queries, naive_ctr_labels(log, 5))


def traffic(dump: Dump, n_queries: int, per_query: list[int], rates: list[float], plot: Path | None) -> None:
    """The clicks' share of the judgments' gain, (clicks - hybrid) / (judgments - hybrid) in nDCG@10 on the
    validation slice (test beside it, only reported), on one sample of train queries, as the log grows
    and as more of its pages explore (3 of the window's top 100 in slots 4-10)."""
    queries = dump.sample(n_queries)
    grades = dump.test_grades
    floor = (ndcg(dump.train, dump.train_grades, dump.validation), ndcg(dump.test, grades, sorted(grades)))
    trees, score = fit(dump, queries, judgment_labels(dump.train_grades, MAX_GRADE))
    ceiling = (ndcg(dump.train, dump.train_grades, dump.validation, score), ndcg(dump.test, grades, sorted(grades), score))
    print(f"{n_queries} train queries; hybrid valid {floor[0]:.4f} test {floor[1]:.4f}; their judgments ({trees} trees) "
          f"valid {ceiling[0]:.4f} test {ceiling[1]:.4f}", flush=True)
    print(f"{'explore':>7} {'searches/query':>14} {'pairs':>7} {'shown nDCG':>10} {'trees':>5} {'valid':>6} "
          f"{'share':>6} {'test':>6} {'share':>6}", flush=True)
    curves: dict[float, list[tuple[float, float]]] = {}
    for rate in rates:
        for searches in per_query:
            started = time.perf_counter()
            shown: list[float] = []
            log = simulate(dump, queries, round(searches * n_queries * SESSION_ENDS),
                           exploration(dump, rate) if rate else None, shown_ndcg=shown)
            labels = pbm_labels(log)[1]
            trees, score = fit(dump, queries, labels)
            got = (ndcg(dump.train, dump.train_grades, dump.validation, score), ndcg(dump.test, grades, sorted(grades), score))
            share = [(g - f) / (c - f) for g, f, c in zip(got, floor, ceiling)]
            curves.setdefault(rate, []).append((log.n_sessions / n_queries, share[0]))
            print(f"{rate:7.0%} {log.n_sessions / n_queries:14.0f} {sum(len(v) for v in labels.values()):7} "
                  f"{np.mean(shown):10.4f} {trees:5} {got[0]:.4f} {share[0]:6.0%} {got[1]:.4f} {share[1]:6.0%} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    if plot is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for rate, points in curves.items():
            ax.plot(*zip(*points), marker="o", label=f"{rate:.0%} of pages explore")
        ax.axhline(0.9, color="grey", linestyle="--", linewidth=1, label="90% of the judgments' gain")
        ax.set_xscale("log")
        ax.set_xlabel("logged searches per query (mean, Zipf traffic)")
        ax.set_ylabel("clicks' share of the judgments' gain (validation)")
        ax.set_title(f"LambdaMART on PBM click labels, {n_queries} train queries")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=110)
        print(f"plot: {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", type=Path, help="the folder bench/offline/dump_windows.py wrote")
    parser.add_argument("experiment",
                        choices=["judgments", "clicks", "windows", "history", "traffic", "department", "engine"])
    parser.add_argument("--engine-dump", type=Path, default=None,
                        help="engine: the engine-only twin's dump, logged from the same index")
    parser.add_argument("--sessions", type=int, default=45_000, help="clicks: simulated sessions")
    parser.add_argument("--queries", type=int, default=1000, help="traffic: train queries the shoppers type")
    parser.add_argument("--per-query", type=int, nargs="+", default=[20, 50, 100, 200, 400],
                        help="traffic: logged searches per query")
    parser.add_argument("--explore", type=float, nargs="+", default=[0.0, 0.3, 1.0],
                        help="traffic: shares of logged pages with exploration slots")
    parser.add_argument("--plot", type=Path, default=None, help="traffic: write the curves to this PNG")
    args = parser.parse_args()
    dump = Dump.load(args.dump)
    print(f"hybrid, no rerank: valid {ndcg(dump.train, dump.train_grades, dump.validation):.4f} "
          f"test {ndcg(dump.test, dump.test_grades, sorted(dump.test_grades)):.4f}")
    if args.experiment == "judgments":
        judgments(dump)
    elif args.experiment == "windows":
        windows(dump)
    elif args.experiment == "history":
        history(dump)
    elif args.experiment == "department":
        department(dump)
    elif args.experiment == "engine":
        if args.engine_dump is None:
            parser.error("engine needs --engine-dump (bench/offline/dump_windows.py OUT --featureset shelfrank-v4-engine)")
        engine(dump, Dump.load(args.engine_dump))
    elif args.experiment == "traffic":
        traffic(dump, args.queries, args.per_query, args.explore, args.plot)
    else:
        clicks(dump, args.sessions)


if __name__ == "__main__":
    main()
