"""Relevance evaluation: judgments, metrics (nDCG, recall, MRR, ERR) and runs of named retrieval configs."""
