"""A real single-node OpenSearch for development and tests, assembled from Maven Central.

Production does not use this package: docker-compose runs the official image of the
same version, where k-NN and Learning to Rank come bundled.
"""

from core.localnode.errors import NodeError
from core.localnode.node import LocalNode, NodeStatus, ProvisionReport

__all__ = ["LocalNode", "NodeError", "NodeStatus", "ProvisionReport"]
