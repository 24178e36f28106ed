"""Record what every search showed (search + impressions) so clicks can later be attributed."""

from __future__ import annotations

from core.db.models import Impression, Search
from core.db.session import session_scope
from core.privacy import pseudonymise
from core.queries import normalize_query
from storefront.request import SearchRequest


class DatabaseImpressionRecorder:
    """Writes one ``searches`` row and its ``impressions`` per response, in one transaction."""

    def __init__(self, database_url: str, pseudonym_key: str) -> None:
        self.database_url = database_url
        self.pseudonym_key = pseudonym_key

    def __call__(self, search_id: str, request: SearchRequest, config: str, model_version: str | None,
                 shown: list[tuple[str, int]]) -> None:
        user = pseudonymise(request.user_id, self.pseudonym_key) if request.user_id else None
        with session_scope(self.database_url) as session:
            session.add(Search(search_id=search_id, query=request.query, normalized_query=normalize_query(request.query),
                               user_id=user, session_id=request.session_id, config=config,
                               model_version=model_version,
                               impressions=[Impression(product_id=pid, position=pos, page=request.page)
                                            for pid, pos in shown]))
