"""Learning to rank: one featureset definition for training and serving, the feature extractor,
training data from logged searches, LambdaMART training, and the Python reranker."""
