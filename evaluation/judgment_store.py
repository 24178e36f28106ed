"""Judgments in SQL: what the console imports, exports, grades and previews tunings against.

Files stay the exchange format (CSV, TREC qrels, Home Depot); the database holds the shop's working
set, so a grade given in the console counts in the next preview and evaluation.
"""

from __future__ import annotations

import csv
import math
import io
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.db.models import Judgment, utcnow
from core.db.searches import chunks
from core.queries import normalize_query
from evaluation.judgments import Judgments, JudgmentsError, length_problem, split_of

MAX_GRADE = 100.0


@dataclass(frozen=True)
class ImportReport:
    queries: int
    pairs: int
    replaced: bool


def import_judgments(session: Session, judgments: Judgments, source: str, by: str, replace: bool = False,
                     ) -> ImportReport:
    """Upsert every pair (a pair already stored gets the new grade); ``replace`` first clears all stored.
    Every pair is checked before anything is written (the file loaders already name the offending line)."""
    for query, grades in judgments.items():
        for product in grades:
            problem = length_problem(query, product)
            if problem is not None:
                raise JudgmentsError(f"{problem[0]} {problem[1]}, in query {query[:60]!r}")
    if replace:
        session.execute(delete(Judgment))
    existing: dict[tuple[str, str], Judgment] = {}
    if not replace:
        for part in chunks(list(judgments), 500):
            existing.update({(j.query, j.product_id): j for j in session.scalars(
                select(Judgment).where(Judgment.query.in_(part)))})
    now, pairs = utcnow(), 0
    for query, grades in judgments.items():
        for product, grade in grades.items():
            pairs += 1
            row = existing.get((query, product))
            if row is None:
                session.add(Judgment(query=query, product_id=product, grade=float(grade), source=source[:100],
                                     updated_by=by, updated_at=now))
            else:
                row.grade, row.source, row.updated_by, row.updated_at = float(grade), source[:100], by, now
    session.flush()
    return ImportReport(len(judgments), pairs, replace)


def grade(session: Session, query: str, product_id: str, value: float, by: str) -> Judgment:
    """Set one grade (the console's grading); the query is normalised as imported ones are."""
    query, product_id = normalize_query(query), product_id.strip()
    if not query or not product_id:
        raise JudgmentsError("must not be empty", field="query" if not query else "product_id")
    problem = length_problem(query, product_id)
    if problem is not None:
        raise JudgmentsError(problem[1], field=problem[0])
    if not math.isfinite(value) or not 0 <= value <= MAX_GRADE:
        raise JudgmentsError(f"must be from 0 to {MAX_GRADE:g}", field="grade")
    row = session.scalar(select(Judgment).where(Judgment.query == query, Judgment.product_id == product_id))
    if row is None:
        row = Judgment(query=query, product_id=product_id, grade=value, source="console", updated_by=by)
        session.add(row)
    else:
        row.grade, row.source, row.updated_by, row.updated_at = value, "console", by, utcnow()
    session.flush()
    return row


def load(session: Session, split: str = "all") -> Judgments:
    judgments: dict[str, dict[str, float]] = defaultdict(dict)
    for query, product, value in session.execute(select(Judgment.query, Judgment.product_id, Judgment.grade)):
        if split == "all" or split_of(query) == split:
            judgments[query][product] = value
    return dict(judgments)


def for_query(session: Session, query: str) -> dict[str, float]:
    rows = session.execute(select(Judgment.product_id, Judgment.grade).where(Judgment.query == normalize_query(query)))
    return {product: value for product, value in rows}


def coverage(session: Session, limit: int = 200, search: str = "") -> list[dict]:
    """Per query: judged pairs, relevant pairs (grade > 0), its split; most judged first."""
    statement = (select(Judgment.query, func.count(), func.sum(func.cast(Judgment.grade > 0, Judgment.id.type)))
                 .group_by(Judgment.query).order_by(func.count().desc(), Judgment.query).limit(limit))
    if search:
        statement = statement.where(Judgment.query.contains(normalize_query(search)))
    return [{"query": q, "judged": n, "relevant": int(r or 0), "split": split_of(q)}
            for q, n, r in session.execute(statement)]


def totals(session: Session) -> dict[str, int]:
    queries, pairs = session.execute(select(func.count(func.distinct(Judgment.query)), func.count())
                                     .select_from(Judgment)).one()
    return {"queries": queries, "pairs": pairs}


def export_csv(session: Session) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["query", "product_id", "grade"])
    for row in session.execute(select(Judgment.query, Judgment.product_id, Judgment.grade)
                               .order_by(Judgment.query, Judgment.product_id)):
        writer.writerow(row)
    return out.getvalue()


def export_qrels(session: Session) -> tuple[str, str]:
    """TREC qrels and its topics file (``qid<TAB>query``), query ids numbered in query order."""
    qids: dict[str, int] = {}
    qrels, topics = io.StringIO(), io.StringIO()
    for query, product, value in session.execute(select(Judgment.query, Judgment.product_id, Judgment.grade)
                                                 .order_by(Judgment.query, Judgment.product_id)):
        if query not in qids:
            qids[query] = len(qids) + 1
            topics.write(f"{qids[query]}\t{query}\n")
        qrels.write(f"{qids[query]} 0 {product} {value:g}\n")
    return qrels.getvalue(), topics.getvalue()
