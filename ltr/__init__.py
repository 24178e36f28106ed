"""Learning to rank: events, click models, feature logging and LambdaMART models served in OpenSearch."""
