"""The storefront's search tuning: what a search engineer may change without a deploy (pure).

A tuning is a small, validated value: the served retrieval configuration, fusion weight and RRF k,
BM25 field boosts, retrieval depths (BM25 candidates; the k-NN query's k and graph search depth), the
rerank window and query-time synonyms. Versions of it are stored by :mod:`storefront.tuning_store`;
this module only parses, validates and turns one into the retrieval configurations a search uses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from indexer import schema
from storefront.retrieval import RetrievalConfig, default_configs

#: The BM25 fields a tuning may boost, by the name the console shows, with today's boosts.
DEFAULT_BOOSTS: dict[str, float] = {"title": 3.0, "title_exact": 1.5, "title_shingles": 1.5, "brand": 2.0,
                                    "category": 1.5, "description": 0.5}
_FIELD_OF = {"title": schema.TITLE, "title_exact": schema.TITLE_EXACT, "title_shingles": schema.TITLE_SHINGLES,
             "brand": schema.BRAND, "category": schema.CATEGORY_TEXT, "description": schema.DESCRIPTION}
SERVED_CONFIGS = ("bm25", "vector", "hybrid-rrf", "hybrid-minmax", "hybrid-zscore")
#: Deepest k-NN graph search a tuning may ask for, like the other depths' 1000: the node matches that many
#: products on every search before it returns k.
MAX_EF_SEARCH = 1000
MAX_SYNONYM_GROUPS = 500
_TERM = re.compile(r"^[\w][\w\- ./&']{0,59}$")


class TuningError(ValueError):
    """A tuning value is not acceptable; ``field`` names the input at fault (shown next to it)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class SearchTuning:
    config: str = "hybrid-minmax"
    vector_weight: float = 0.4
    rrf_k: float = 60.0
    candidates: int = 100
    vector_candidates: int = 30
    #: The k-NN graph search depth (lucene's ef_search, see RetrievalConfig.ef_search); None: k.
    vector_ef_search: int | None = None
    rerank_window: int = 200
    boosts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_BOOSTS))
    synonyms: tuple[tuple[str, ...], ...] = ()

    def as_dict(self) -> dict:
        return {"config": self.config, "vector_weight": self.vector_weight, "rrf_k": self.rrf_k,
                "candidates": self.candidates, "vector_candidates": self.vector_candidates,
                "vector_ef_search": self.vector_ef_search, "rerank_window": self.rerank_window,
                "boosts": dict(self.boosts), "synonyms": [list(group) for group in self.synonyms]}

    def changes_from(self, other: SearchTuning) -> dict[str, tuple[object, object]]:
        """What differs, as ``{name: (other's value, this value)}``: the diff a person reviews."""
        mine, theirs = self.as_dict(), other.as_dict()
        return {key: (theirs[key], mine[key]) for key in mine if mine[key] != theirs[key]}


@dataclass(frozen=True)
class ServedTuning:
    """What one search reads from the tuning: the named configurations, the default, the rerank window."""

    configs: Mapping[str, RetrievalConfig]
    default_config: str
    rerank_window: int | None = None
    version: int | None = None  # the stored version served, None for the settings' defaults


def from_settings(settings) -> SearchTuning:  # type: ignore[no-untyped-def] - core.settings.Settings
    """The tuning a shop starts with: the values in settings (chosen on the train split)."""
    return SearchTuning(config=settings.search_config, vector_weight=settings.hybrid_vector_weight,
                        candidates=settings.search_candidates, vector_candidates=settings.hybrid_vector_candidates,
                        rerank_window=settings.rerank_window)


def _number(values: Mapping, name: str, low: float, high: float, integer: bool = False) -> float:
    value = values[name]
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise TuningError(name, f"must be {'an integer' if integer else 'a number'}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and value != int(value)):
        raise TuningError(name, f"must be {'an integer' if integer else 'a number'}")
    if not low <= value <= high:
        raise TuningError(name, f"must be from {low:g} to {high:g}")
    return int(value) if integer else float(value)


def _ef_search(values: Mapping, vector_candidates: int) -> int | None:
    """The graph search depth: empty means the engine's default (k). One below the hybrid's k is refused, as
    the node searches at least k deep anyway: the setting would do nothing."""
    value = values["vector_ef_search"]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    depth = int(_number({"vector_ef_search": value}, "vector_ef_search", 1, MAX_EF_SEARCH, integer=True))
    if depth < vector_candidates:
        raise TuningError("vector_ef_search", f"must be at least the k-NN candidates ({vector_candidates}): the "
                          "graph search always looks that deep; leave it empty for the engine's default")
    return depth


def parse_synonyms(text: str) -> tuple[tuple[str, ...], ...]:
    """One group per line, terms separated by commas (``fridge, refrigerator``); blank lines ignored."""
    groups: list[tuple[str, ...]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        terms = tuple(dict.fromkeys(" ".join(t.split()).lower() for t in line.split(",") if t.strip()))
        if len(terms) < 2:
            raise TuningError("synonyms", f"line {number}: a group needs at least two terms separated by commas")
        bad = [t for t in terms if not _TERM.match(t)]
        if bad:
            raise TuningError("synonyms", f"line {number}: {bad[0][:60]!r} is not a term (letters, digits, spaces "
                              "and - . / & ' only, at most 60 characters)")
        groups.append(terms)
    if len(groups) > MAX_SYNONYM_GROUPS:
        raise TuningError("synonyms", f"at most {MAX_SYNONYM_GROUPS} groups")
    return tuple(groups)


def parse_tuning(values: Mapping, base: SearchTuning | None = None) -> SearchTuning:
    """A tuning from untrusted input (a form or JSON); missing keys keep ``base``'s values."""
    base = base or SearchTuning()
    merged = {**base.as_dict(), **{k: v for k, v in values.items() if v is not None}}
    unknown = set(values) - set(base.as_dict())
    if unknown:
        raise TuningError(sorted(unknown)[0], "unknown setting")
    if merged["config"] not in SERVED_CONFIGS:
        raise TuningError("config", f"must be one of {', '.join(SERVED_CONFIGS)}")
    boosts_in = merged["boosts"]
    if not isinstance(boosts_in, Mapping):
        raise TuningError("boosts", "must map field names to numbers")
    unknown_fields = set(boosts_in) - set(DEFAULT_BOOSTS)
    if unknown_fields:
        raise TuningError(f"boosts.{sorted(unknown_fields)[0]}", "unknown field")
    boosts = {name: _number({f"boosts.{name}": boosts_in.get(name, DEFAULT_BOOSTS[name])}, f"boosts.{name}", 0, 100)
              for name in DEFAULT_BOOSTS}
    if not any(boosts.values()):
        raise TuningError("boosts", "at least one field needs a boost above 0")
    synonyms_in = merged["synonyms"]
    if isinstance(synonyms_in, str):
        synonyms = parse_synonyms(synonyms_in)
    elif isinstance(synonyms_in, (list, tuple)) and all(isinstance(g, (list, tuple)) for g in synonyms_in):
        synonyms = parse_synonyms("\n".join(", ".join(str(t) for t in group) for group in synonyms_in))
    else:
        raise TuningError("synonyms", "must be lines of comma-separated terms")
    vector_candidates = int(_number(merged, "vector_candidates", 0, 1000, integer=True))
    tuning = SearchTuning(
        config=merged["config"],
        vector_weight=_number(merged, "vector_weight", 0, 1),
        rrf_k=_number(merged, "rrf_k", 1, 1000),
        candidates=int(_number(merged, "candidates", 10, 1000, integer=True)),
        vector_candidates=vector_candidates,
        vector_ef_search=_ef_search(merged, vector_candidates),
        rerank_window=int(_number(merged, "rerank_window", 2, 1000, integer=True)),
        boosts=boosts, synonyms=synonyms)
    return tuning


def served(tuning: SearchTuning, version: int | None = None) -> ServedTuning:
    """The retrieval configurations a search uses under this tuning."""
    fields = tuple(f"{_FIELD_OF[name]}^{boost:g}" for name, boost in tuning.boosts.items() if boost > 0)
    configs = {name: dataclasses.replace(config, rrf_k=tuning.rrf_k, fields=fields, synonyms=tuning.synonyms,
                                         ef_search=tuning.vector_ef_search if config.vector else None)
               for name, config in default_configs(tuning.vector_weight, tuning.candidates,
                                                   tuning.vector_candidates).items()}
    return ServedTuning(configs, tuning.config, tuning.rerank_window, version)
