"""The storefront query path: hybrid BM25 + vector retrieval, filters, facets, reranking."""
