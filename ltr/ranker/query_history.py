"""Query history: the queries that wanted a product, and how well a new query matches them.

A title says what a product is; a shop's history says what people who bought it typed. "toilet
flapper" finds the right part whether or not its title says "flapper", once shoppers who typed
something close chose it. The history of a product is the set of queries it was labelled relevant
for (a human grade, or a click model's label of the shop's own clicks, at least ``MIN_LABEL``).

The engine reads the history as two document fields (``shelfrank index history``): the codes of
the history's tokens (:mod:`indexer.title_codes`, the typo-tolerant codes the title's match features
use) and the number of queries. Its features are the count, the share of the query's tokens the
history holds, and whether it holds the query's head noun: :func:`history_match`.

Training must not learn from a pair's own label through its features: a train query's own labels
are in every document's history. So training computes each row *leaving its own query out* and passes
the values as the ``sltr`` param ``history_values``, which the script features take over the
documents' fields; serving sends none and the engine reads the documents. A query the history has
never seen (every test query) gets what training saw: the history of other queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

from indexer.title_codes import token_codes
from indexer.title_terms import tokens
from ltr.ranker.title_match import coded_title_match

#: Labels are 0..4 (:mod:`ltr.ranker.labels`): 1 keeps every pair judged or clicked at least a little
#: relevant (Home Depot relevance 1.33 and up), chosen on the validation slice (docs/measurements.md).
MIN_LABEL = 1

QueryHistory = Mapping[str, tuple[str, ...]]  # product id -> the queries that wanted it, sorted


def history_from_labels(labels: Mapping[str, Mapping[str, float]],
                        min_label: float = MIN_LABEL) -> dict[str, tuple[str, ...]]:
    """Each product's queries among ``labels`` (query -> product -> label) with a label of at least ``min_label``."""
    wanted: dict[str, set[str]] = {}
    for query, graded in labels.items():
        for product, label in graded.items():
            if label >= min_label:
                wanted.setdefault(product, set()).add(query)
    return {product: tuple(sorted(queries)) for product, queries in wanted.items()}


def history_codes(queries: Iterable[str]) -> list[int]:
    """What a document stores for its history: the sorted codes of every token of those queries."""
    return sorted(_codes(queries))


@lru_cache(maxsize=65536)
def _word_codes(word: str) -> frozenset[int]:
    return frozenset(token_codes(word))


def _codes(queries: Iterable[str]) -> set[int]:
    out: set[int] = set()
    for query in queries:
        for word in tokens(query):
            out |= _word_codes(word)
    return out


def history_match(query: str, queries: Sequence[str]) -> tuple[float, float, float]:
    """(how many queries, coverage of the query's tokens by theirs, head noun found): the values the
    engine's history features compute on a document whose history is ``queries``."""
    if not queries:
        return 0.0, 0.0, 0.0
    match = coded_title_match(query, _codes(queries), 0)
    return float(len(queries)), match.coverage, match.head_match


def leave_one_out(history: QueryHistory, query: str, product_ids: Sequence[str]) -> dict[str, list[float]]:
    """Training's values for one query's candidates: each product's history without ``query`` itself."""
    return {pid: list(history_match(query, [q for q in history.get(pid, ()) if q != query])) for pid in product_ids}
