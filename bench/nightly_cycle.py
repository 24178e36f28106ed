"""Wall time of the workers' nightly cycle on the Home Depot catalogue: catalogue sync, behaviour refresh,
retrain (click model -> labels -> features -> LightGBM -> quality and parity gates -> promotion) and the
scheduled evaluation, after `--sessions` simulated shopper sessions.

    .venv/bin/python bench/nightly_cycle.py --sessions 100000

Needs the local node with the full catalogue behind the default alias (`shelfrank catalog import
../shared/data/homedepot/train.csv --format homedepot`). Everything else is made here, in a fresh SQLite
database: the Home Depot judgments imported into SQL, shoppers simulated over `--train-queries` train-split
queries (each query's page fetched once through the real storefront, then re-shown, the way
`shelfrank simulate --reuse-pages` does), and a drop-folder file of `--changed` edited products plus
`--deleted` removed ones, which the sync re-encodes and writes.

Each step calls the same function its worker task calls (``workers/tasks.py`` adds only the run record and
the lock), one after the other as beat would start them, and is timed on its own. The simulated shoppers'
setup is timed too but is not part of the cycle. `--out` writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402
from _simulated_shop import KEY, simulator  # noqa: E402

from core.db import migrate  # noqa: E402
from core.db.session import session_scope  # noqa: E402
from core.opensearch_client import make_client  # noqa: E402
from core.settings import get_settings  # noqa: E402
from evaluation import judgment_store  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from indexer.jobs import sync_drop_folder  # noqa: E402
from indexer.sources import read_catalog  # noqa: E402
from indexer.versions import live_index  # noqa: E402
from ltr.ranker.job import TrainingRequest  # noqa: E402
from ltr.ranker.train import TrainParams  # noqa: E402
from ltr.retrain import retrain  # noqa: E402
from ltr.maintenance import refresh_served_behaviour  # noqa: E402
from ltr.served_evaluation import evaluate_served  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402


def drop_files(folder: Path, changed: int, deleted: int, seed: int) -> list[str]:
    """An upsert export of ``changed`` products with edited titles and a deletes file of ``deleted`` others.
    Returns the deleted ids (the bench puts them back afterwards, so that the catalogue stays whole)."""
    products = list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), changed + deleted))
    random.Random(seed).shuffle(products)
    edited, removed = products[:changed], products[changed:]
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "nightly-export.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description"])
        for p in edited:
            writer.writerow([p.id, f"{p.title} (new season)", p.description])
    (folder / "nightly.deletes").write_text("".join(f"{p.id}\n" for p in removed), encoding="utf-8")
    return [p.id for p in removed]


def timed(name: str, figures: dict[str, float], call):  # type: ignore[no-untyped-def]
    print(f"-- {name} ...", flush=True)
    started = time.perf_counter()
    result = call()
    figures[name] = round(time.perf_counter() - started, 1)
    print(f"   {name}: {figures[name]:.1f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100_000, help="simulated shopper sessions (default 100k)")
    parser.add_argument("--train-queries", type=int, default=3000, help="train-split queries the shoppers search")
    parser.add_argument("--changed", type=int, default=1000, help="products edited in the nightly export")
    parser.add_argument("--deleted", type=int, default=50, help="products removed by the nightly deletes file")
    parser.add_argument("--evaluate-queries", type=int, default=0,
                        help="test queries the evaluation ranks (0: the whole split, as the scheduled task does)")
    parser.add_argument("--index", default=None, help="catalogue alias (default: the settings' default index)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the figures here as JSON")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="shelfrank-nightly-"))
    database = f"sqlite:///{folder / 'shop.db'}"
    base = get_settings()
    settings = base.model_copy(update={"database_url": database, "catalog_drop_dir": folder / "drop",
                                       "catalog_drop_settle_s": 0.0, "state_dir": folder / "state",
                                       "pseudonym_key": KEY})
    alias = args.index or settings.default_index
    client = make_client(settings)
    if not client.indices.exists_alias(name=alias):
        raise SystemExit(f"no catalogue behind {alias!r}: run `shelfrank catalog import {HOMEDEPOT} --format "
                         "homedepot` first")
    documents = client.count(index=alias)["count"]
    migrate.upgrade(database)
    setup: dict[str, float] = {}
    judgments = load_homedepot(HOMEDEPOT)
    with session_scope(database) as session:
        timed("import judgments", setup,
              lambda: judgment_store.import_judgments(session, judgments, "bench", "bench"))
    train = select_split(judgments, "train")
    queries = sorted(random.Random(args.seed).sample(sorted(train), min(args.train_queries, len(train))))
    service = build_search_service(settings, alias, record=True)
    shoppers = simulator(service, database, queries, train, rankers=["hybrid-minmax", "bm25"], click_model="pbm",
                         seed=args.seed, shoppers=5000, reuse_pages=True, days=28.0)
    simulation = timed("simulate sessions", setup, lambda: shoppers.run(args.sessions, progress=True))
    service.close()
    deleted = drop_files(settings.effective_catalog_drop_dir, args.changed, args.deleted, args.seed)

    cycle: dict[str, float] = {}
    sync = timed("catalogue sync", cycle, lambda: sync_drop_folder(settings, alias))
    behaviour = timed("behaviour refresh", cycle, lambda: refresh_served_behaviour(settings, alias)[0])
    request = TrainingRequest(labels="clickmodel", days=28.0, min_support=settings.click_model_min_support,
                              window=settings.rerank_window, params=TrainParams.from_settings(settings))
    retrained = timed("retrain", cycle, lambda: retrain(settings, request, index=alias, by="bench"))
    evaluation = timed("evaluate", cycle, lambda: evaluate_served(settings, alias, "test",
                                                                  args.evaluate_queries or None, "bench"))
    total = round(sum(cycle.values()), 1)

    # Put the deleted products back and leave no model active, so the shop is as it was.
    products = [p for p in read_catalog(HOMEDEPOT, "homedepot") if p.id in set(deleted)]
    with (settings.effective_catalog_drop_dir / "restore.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "description"])
        writer.writerows([p.id, p.title, p.description] for p in products)
    sync_drop_folder(settings, alias)

    summary = simulation.summary()
    report = {"documents": documents, "live_index": live_index(client, alias), "sessions": summary["sessions"],
              "searches": summary["searches"], "events": summary["events"], "setup_s": setup, "cycle_s": cycle,
              "cycle_total_s": total, "sync": {"applied": sync.applied, "failed": sync.failed},
              "behaviour": {"updated": behaviour.updated, "cleared": behaviour.cleared},
              "retrain": retrained.as_dict(),
              "evaluation": {"served": evaluation.served.metrics, "hybrid": evaluation.hybrid.metrics,
                             "queries": evaluation.served.queries}}
    print(json.dumps(report, indent=2, default=str))
    print("\n| step | seconds |\n|---|---|")
    for name, seconds in cycle.items():
        print(f"| {name} | {seconds:.1f} |")
    print(f"| **nightly cycle** | **{total:.1f}** |")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
