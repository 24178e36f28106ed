"""Catalogue indexing: BM25 fields and dense vectors in OpenSearch, versioned indices behind an alias."""
