"""Judgments in SQL (SQLite here, PostgreSQL in tests/integration/test_postgres_judgments.py): what cannot be
stored is refused with the field or the file line named, and nothing of it is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import migrate
from core.db.models import Judgment
from core.db.session import session_scope
from evaluation import judgment_store
from evaluation.judgments import MAX_PRODUCT_ID_CHARS, JudgmentsError, load_csv, load_trec
from storefront.request import MAX_QUERY_CHARS

LONG = "drill " * 1000


@pytest.fixture()
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'judgments.db'}"
    migrate.upgrade(url)
    return url


def stored(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Judgment))


def test_the_loaders_name_the_line_of_a_query_or_id_too_long_to_judge(tmp_path: Path) -> None:
    csv_file = tmp_path / "j.csv"
    csv_file.write_text(f"query,product_id,grade\ndrill,p1,2\n{LONG},p2,1\n")
    with pytest.raises(JudgmentsError, match=f"j.csv:3: query must be at most {MAX_QUERY_CHARS} characters "
                                             r"\(this one has 5,999\)"):
        load_csv(csv_file)
    csv_file.write_text(f"query,product_id,grade\ndrill,{'p' * (MAX_PRODUCT_ID_CHARS + 1)},1\n")
    with pytest.raises(JudgmentsError, match="j.csv:2: product_id must be at most 512"):
        load_csv(csv_file)
    # At the limit (after normalisation: the stored text is what counts) it loads.
    csv_file.write_text(f"query,product_id,grade\n{'x' * MAX_QUERY_CHARS}   ,{'p' * MAX_PRODUCT_ID_CHARS},1\n")
    assert len(next(iter(load_csv(csv_file)))) == MAX_QUERY_CHARS
    qrels, topics = tmp_path / "q.qrels", tmp_path / "q.topics"
    qrels.write_text("1 0 p1 2\n")
    topics.write_text(f"\n1\t{LONG}\n")
    with pytest.raises(JudgmentsError, match="q.topics:2: query must be at most"):
        load_trec(qrels, topics)


def test_an_import_with_one_query_too_long_stores_nothing(url: str) -> None:
    with session_scope(url) as session:
        judgment_store.import_judgments(session, {"drill": {"p1": 2.0}}, "first", "t")
    with pytest.raises(JudgmentsError, match="query must be at most 500 characters"):
        with session_scope(url) as session:
            judgment_store.import_judgments(session, {"hammer": {"p1": 1.0}, LONG.strip(): {"p2": 1.0}}, "second",
                                            "t", replace=True)
    with session_scope(url) as session:
        assert judgment_store.load(session) == {"drill": {"p1": 2.0}}  # not even the replace's delete ran


def test_a_grade_names_the_field_it_refuses(url: str) -> None:
    cases = {("", "p1", 1.0): "query", (LONG, "p1", 1.0): "query", ("drill", " ", 1.0): "product_id",
             ("drill", "p" * 513, 1.0): "product_id", ("drill", "p1", -1.0): "grade",
             ("drill", "p1", float("inf")): "grade"}
    for (query, product, value), field in cases.items():
        with session_scope(url) as session, pytest.raises(JudgmentsError) as refused:
            judgment_store.grade(session, query, product, value, "tess")
        assert refused.value.field == field and str(refused.value).startswith(f"{field}: "), (field, refused.value)
    assert stored(url) == 0
