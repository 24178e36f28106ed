"""The one place an OpenSearch client is made, so timeouts and retries are set consistently."""

from __future__ import annotations

from opensearchpy import OpenSearch

from core.settings import Settings


def make_client(settings: Settings) -> OpenSearch:
    return OpenSearch(
        hosts=[settings.opensearch_url],
        timeout=settings.opensearch_timeout_s,
        max_retries=2,
        retry_on_timeout=True,
        http_compress=settings.opensearch_http_compress,
    )
