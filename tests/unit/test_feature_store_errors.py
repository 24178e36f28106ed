"""A node without the Learning-to-Rank plugin is named, with the command that provisions one that has it."""

from __future__ import annotations

import pytest
from opensearchpy.exceptions import RequestError

from ltr.store import FeatureStore, FeatureStoreError


class _NoPlugin:
    """What a node without the plugin answers to every ``/_ltr`` request."""

    def perform_request(self, method: str, path: str, body: object = None) -> None:
        raise RequestError(400, f"no handler found for uri [{path}] and method [{method}]", {})


class _Client:
    transport = _NoPlugin()


def test_a_node_without_the_plugin_is_named_with_the_command_that_installs_it() -> None:
    with pytest.raises(FeatureStoreError, match="no Learning-to-Rank plugin.*shelfrank opensearch start"):
        FeatureStore(_Client(), "products").ensure()  # type: ignore[arg-type]
