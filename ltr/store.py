"""The catalogue's feature store in the LTR plugin: its featuresets and the models uploaded for serving.

One store per catalogue alias (``.ltrstore_shelfrank-<alias>``), not the shared ``_default_``
store, so two shops (or a test and a demo) on one cluster never see each other's models. Every
operation is idempotent: creating what exists with the same definition is success, with a
different definition an error that names both.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, TransportError

from ltr.ranker.featureset import FeatureSet
from ltr.serving.xgboost_json import features_used, to_plugin_model_body


class FeatureStoreError(RuntimeError):
    """The feature store cannot do what was asked; the message names the thing and the fix."""


def store_name(alias: str) -> str:
    return f"shelfrank-{alias.lower()}"


def _reason(exc: TransportError) -> str:
    info = exc.info if isinstance(exc.info, dict) else {}
    error = info.get("error")
    if isinstance(error, dict):
        return str(error.get("reason") or error.get("type") or exc.error)
    return str(error or exc.error)


class FeatureStore:
    def __init__(self, client: OpenSearch, alias: str) -> None:
        self.client, self.alias = client, alias
        self.name = store_name(alias)
        self._ensured: set[str] = set()
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self.client.transport.perform_request(method, path, body=body)
        except TransportError as exc:
            if exc.status_code == 400 and "no handler found" in str(exc.error).lower() + _reason(exc).lower():
                raise FeatureStoreError(
                    "the OpenSearch node has no Learning-to-Rank plugin (opensearch-ltr); install it on every "
                    "node (locally: `shelfrank opensearch wipe --cache --yes` then `shelfrank opensearch start`)"
                ) from exc
            raise

    # -- the store and its featuresets -----------------------------------------------------------
    def ensure(self) -> None:
        """Create the store unless it exists (``HEAD /_ltr/...`` answers 405 on this plugin: PUT it)."""
        if "" in self._ensured:
            return
        try:
            self._request("PUT", f"/_ltr/{self.name}")
        except TransportError as exc:
            if "already exists" not in _reason(exc).lower() and exc.status_code != 409:
                raise FeatureStoreError(f"feature store {self.name} could not be created: {_reason(exc)}") from exc
        self._ensured.add("")

    def exists(self) -> bool:
        try:
            return bool(self._request("GET", f"/_ltr/{self.name}").get("exists"))
        except NotFoundError:
            return False

    def ensure_featureset(self, featureset: FeatureSet) -> None:
        """Write ``featureset`` (all its features, in order) unless the store already holds it unchanged."""
        key = featureset.store_name
        if key in self._ensured:
            return
        with self._lock:
            self.ensure()
            body = featureset.plugin_body()
            try:
                self._request("PUT", f"/_ltr/{self.name}/_featureset/{key}", body)
            except TransportError as exc:
                if exc.status_code != 409:
                    raise FeatureStoreError(f"featureset {key} could not be written to store {self.name}: "
                                            f"{_reason(exc)}") from exc
                stored = self._request("GET", f"/_ltr/{self.name}/_featureset/{key}")["_source"]["featureset"]
                if _features(stored) != _features(body["featureset"]):
                    raise FeatureStoreError(
                        f"store {self.name} holds a featureset {key} that differs from this code's definition "
                        f"of it; delete it (DELETE /_ltr/{self.name}/_featureset/{key}) and run "
                        "`shelfrank models sync`") from exc
            self._ensured.add(key)

    # -- models ----------------------------------------------------------------------------------
    def model_definition(self, model: str) -> dict | None:
        """The stored model's source, or None when the store does not hold it."""
        try:
            response = self._request("GET", f"/_ltr/{self.name}/_model/{model}")
        except NotFoundError:
            return None
        return response.get("_source") if response.get("found", True) else None

    def has_model(self, model: str) -> bool:
        return self.model_definition(model) is not None

    def upload_model(self, model: str, featureset: FeatureSet, trees: Sequence[dict]) -> bool:
        """Store ``model`` (converted trees) under the features of ``featureset`` it splits on; False when it
        was already there, identical.

        The plugin computes every feature of a model's featureset for every candidate, used or not, and
        each costs engine time (docs/measurements.md); a feature no split reads cannot change a score, so
        the model's stored featureset leaves it out (its own store entry, named by its hash)."""
        served = featureset.restricted_to(features_used(trees))
        self.ensure_featureset(served)
        body = to_plugin_model_body(model, served.store_name, trees)
        existing = self.model_definition(model)
        if existing is not None:
            stored = existing.get("model", {})
            if json.loads(stored.get("model", {}).get("definition", "null")) != json.loads(
                    body["model"]["model"]["definition"]):
                raise FeatureStoreError(f"store {self.name} already holds a different model named {model}; "
                                        f"delete it (`DELETE /_ltr/{self.name}/_model/{model}`) first")
            return False
        try:
            self._request("POST", f"/_ltr/{self.name}/_featureset/{served.store_name}/_createmodel", body)
        except TransportError as exc:
            raise FeatureStoreError(f"model {model} could not be uploaded to store {self.name}: "
                                    f"{_reason(exc)}") from exc
        return True

    def delete_model(self, model: str) -> bool:
        """Remove ``model`` from the store; False when it was not there."""
        try:
            self._request("DELETE", f"/_ltr/{self.name}/_model/{model}")
        except NotFoundError:
            return False
        return True


def _features(featureset_source: dict) -> str:
    """A featureset's features as comparable text (the store may add fields of its own)."""
    keep = ("name", "params", "template_language", "template")
    return json.dumps([{k: f.get(k) for k in keep} for f in featureset_source.get("features", [])], sort_keys=True)
