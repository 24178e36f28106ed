"""Versioned physical indices behind one alias: naming, listing, atomic swaps, model checks.

The storefront always queries the alias (``products``). A rebuild fills a new physical
index (``products-v20261123101500123456``) and moves the alias in a single
``_aliases`` call, so queries see either the old catalogue or the new one, never a gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from opensearchpy import NotFoundError, OpenSearch

from encoders.identity import ModelIdentity

_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,100}$")


class IndexerError(RuntimeError):
    """A problem the user can act on; the message says what happened and what to do."""


class ModelMismatchError(IndexerError):
    """Vectors of one model must not be written into an index built with another."""


def check_alias_name(alias: str) -> str:
    if not _ALIAS.match(alias):
        raise IndexerError(f"invalid index name {alias!r}: use lowercase letters, digits, '-' and '_'")
    return alias


def new_physical_name(alias: str, now: datetime | None = None) -> str:
    moment = now or datetime.now(timezone.utc)
    return f"{alias}-v{moment:%Y%m%d%H%M%S%f}"


def _is_version_of(alias: str, name: str) -> bool:
    prefix = f"{alias}-v"
    return name.startswith(prefix) and name[len(prefix):].isdigit()


def list_versions(client: OpenSearch, alias: str) -> list[str]:
    """Physical indices of ``alias``, oldest first (names sort by their timestamp)."""
    found = client.indices.get(index=f"{alias}-v*", expand_wildcards="open,closed", ignore_unavailable=True,
                               allow_no_indices=True)
    return sorted(name for name in found if _is_version_of(alias, name))


@dataclass(frozen=True)
class VersionState:
    """A physical version as cleanup sees it. ``verified``: it passed a rebuild's checks (written just
    before the alias moved to it); a version without the mark was left by a rebuild that died or failed."""

    name: str
    verified: bool
    created_at: datetime


def version_states(client: OpenSearch, alias: str) -> list[VersionState]:
    """Every version of ``alias``, oldest first, with its verification mark and creation time (one call)."""
    found = client.indices.get(index=f"{alias}-v*", expand_wildcards="open,closed", ignore_unavailable=True,
                               allow_no_indices=True)
    states = []
    for name in sorted(n for n in found if _is_version_of(alias, n)):
        meta = found[name].get("mappings", {}).get("_meta", {}).get("shelfrank", {})
        created = int(found[name]["settings"]["index"]["creation_date"]) / 1000
        states.append(VersionState(name, VERIFIED in meta, datetime.fromtimestamp(created, timezone.utc)))
    return states


#: The key of the verification mark in a version's ``_meta.shelfrank``.
VERIFIED = "verified_at"


def mark_verified(client: OpenSearch, index: str) -> None:
    """Record in the index itself that it passed verification (kept with it, whoever looks later)."""
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    meta = dict(mapping.get("_meta", {}))
    meta["shelfrank"] = {**meta.get("shelfrank", {}), VERIFIED: datetime.now(timezone.utc).isoformat()}
    client.indices.put_mapping(index=index, body={"_meta": meta})


def is_verified(client: OpenSearch, index: str) -> bool:
    mapping = client.indices.get_mapping(index=index)[index]["mappings"]
    return VERIFIED in mapping.get("_meta", {}).get("shelfrank", {})


def live_index(client: OpenSearch, alias: str) -> str | None:
    """The physical index the alias points at, or None when the alias does not exist yet."""
    try:
        result = client.indices.get_alias(name=alias)
    except NotFoundError:
        return None
    names = sorted(result)
    if alias in names:  # a concrete index squats the alias name
        raise IndexerError(f"{alias!r} is a concrete index, not a Shelfrank alias; rename or delete it first")
    if len(names) != 1:
        raise IndexerError(f"alias {alias!r} points at {len(names)} indices ({', '.join(names)}); expected one")
    return names[0]


def physical_index(client: OpenSearch, name: str) -> str | None:
    """The one index behind an alias, or the index of that name; None when there is neither. For the partial
    updates (behaviour, history) that write onto whatever serves ``name`` now."""
    try:
        names = sorted(client.indices.get_mapping(index=name))
    except NotFoundError:
        return None
    if len(names) != 1:
        raise IndexerError(f"{name!r} points at {len(names)} indices ({', '.join(names)}); expected one")
    return names[0]


def point_alias(client: OpenSearch, alias: str, target: str) -> None:
    """Move ``alias`` to ``target`` atomically (remove from all others and add, in one call)."""
    actions: list[dict] = []
    current = live_index(client, alias)
    if current and current != target:
        actions.append({"remove": {"index": current, "alias": alias}})
    actions.append({"add": {"index": target, "alias": alias}})
    client.indices.update_aliases(body={"actions": actions})


def index_model(client: OpenSearch, index: str) -> ModelIdentity | None:
    return _recorded_model(client.indices.get_mapping(index=index)[index]["mappings"])


def _recorded_model(mapping: dict) -> ModelIdentity | None:  # type: ignore[type-arg]
    meta = mapping.get("_meta", {}).get("shelfrank", {})
    return ModelIdentity.from_dict(meta["model"]) if "model" in meta else None


def live_model(client: OpenSearch, name: str) -> ModelIdentity | None:
    """The model whose vectors the index behind ``name`` (an alias or an index) holds; None when there is no
    such index, or it has no record of one."""
    found = live_index_model(client, name)
    return found[1] if found is not None else None


def live_index_model(client: OpenSearch, name: str) -> tuple[str, ModelIdentity | None] | None:
    """The index behind ``name`` and the model it records, in one request (an alias's mapping names its
    index); None when there is no such index."""
    try:
        mappings = client.indices.get_mapping(index=name)
    except NotFoundError:
        return None
    if len(mappings) != 1:
        raise IndexerError(f"{name!r} points at {len(mappings)} indices ({', '.join(sorted(mappings))}); expected one")
    ((index, mapping),) = mappings.items()
    return index, _recorded_model(mapping["mappings"])


def ensure_same_model(client: OpenSearch, index: str, model: ModelIdentity) -> None:
    stored = index_model(client, index)
    if stored is None:
        raise IndexerError(f"index {index} has no Shelfrank model identity; rebuild it with `shelfrank index rebuild`")
    if stored != model:
        raise ModelMismatchError(
            f"index {index} holds vectors of {stored.key} but the configured encoder is {model.key}; "
            "vectors of different models cannot be mixed. Rebuild the index with the new model "
            "(`shelfrank index rebuild`) or configure the original model (SHELFRANK_MODEL_PATH)"
        )
