"""The one place an OpenSearch client is made, so timeouts and retries are set consistently."""

from __future__ import annotations

from opensearchpy import OpenSearch

from core.settings import Settings


def make_client(settings: Settings, *, storefront: bool = False) -> OpenSearch:
    """A client for batch work (indexing, training: long timeout, retried), or with ``storefront`` for
    the shopper-facing path: ``search_timeout_s`` and no retries, so a node that is down or
    restarting costs a search one short wait and a 503, never minutes of retries."""
    return OpenSearch(
        hosts=[settings.opensearch_url],
        timeout=settings.search_timeout_s if storefront else settings.opensearch_timeout_s,
        max_retries=0 if storefront else 2,
        retry_on_timeout=not storefront,
        http_compress=settings.opensearch_http_compress,
        # urllib3 keeps one idle connection per host by default: concurrent searches of a threaded
        # worker then open (and throw away) a TCP connection per request. Keep one per thread.
        pool_maxsize=max(settings.api_threads, settings.bulk_concurrency) + 2,
    )
