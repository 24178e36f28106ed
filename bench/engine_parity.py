"""The shop's served model ranked in OpenSearch (`sltr`) and by the Python reference, on every test query.

Usage: .venv/bin/python bench/engine_parity.py [--index ALIAS] [--limit N]

Needs an active model (`make demo` leaves one). Both rerankers score the same fused candidates of each
Home Depot test-split query through the storefront's own search path; the bench prints nDCG@10 of each, their
difference (the requirement: equal to 4 decimals; the bench exits non-zero otherwise) and on how many
queries the two top 10s are identical.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import HOMEDEPOT  # noqa: E402

from tqdm import tqdm  # noqa: E402

from core.db.session import session_scope  # noqa: E402
from core.settings import get_settings  # noqa: E402
from evaluation.judgments import load_homedepot, select_split  # noqa: E402
from evaluation.metrics import ndcg_at  # noqa: E402
from ltr import registry  # noqa: E402
from ltr.ranker.serving import reranker_for  # noqa: E402
from storefront.factory import build_search_service  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=None, help="catalogue alias (default: SHELFRANK_DEFAULT_INDEX)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test queries (sorted)")
    args = parser.parse_args()
    settings = get_settings()
    service = build_search_service(settings, args.index, record=False)
    with session_scope(settings.effective_database_url) as session:
        model = registry.active_model(session)
        if model is None:
            raise SystemExit("no model is served: run `make demo`, or promote one (`shelfrank models promote NAME`)")
        folder, name = Path(model.artifact_path), model.name
    test = select_split(load_homedepot(HOMEDEPOT), "test")
    queries = sorted(test)[: args.limit]
    rankings: dict[str, dict[str, list[str]]] = {}
    for engine in ("opensearch", "python"):
        service.reranker = reranker_for(folder, name, service.client, service.index, settings.rerank_window,
                                        engine=engine, query_vectors=service.encoder.vector,
                                        retriever_window=settings.rerank_retriever_window)
        rankings[engine] = {q: service.ranking(q, None, 100) for q in tqdm(queries, desc=engine, unit="query")}
    ndcg = {engine: statistics.fmean(ndcg_at(ranked[q], test[q]) for q in queries)
            for engine, ranked in rankings.items()}
    same = sum(rankings["opensearch"][q][:10] == rankings["python"][q][:10] for q in queries)
    print(f"model {name}, {len(queries)} test queries: nDCG@10 engine {ndcg['opensearch']:.6f}, python "
          f"{ndcg['python']:.6f}, engine - python {ndcg['opensearch'] - ndcg['python']:+.6f}; identical top 10 on "
          f"{same} of {len(queries)} queries")
    if abs(ndcg["opensearch"] - ndcg["python"]) >= 1e-4:
        raise SystemExit("the engine and the Python reference disagree beyond 4 decimals")


if __name__ == "__main__":
    main()
