"""Cleanup of a catalogue's physical versions: what a killed rebuild left, and rollback targets past
their retention count. The live index is never touched."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from opensearchpy import OpenSearch

from indexer.pipeline import prune_versions
from indexer.versions import check_alias_name, live_index, version_states


@dataclass
class CleanupReport:
    alias: str
    live: str | None
    partial_deleted: list[str] = field(default_factory=list)
    old_deleted: list[str] = field(default_factory=list)
    partial_kept: list[str] = field(default_factory=list)  # too young: perhaps a rebuild still running

    def as_dict(self) -> dict[str, object]:
        return {"alias": self.alias, "live": self.live, "partial_deleted": self.partial_deleted,
                "old_deleted": self.old_deleted, "partial_kept": self.partial_kept}


def clean_versions(client: OpenSearch, alias: str, keep: int, partial_grace_s: float,
                   now: datetime | None = None, in_progress: set[str] | frozenset[str] = frozenset()) -> CleanupReport:
    """Delete unverified versions older than ``partial_grace_s`` (a rebuild that died before its checks
    passed), then verified ones beyond ``keep`` (live included in the count). ``in_progress`` names
    indices a running rebuild is filling: never deleted, however old."""
    live = live_index(client, check_alias_name(alias))
    report = CleanupReport(alias, live)
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=partial_grace_s)
    for version in version_states(client, alias):
        if version.verified or version.name == live:
            continue
        if version.name in in_progress:
            report.partial_kept.append(version.name)
            continue
        if version.created_at <= cutoff:
            client.indices.delete(index=version.name, ignore_unavailable=True)
            report.partial_deleted.append(version.name)
        else:
            report.partial_kept.append(version.name)
    if live is not None:
        report.old_deleted = prune_versions(client, alias, keep)
    return report
