"""Celery tasks: rebuild embeddings, reindex, retrain, evaluate and promote models on a schedule."""
