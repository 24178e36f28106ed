"""The words of a title as product search reads them: sizes, units and plurals written one way.

Shop titles and queries write one size three ways ("1/2 in." / "1/2 inch" / 1/2"), "2x4" against
"2 in. x 4 in.", "18v" against "18-Volt", and plurals the unstemmed fields leave alone. This is the one
tokenizer of the query-title matching features (:mod:`ltr.ranker.title_match`): the indexer stores each
title's tokens as doc values (``title_terms``, ``title_length``) so the engine never re-reads a title at
query time, and the featureset's painless tokenizes the query the same way (written line by line alike:
change both or neither).

Tokens: lower-cased runs of letters, and numbers (digits with inner ``.`` or ``/``: "1.5", "3/4");
a digit-letter boundary splits ("18v" -> 18, v; "2x4" -> 2, x, 4); a ``"`` (or ``''``) after a number
is "in" and a ``'`` is "ft"; unit words map to one spelling (inches -> in, volts -> v...); common
stop words go, except "in" right after a number; a trailing "s" goes from words of four letters or
more ("drills" -> drill, but not "glass").
"""

from __future__ import annotations


#: One spelling per unit, both in queries and titles.
UNITS = {"inch": "in", "inches": "in", "feet": "ft", "foot": "ft", "gallon": "gal", "gallons": "gal",
         "lbs": "lb", "pound": "lb", "pounds": "lb", "ounce": "oz", "ounces": "oz", "volt": "v", "volts": "v",
         "watt": "w", "watts": "w", "amps": "amp", "quart": "qt", "quarts": "qt", "cubic": "cu", "square": "sq"}
#: Words of sizes ("10 ft", "2 x 4"): never a query's head noun.
SIZE_WORDS = tuple(sorted(set(UNITS.values()) | {"in", "x"}))
STOP_WORDS = ("for", "with", "and", "the", "a", "an", "of", "to", "in", "on", "by", "or")


def digit(c: str) -> bool:
    return "0" <= c <= "9"


def tokens(text: str) -> list[str]:
    """The normalised tokens of a query or a title, in order (see the module docstring)."""
    s = text.lower()
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if digit(c):
            j = i + 1
            while j < n and (digit(s[j]) or (s[j] in "./" and j + 1 < n and digit(s[j + 1]))):
                j += 1
            out.append(s[i:j])
            k = j
            while k < n and s[k] == " ":
                k += 1
            if k < n and s[k] == '"':
                out.append("in")
                j = k + 1
            elif k + 1 < n and s[k] == "'" and s[k + 1] == "'":
                out.append("in")
                j = k + 2
            elif k < n and s[k] == "'":
                out.append("ft")
                j = k + 1
            i = j
        elif c.isalpha():
            j = i + 1
            while j < n and s[j].isalpha():
                j += 1
            word = UNITS.get(s[i:j], s[i:j])
            after_number = bool(out) and digit(out[-1][0])
            if word in STOP_WORDS and not (after_number and word == "in"):
                i = j
                continue
            if len(word) > 3 and word[-1] == "s" and word[-2] != "s":
                word = word[:-1]
            out.append(word)
            i = j
        else:
            i += 1
    return out
