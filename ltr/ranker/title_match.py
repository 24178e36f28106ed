"""Query-title matching a product search engineer adds to BM25: sizes, plurals and typos.

BM25 over the english analyzer misses what shop queries are full of: sizes written three ways
("1/2 in." / "1/2 inch" / 1/2"), "2x4" against "2 in. x 4 in.", "18v" against "18-Volt", plurals the
stemmer leaves alone on unstemmed fields, and typos ("drils"). And it cannot say whether *all* of the
query is in the title, or whether the head noun (the last word: "battery" in "cordless drill battery",
the kind of product wanted) is.

These features are computed in the engine: painless script features (source ``match``) over the query
text (the ``keywords`` param), tokenized by :mod:`indexer.title_terms`'s rules written in painless, and
the title's tokens, which the indexer stores as doc values (so no title is re-read at query time), so a
stored featureset serves them with nothing in a Python process. This module holds the same features in
Python: the reference the engine is checked against (tests/integration) and what unit tests use. The
two are written line by line alike; change both or neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer import schema, title_codes
from indexer.title_terms import SIZE_WORDS, STOP_WORDS, UNITS, digit, tokens

def close(a: str, b: str) -> bool:
    """Typo-tolerant equality of two tokens: equal; or both of 4+ characters and one a prefix of the
    other ("cordles" / "cordless"); or of 5+ characters and one edit apart (a substitution, an
    insertion or deletion, or two swapped neighbours)."""
    if a == b:
        return True
    if len(a) >= 4 and len(b) >= 4 and (a.startswith(b) or b.startswith(a)):
        return True
    if len(a) < 5 or len(b) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        first, second, differences = -1, -1, 0
        for k in range(len(a)):
            if a[k] != b[k]:
                differences += 1
                if first < 0:
                    first = k
                else:
                    second = k
        if differences <= 1:
            return True
        return (differences == 2 and second == first + 1 and a[first] == b[second]
                and a[second] == b[first])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    k = 0
    while k < len(short) and short[k] == long_[k]:
        k += 1
    return short[k:] == long_[k + 1:]


def _found(word: str, title: set[str]) -> bool:
    return word in title or any(close(word, t) for t in title)


@dataclass(frozen=True)
class TitleMatch:
    """The matching features of one (query, title) pair; 0 for an empty query or title."""

    coverage: float  # share of the query's tokens found in the title (typo-tolerant)
    head_match: float  # 1 if the query's head noun (its last word, sizes aside) is found in the title
    numbers_missing: float  # how many of the query's numbers the title lacks
    title_tokens: float  # the title's length in tokens: a short title that matches says more


def title_match(query: str, title: str) -> TitleMatch:
    q, words_of_title = tokens(query), tokens(title)
    t = set(words_of_title)  # what the index keeps: the distinct tokens, and their count
    if not q or not t:
        return TitleMatch(0.0, 0.0, 0.0, float(len(words_of_title)))
    words = [w for w in q if not digit(w[0]) and w not in SIZE_WORDS]
    head = words[-1] if words else q[-1]
    numbers = [w for w in q if digit(w[0])]
    return TitleMatch(
        coverage=sum(_found(w, t) for w in q) / len(q),
        head_match=float(_found(head, t)),
        numbers_missing=float(sum(w not in t for w in numbers)),
        title_tokens=float(len(words_of_title)),
    )


# --- The same in painless (the engine's side). Character.isLetter stands for str.isalpha. ---------------

def _painless_units() -> str:
    by_spelling: dict[str, list[str]] = {}
    for word, spelling in UNITS.items():
        by_spelling.setdefault(spelling, []).append(word)
    lines = [f"if ({' || '.join(f'w == {word!r}' for word in words)}) return {spelling!r};"
             for spelling, words in by_spelling.items()]
    return "String shelfUnit(String w) { " + " ".join(lines) + " return w; }"


_TOKENIZER = (
    "boolean shelfDigit(char c) { return c >= (char) '0' && c <= (char) '9'; }",
    _painless_units(),
    "boolean shelfSize(String w) { return " + " || ".join(f"w == {w!r}" for w in SIZE_WORDS) + "; }",
    "boolean shelfStop(String w) { return " + " || ".join(f"w == {w!r}" for w in STOP_WORDS) + "; }",
    """List shelfTokens(String text) {
      String s = text.toLowerCase(); List out = new ArrayList(); int i = 0; int n = s.length();
      while (i < n) {
        char c = s.charAt(i);
        if (shelfDigit(c)) {
          int j = i + 1;
          while (j < n && (shelfDigit(s.charAt(j)) || ((s.charAt(j) == (char) '.' || s.charAt(j) == (char) '/')
                 && j + 1 < n && shelfDigit(s.charAt(j + 1))))) { j++; }
          out.add(s.substring(i, j));
          int k = j;
          while (k < n && s.charAt(k) == (char) ' ') { k++; }
          if (k < n && s.charAt(k) == (char) '"') { out.add('in'); j = k + 1; }
          else if (k + 1 < n && s.charAt(k) == (char) "'" && s.charAt(k + 1) == (char) "'") { out.add('in'); j = k + 2; }
          else if (k < n && s.charAt(k) == (char) "'") { out.add('ft'); j = k + 1; }
          i = j;
        } else if (Character.isLetter(c)) {
          int j = i + 1;
          while (j < n && Character.isLetter(s.charAt(j))) { j++; }
          String w = shelfUnit(s.substring(i, j));
          boolean afterNumber = out.size() > 0 && shelfDigit(((String) out.get(out.size() - 1)).charAt(0));
          if (shelfStop(w) && !(afterNumber && w == 'in')) { i = j; continue; }
          if (w.length() > 3 && w.charAt(w.length() - 1) == (char) 's' && w.charAt(w.length() - 2) != (char) 's') {
            w = w.substring(0, w.length() - 1);
          }
          out.add(w); i = j;
        } else { i++; }
      }
      return out;
    }""",
)
_PRELUDE = " ".join(_TOKENIZER + (
    """boolean shelfClose(String a, String b) {
      if (a == b) { return true; }
      int la = a.length(); int lb = b.length();
      if (la >= 4 && lb >= 4 && (a.startsWith(b) || b.startsWith(a))) { return true; }
      if (la < 5 || lb < 5 || Math.abs(la - lb) > 1) { return false; }
      if (la == lb) {
        int first = -1; int second = -1; int differences = 0;
        for (int k = 0; k < la; k++) {
          if (a.charAt(k) != b.charAt(k)) { differences++; if (first < 0) { first = k; } else { second = k; } }
        }
        if (differences <= 1) { return true; }
        return differences == 2 && second == first + 1 && a.charAt(first) == b.charAt(second)
               && a.charAt(second) == b.charAt(first);
      }
      String s = la < lb ? a : b; String l = la < lb ? b : a; int k = 0;
      while (k < s.length() && s.charAt(k) == l.charAt(k)) { k++; }
      return s.substring(k) == l.substring(k + 1);
    }""",
    "boolean shelfFound(String w, List t) { if (t.contains(w)) { return true; } "
    "for (def x : t) { if (shelfClose(w, (String) x)) { return true; } } return false; }",
))

#: The shared start of the features: the query's tokens and the title's distinct tokens from doc values
#: (0 for a product without them: an empty title, or an index built before they were stored).
_TOKENS = (f" if (!doc.containsKey('{schema.TITLE_TERMS}') || doc['{schema.TITLE_TERMS}'].size() == 0) "
           "{ return 0.0; } "
           f"List q = shelfTokens(params.keywords); List t = doc['{schema.TITLE_TERMS}']; ")
_EMPTY = "if (q.size() == 0) { return 0.0; } "

#: Feature name -> its painless script (the same values as :class:`TitleMatch`'s fields).
PAINLESS = {
    "coverage": _PRELUDE + _TOKENS + _EMPTY
    + "int found = 0; for (def w : q) { if (shelfFound((String) w, t)) { found++; } } "
      "return (double) found / q.size();",
    "head_match": _PRELUDE + _TOKENS + _EMPTY
    + "String head = (String) q.get(q.size() - 1); "
      "for (int k = q.size() - 1; k >= 0; k--) { String w = (String) q.get(k); "
      "if (!shelfDigit(w.charAt(0)) && !shelfSize(w)) { head = w; break; } } "
      "return shelfFound(head, t) ? 1.0 : 0.0;",
    "numbers_missing": _PRELUDE + _TOKENS + _EMPTY
    + "int missing = 0; for (def w : q) { String s = (String) w; "
      "if (shelfDigit(s.charAt(0)) && !t.contains(s)) { missing++; } } return (double) missing;",
    "title_tokens": f"if (!doc.containsKey('{schema.TITLE_LENGTH}') || doc['{schema.TITLE_LENGTH}'].size() == 0) "
                    f"{{ return 0.0; }} return (double) doc['{schema.TITLE_LENGTH}'].value;",
}


# --- Version 3: the same features over the title's codes (indexer.title_codes), long doc values. ---------

def coded_title_match(query: str, codes: set[int] | frozenset[int], length: int) -> TitleMatch:
    """:func:`title_match` computed the way the v3 featuresets' painless does: from the title's codes
    (``title_codes(tokens(title))``) and token count instead of its text. Equal to :func:`title_match`
    up to 64-bit collisions; the unit tests check it on real titles."""
    q = tokens(query)
    if not q or not codes:
        return TitleMatch(0.0, 0.0, 0.0, float(length))
    words = [w for w in q if not digit(w[0]) and w not in SIZE_WORDS]
    head = words[-1] if words else q[-1]
    numbers = [w for w in q if digit(w[0])]
    return TitleMatch(
        coverage=sum(title_codes.found(w, codes) for w in q) / len(q),
        head_match=float(title_codes.found(head, codes)),
        numbers_missing=float(sum(title_codes.code(title_codes.EXACT, title_codes.units(w)) not in codes
                                  for w in numbers)),
        title_tokens=float(length),
    )


_CODED = " ".join(_TOKENIZER + (
    f"""long shelfCode(int tag, String s, int end, int skip, int swap) {{
      long h = {title_codes.SEED}L; h = (h ^ tag) * {title_codes.PRIME}L;
      for (int k = 0; k < end; k++) {{
        if (k == skip) {{ continue; }}
        int j = k; if (k == swap) {{ j = k + 1; }} else if (swap >= 0 && k == swap + 1) {{ j = k - 1; }}
        h = (h ^ (long) s.charAt(j)) * {title_codes.PRIME}L;
      }}
      return h;
    }}""",
    """boolean shelfHas(def c, long x) {
      int lo = 0; int hi = c.size() - 1;
      while (lo <= hi) {
        int m = (lo + hi) >>> 1; long v = c.get(m);
        if (v < x) { lo = m + 1; } else if (v > x) { hi = m - 1; } else { return true; }
      }
      return false;
    }""",
    f"""boolean shelfFound(String w, def c) {{
      int n = w.length();
      if (shelfHas(c, shelfCode({title_codes.EXACT}, w, n, -1, -1))) {{ return true; }}
      if (n >= 4) {{
        if (shelfHas(c, shelfCode({title_codes.PREFIX}, w, n, -1, -1))) {{ return true; }}
        for (int k = 4; k < n; k++) {{ if (shelfHas(c, shelfCode({title_codes.EXACT}, w, k, -1, -1))) {{ return true; }} }}
      }}
      if (n >= 5) {{
        if (shelfHas(c, shelfCode({title_codes.SWAP}, w, n, -1, -1))
            || shelfHas(c, shelfCode({title_codes.DROP}, w, n, -1, -1))) {{ return true; }}
        for (int i = 0; i < n; i++) {{
          if (shelfHas(c, shelfCode({title_codes.DELETED_AT} + i, w, n, i, -1))) {{ return true; }}
          if (n >= 6 && shelfHas(c, shelfCode({title_codes.EXACT}, w, n, i, -1))) {{ return true; }}
        }}
      }}
      return false;
    }}""",
))

def coded_painless(field_name: str, before: str = "") -> dict[str, str]:
    """Feature name -> its painless script over the codes in ``field_name`` (the values of
    :func:`coded_title_match` for the words those codes were made from); ``before`` runs first (after the
    functions), for a feature that may take its value from a param instead."""
    codes = (f"{' ' + before if before else ''} if (!doc.containsKey('{field_name}') || doc['{field_name}'].size() == 0) "
             "{ return 0.0; } "
             f"List q = shelfTokens(params.keywords); def t = doc['{field_name}']; ")
    return {
        "coverage": _CODED + codes + _EMPTY
        + "int found = 0; for (def w : q) { if (shelfFound((String) w, t)) { found++; } } "
          "return (double) found / q.size();",
        "head_match": _CODED + codes + _EMPTY
        + "String head = (String) q.get(q.size() - 1); "
          "for (int k = q.size() - 1; k >= 0; k--) { String w = (String) q.get(k); "
          "if (!shelfDigit(w.charAt(0)) && !shelfSize(w)) { head = w; break; } } "
          "return shelfFound(head, t) ? 1.0 : 0.0;",
        "numbers_missing": _CODED + codes + _EMPTY
        + "int missing = 0; for (def w : q) { String s = (String) w; "
          f"if (shelfDigit(s.charAt(0)) && !shelfHas(t, shelfCode({title_codes.EXACT}, s, s.length(), -1, -1))) "
          "{ missing++; } } return (double) missing;",
    }


#: Feature name -> its painless script over the title's codes (the values of :func:`coded_title_match`).
PAINLESS_CODED = {**coded_painless(schema.TITLE_CODES), "title_tokens": PAINLESS["title_tokens"]}
