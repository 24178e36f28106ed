"""Relevance judgments: loaders for generic formats and the Home Depot file, and the fixed split.

Judgments map a query text to ``{product_id: grade}`` with non-negative grades (0 = not relevant).
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections import defaultdict
from pathlib import Path

from core.queries import normalize_query
from storefront.request import MAX_QUERY_CHARS

Judgments = dict[str, dict[str, float]]
#: As long as a catalogue id may be (``indexer.catalog``) and the judgments table stores.
MAX_PRODUCT_ID_CHARS = 512


class JudgmentsError(ValueError):
    """The judgments cannot be used; the message names the line (or the ``field``) and the problem."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message = field, message


def length_problem(query: str, product_id: str) -> tuple[str, str] | None:
    """(field, message) when a normalised query or a product id is too long to judge: a query longer than
    the storefront searches, an id longer than the column. Refused, never cut (a cut query is another
    query); on PostgreSQL a huge query would also overflow the unique index and fail the whole import."""
    if len(query) > MAX_QUERY_CHARS:
        return "query", f"must be at most {MAX_QUERY_CHARS} characters (this one has {len(query):,})"
    if len(product_id) > MAX_PRODUCT_ID_CHARS:
        return "product_id", f"must be at most {MAX_PRODUCT_ID_CHARS} characters (this one has {len(product_id):,})"
    return None


def _checked(query: str, product_id: str, where: str) -> None:
    problem = length_problem(query, product_id)
    if problem is not None:
        raise JudgmentsError(f"{where}: {problem[0]} {problem[1]}")


def split_of(query: str) -> str:
    """Fixed, documented split: a query is 'test' when the first byte of SHA-256 of its normalised
    text is below 52 (about 20%), else 'train'. Independent of file order and of other queries."""
    return "test" if hashlib.sha256(normalize_query(query).encode()).digest()[0] < 52 else "train"


def _grade(value: str, where: str) -> float:
    try:
        grade = float(value)
    except ValueError:
        raise JudgmentsError(f"{where}: grade {value!r} is not a number") from None
    if not math.isfinite(grade):
        raise JudgmentsError(f"{where}: grade {value!r} is not a finite number")
    if grade < 0:
        raise JudgmentsError(f"{where}: grade {grade} is negative (0 means not relevant)")
    return grade


def load_csv(path: Path, query_column: str = "query", product_column: str = "product_id",
             grade_column: str = "grade", encoding: str = "utf-8") -> Judgments:
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    with Path(path).open(newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        missing = {query_column, product_column, grade_column} - set(reader.fieldnames or [])
        if missing:
            raise JudgmentsError(f"{path}: missing column(s) {', '.join(sorted(missing))} "
                                 f"(columns: {', '.join(reader.fieldnames or [])})")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            query, product = (row[query_column] or "").strip(), (row[product_column] or "").strip()
            if not query or not product:
                raise JudgmentsError(f"{where}: empty query or product id")
            query = normalize_query(query)
            _checked(query, product, where)
            judgments[query][product] = _grade(row[grade_column], where)
    return dict(judgments)


def load_trec(qrels: Path, topics: Path) -> Judgments:
    """TREC qrels (``qid 0 docid grade``) with a topics file of ``qid<TAB>query text`` lines."""
    texts: dict[str, str] = {}
    for number, line in enumerate(Path(topics).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise JudgmentsError(f"{topics}:{number}: expected 'qid<TAB>query'")
        qid, text = line.split("\t", 1)
        texts[qid.strip()] = normalize_query(text)
        _checked(texts[qid.strip()], "", f"{topics}:{number}")
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    for number, line in enumerate(Path(qrels).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4:
            raise JudgmentsError(f"{qrels}:{number}: expected 'qid iteration docid grade'")
        qid, _iteration, doc, grade = parts
        if qid not in texts:
            raise JudgmentsError(f"{qrels}:{number}: query id {qid!r} is not in {topics}")
        _checked(texts[qid], doc, f"{qrels}:{number}")
        judgments[texts[qid]][doc] = _grade(grade, f"{qrels}:{number}")
    return dict(judgments)


def load_homedepot(path: Path) -> Judgments:
    """Home Depot train.csv: grade = mean relevance - 1 (0..2), averaged over repeated pairs."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    with Path(path).open(newline="", encoding="latin-1") as handle:
        for row in csv.DictReader(handle):
            sums[(normalize_query(row["search_term"]), row["product_uid"])].append(float(row["relevance"]) - 1.0)
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    for (query, product), grades in sums.items():
        judgments[query][product] = sum(grades) / len(grades)
    return dict(judgments)


def load(path: Path, fmt: str = "csv", topics: Path | None = None, **columns: str) -> Judgments:
    if fmt == "homedepot":
        return load_homedepot(path)
    if fmt == "trec":
        if topics is None:
            raise JudgmentsError("TREC qrels need --topics FILE (lines of 'qid<TAB>query')")
        return load_trec(path, topics)
    if fmt == "csv":
        return load_csv(path, **columns)
    raise JudgmentsError(f"unknown judgments format {fmt!r}; use csv, trec or homedepot")


def select_split(judgments: Judgments, split: str) -> Judgments:
    if split == "all":
        return judgments
    return {q: g for q, g in judgments.items() if split_of(q) == split}
