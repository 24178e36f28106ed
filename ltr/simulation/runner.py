"""Run simulated shopping sessions through the real search and events APIs.

The simulator never ranks anything itself: it asks ``search`` for a result page (the real search
API), decides what the shopper does with a known click model, and hands the events to ``send``
(the real events API). Both are injected, so this module stays free of HTTP and the CLI wires it up.

Every search the search API serves is recorded by it, and only the shopper's actions are sent as
events. With ``reuse_pages`` each (query, ranker) page is fetched live once and afterwards replayed
as a ``search`` event with a fresh search id (spread over the last ``days``), which is how tens of
thousands of sessions fit in a test; the pages are the real ones either way. Event and search
ids are derived from the configuration and seed, so re-running a simulation stores nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from tqdm import tqdm

from ltr.simulation.behaviour import (
    DEPTH,
    EXAMINATION,
    Shopper,
    attractiveness,
    base_attractiveness,
    browse,
    cart_and_purchase,
    dbn_examination,
    relevance_of_grade,
)
from indexer.traits import DEPARTMENTS, OTHER_DEPARTMENT, PRICE_BANDS, traits_of


@dataclass(frozen=True)
class SimQuery:
    text: str
    grades: dict[str, float]  # product id -> human grade, 0 = not relevant .. max_grade


@dataclass(frozen=True)
class Page:
    search_id: str | None  # set when the search API recorded the search itself
    products: list[tuple[str, str | None]]  # (id, title) in displayed order


SearchFn = Callable[[str, str, str, str], Page]  # (query, user_id, session_id, ranker) -> page
SendFn = Callable[[list[dict[str, Any]]], dict[str, Any]]


@dataclass
class SimulationResult:
    sessions: int = 0
    searches: int = 0
    counts: Counter = field(default_factory=Counter)  # event type -> events sent
    rejected: int = 0
    duplicates: int = 0
    click_model: str = "pbm"
    examination: list[float] = field(default_factory=list)  # the shoppers' true propensities
    true_attractiveness: dict[tuple[str, str], float] = field(default_factory=dict)  # (query, product)

    def summary(self) -> dict[str, Any]:
        return {"sessions": self.sessions, "searches": self.searches, "events": dict(self.counts),
                "rejected": self.rejected, "duplicates": self.duplicates, "click_model": self.click_model,
                "examination": [round(x, 4) for x in self.examination]}


def make_shoppers(n: int, brands: Sequence[str], rng: np.random.Generator) -> list[Shopper]:
    departments = [*DEPARTMENTS, OTHER_DEPARTMENT]
    return [Shopper(f"shopper-{i:05d}", str(rng.choice(departments)), str(rng.choice(list(brands))),
                    str(rng.choice(PRICE_BANDS))) for i in range(n)]


def query_popularity(n: int, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like traffic over a shuffled query list: a few head queries, a long tail."""
    weights = 1.0 / (np.arange(n) + 10.0)
    weights = weights[rng.permutation(n)]
    return weights / weights.sum()


def run_id(queries: Sequence[SimQuery], rankers: Sequence[str], click_model: str, seed: int, shoppers: int,
           reuse_pages: bool) -> str:
    """Identifies a simulation's configuration, so that re-running it repeats its event ids (and
    stores nothing twice) while a different configuration never collides with it."""
    text = json.dumps([sorted(q.text for q in queries), list(rankers), click_model, seed, shoppers, reuse_pages])
    return hashlib.sha256(text.encode()).hexdigest()[:10]


class ShopperSimulator:
    def __init__(self, queries: Sequence[SimQuery], brands: Sequence[str], search: SearchFn, send: SendFn, *,
                 rankers: Sequence[str], click_model: str = "pbm", seed: int = 0, shoppers: int = 1000,
                 reuse_pages: bool = False, days: float = 28.0, batch_size: int = 1000,
                 max_grade: float | None = None, now: datetime | None = None) -> None:
        if not queries:
            raise ValueError("the simulator needs at least one judged query")
        if not rankers:
            raise ValueError("the simulator needs at least one ranker (retrieval configuration)")
        self.queries, self.search, self.send = list(queries), search, send
        self.rankers, self.click_model, self.seed = list(rankers), click_model, seed
        self.rng = np.random.default_rng(seed)
        self.shoppers = make_shoppers(shoppers, brands or ["unbranded"], self.rng)
        self.popularity = query_popularity(len(self.queries), self.rng)
        self.reuse_pages, self.days, self.batch_size = reuse_pages, days, batch_size
        self.now = now or datetime.now(timezone.utc)
        self.max_grade = max_grade or max((g for q in self.queries for g in q.grades.values()), default=1.0) or 1.0
        self._pages: dict[tuple[str, str], Page] = {}
        self.run_id = run_id(self.queries, self.rankers, click_model, seed, shoppers, reuse_pages)
        self._pending: list[dict[str, Any]] = []
        self._exam_sum = np.zeros(DEPTH)
        self._exam_pages = np.zeros(DEPTH)

    def run(self, sessions: int, progress: bool = False) -> SimulationResult:
        result = SimulationResult(click_model=self.click_model)
        for number in tqdm(range(sessions), desc="sessions", unit="session", disable=not progress):
            self._session(number, result)
        self._flush(result)
        if self.click_model == "pbm":
            result.examination = EXAMINATION.tolist()
        else:
            result.examination = (self._exam_sum / np.maximum(self._exam_pages, 1)).tolist()
        return result

    def _page(self, query: str, shopper: Shopper, session_id: str, ranker: str) -> tuple[Page, bool]:
        """The page to show and whether it was served live (recorded by the search API for this session)."""
        key = (query, ranker)
        if self.reuse_pages and key in self._pages:
            return self._pages[key], False
        page = self.search(query, shopper.user_id, session_id, ranker)
        self._pages[key] = page
        return page, True

    def _session(self, number: int, result: SimulationResult) -> None:
        rng = self.rng
        shopper = self.shoppers[int(rng.integers(len(self.shoppers)))]
        session_id = f"sim-{self.run_id}-{number}"
        clock = self.now - timedelta(days=float(rng.uniform(0, self.days))) if self.reuse_pages else self.now
        result.sessions += 1
        for k in range(int(rng.geometric(0.7))):  # 1 query per session, sometimes more
            query = self.queries[int(rng.choice(len(self.queries), p=self.popularity))]
            ranker = self.rankers[int(rng.integers(len(self.rankers)))]
            page, live = self._page(query.text, shopper, session_id, ranker)
            products = page.products[:DEPTH]
            recorded = live and page.search_id is not None
            search_id = page.search_id if recorded else f"{session_id}-q{k}"
            if recorded:
                clock = max(clock, datetime.now(timezone.utc))  # the search API stamped it just now
            event_prefix = f"{session_id}-q{k}"
            result.searches += 1
            if not recorded:
                self._emit(result, {"event_id": f"{event_prefix}-search", "type": "search", "ts": clock,
                                    "search_id": search_id, "user_id": shopper.user_id, "session_id": session_id,
                                    "query": query.text, "config": ranker, "results": [p for p, _ in products]})
            if not products:
                continue
            relevance = np.array([relevance_of_grade(query.grades.get(pid), self.max_grade) for pid, _ in products])
            traits = [traits_of(pid, title) for pid, title in products]
            attract = np.array([attractiveness(r, shopper, t) for r, t in zip(relevance, traits)])
            for (pid, _), rel in zip(products, relevance):
                result.true_attractiveness.setdefault((query.text, pid), base_attractiveness(float(rel)))
            if self.click_model == "dbn":
                n = len(products)
                self._exam_sum[:n] += dbn_examination(attract, relevance)
                self._exam_pages[:n] += 1
            for i in browse(self.click_model, attract, relevance, rng):
                clock += timedelta(seconds=float(rng.uniform(2, 30)))
                pid = products[i][0]
                base = {"search_id": search_id, "user_id": shopper.user_id, "session_id": session_id,
                        "product_id": pid}
                self._emit(result, {"event_id": f"{event_prefix}-click-{i}", "type": "click", "ts": clock, **base})
                carted, bought = cart_and_purchase(float(relevance[i]), shopper.likes(traits[i]), rng)
                if carted:
                    self._emit(result, {"event_id": f"{event_prefix}-cart-{i}", "type": "add_to_cart",
                                        "ts": clock + timedelta(seconds=20), **base})
                if bought:
                    self._emit(result, {"event_id": f"{event_prefix}-purchase-{i}", "type": "purchase",
                                        "ts": clock + timedelta(seconds=90), **base})
            clock += timedelta(seconds=float(rng.uniform(10, 60)))

    def _emit(self, result: SimulationResult, event: dict[str, Any]) -> None:
        event["ts"] = event["ts"].isoformat()
        self._pending.append(event)
        result.counts[event["type"]] += 1
        if len(self._pending) >= self.batch_size:
            self._flush(result)

    def _flush(self, result: SimulationResult) -> None:
        if not self._pending:
            return
        report = self.send(self._pending)
        result.rejected += len(report.get("rejected", []))
        result.duplicates += int(report.get("duplicates", 0))
        self._pending = []
