"""Admin console (Flask): relevance tuning, explanations, judgments, model registry, task runs."""
