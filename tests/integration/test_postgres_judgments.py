"""Judgments on PostgreSQL (the project's own server, as in test_postgres.py): a query longer than the
storefront searches is refused before it reaches the unique index, which would fail the whole import."""

from __future__ import annotations

import random

import pytest
from sqlalchemy.exc import OperationalError

from core.db.models import Judgment
from core.db.session import session_scope
from evaluation import judgment_store
from evaluation.judgments import MAX_PRODUCT_ID_CHARS, JudgmentsError
from storefront.request import MAX_QUERY_CHARS

pytestmark = pytest.mark.integration


@pytest.fixture
def url(postgres_url: str) -> str:
    return postgres_url


def test_a_query_too_long_for_the_unique_index_is_refused_before_it_gets_there(url: str) -> None:
    rng = random.Random(16)
    huge = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(5000)).strip()  # barely compressible
    # Why the limit: stored as it is, the pair's index row overflows btree's 2,704 bytes.
    with pytest.raises(OperationalError, match="index row size"):
        with session_scope(url) as session:
            session.add(Judgment(query=huge, product_id="p1", grade=1.0, source="t", updated_by="t"))
    with session_scope(url) as session:
        judgment_store.import_judgments(session, {"drill": {"p1": 2.0}}, "first", "t")
    with pytest.raises(JudgmentsError, match="query must be at most 500"):
        with session_scope(url) as session:
            judgment_store.import_judgments(session, {"hammer": {"p2": 1.0}, huge: {"p1": 1.0}}, "f", "t")
    with pytest.raises(JudgmentsError) as refused, session_scope(url) as session:
        judgment_store.grade(session, huge, "p1", 1.0, "tess")
    assert refused.value.field == "query"
    # At the limits, even in three-byte characters, the pair is stored.
    longest = "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(MAX_QUERY_CHARS))
    with session_scope(url) as session:
        judgment_store.grade(session, longest, "p" * MAX_PRODUCT_ID_CHARS, 1.0, "tess")
    with session_scope(url) as session:
        assert set(judgment_store.load(session)) == {"drill", longest}
