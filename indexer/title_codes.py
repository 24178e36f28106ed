"""The title's tokens as 64-bit codes: what lets the engine's typo-tolerant match read numbers, not strings.

The match features (:mod:`ltr.ranker.title_match`) ask, per query token, whether the title holds it
or a close spelling of it: a prefix ("cordles" / "cordless"), one substitution, one insertion or
deletion, two swapped neighbours. Read from keyword doc values, every title token is an ordinal
looked up in the segment's term dictionary, and that lookup was most of the rerank's cost
(docs/measurements.md, "Engine rerank latency"). So the indexer also stores, per title, the sorted
set of codes of every spelling a query token could match it by, and the engine tests a query token
by hashing it (and its few variants) and binary-searching the title's codes: long doc values, no
dictionary.

The codes are FNV-1a over a tag and the token's UTF-16 units (what painless's ``charAt`` reads), so
Python and painless compute the same bits. Per title token ``t`` of length L:

- ``EXACT`` of ``t``: the token itself (and what a longer query token's prefixes and deletions hit);
- L >= 5: ``PREFIX`` of each ``t[:k]``, 4 <= k < L (a query token that is a prefix of ``t``);
  ``SWAP`` of ``t`` with neighbours i, i+1 swapped (a transposition); ``DELETED_AT + i`` of ``t``
  without its i-th character (a substitution at i: both sides drop the same position);
- L >= 6: ``DROP`` of ``t`` without one character (a query token one character short).

Which tests a query token makes is :func:`found`; together they are exactly
:func:`ltr.ranker.title_match.close` (up to 64-bit collisions).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: FNV-1a 64-bit offset basis (as a signed long, the way painless writes it) and prime.
SEED = -3750763034362895579
PRIME = 1099511628211
EXACT, PREFIX, SWAP, DROP, DELETED_AT = 1, 2, 3, 4, 16
_MASK = (1 << 64) - 1


def units(token: str) -> list[int]:
    """The token's UTF-16 code units: Java's ``String.charAt`` sees these, not code points."""
    raw = token.encode("utf-16-le")
    return [raw[k] | raw[k + 1] << 8 for k in range(0, len(raw), 2)]


def code(tag: int, chars: Sequence[int]) -> int:
    """FNV-1a of ``tag`` then ``chars``, as a signed 64-bit integer (a long doc value)."""
    h = SEED & _MASK
    h = ((h ^ tag) * PRIME) & _MASK
    for c in chars:
        h = ((h ^ c) * PRIME) & _MASK
    return h - (1 << 64) if h >> 63 else h


def token_codes(token: str) -> set[int]:
    """Every code a query token may look up to match ``token`` (see the module docstring)."""
    u = units(token)
    n = len(u)
    out = {code(EXACT, u)}
    if n >= 5:
        out.update(code(PREFIX, u[:k]) for k in range(4, n))
        out.update(code(SWAP, u[:i] + [u[i + 1], u[i]] + u[i + 2:]) for i in range(n - 1) if u[i] != u[i + 1])
        out.update(code(DELETED_AT + i, u[:i] + u[i + 1:]) for i in range(n))
    if n >= 6:
        out.update(code(DROP, u[:i] + u[i + 1:]) for i in range(n))
    return out


def title_codes(words: Iterable[str]) -> list[int]:
    """The sorted distinct codes of a title's tokens: what the index stores as long doc values."""
    out: set[int] = set()
    for word in set(words):
        out |= token_codes(word)
    return sorted(out)


def found(word: str, codes: set[int] | frozenset[int]) -> bool:
    """Whether a query token matches a title whose codes are ``codes``: equal, a prefix either way (both
    of 4+ characters), or one edit apart (both of 5+). The painless in :mod:`ltr.ranker.title_match`
    makes the same tests in the same order."""
    u = units(word)
    n = len(u)
    if code(EXACT, u) in codes:
        return True
    if n >= 4:
        if code(PREFIX, u) in codes:  # the query token is a prefix of a title token
            return True
        if any(code(EXACT, u[:k]) in codes for k in range(4, n)):  # a title token is a prefix of it
            return True
    if n >= 5:
        if code(SWAP, u) in codes or code(DROP, u) in codes:  # a transposition; one character short
            return True
        for i in range(n):
            if code(DELETED_AT + i, u[:i] + u[i + 1:]) in codes:  # a substitution at i
                return True
            if n >= 6 and code(EXACT, u[:i] + u[i + 1:]) in codes:  # one character too many
                return True
    return False
