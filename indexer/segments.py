"""How many segments an index is searched over, and merging them down: after a rebuild, and after writes
to the live index.

Every k-NN query walks one HNSW graph per segment, and every ``sltr`` feature opens its doc values once per
segment. Writes to the live index leave it in many small segments plus the deleted copies of each rewritten
document: the hourly behaviour refresh rewrites every product with history (popularity decays and the rates
move with the shop-wide prior), and on the Home Depot catalogue it left 22 to 38 segments, which made the
default search about 1.5x slower than over one segment until something merged it (docs/measurements.md,
"The live index after the behaviour refresh"). Lucene's own merge policy does not bring it back: it keeps
about ten segments per tier, and only merges while writes go on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError  # connection errors and timeouts included
from tqdm import tqdm

from core.settings import Settings
from indexer.versions import IndexerError, physical_index

log = logging.getLogger(__name__)
MERGE_POLL_S = 1.0


REBUILD_HINT = "SHELFRANK_INDEX_MERGE_TIMEOUT_S; SHELFRANK_INDEX_MERGE_SEGMENTS=0 skips the merge"


def merge_segments(client: OpenSearch, index: str, segments: int, timeout_s: float = 3600.0,
                   progress: bool = False, hint: str = REBUILD_HINT) -> None:
    """Merge ``index`` down to ``segments`` segments (0: leave it as written).

    A freshly built index is read far more than it is written, and every k-NN query walks one
    HNSW graph per segment: on the Home Depot catalogue one segment instead of four made both
    hybrid and BM25 searches faster (docs/measurements.md). The merge runs as a background task
    that is polled: a blocking request would outlive the client's timeout on a large catalogue,
    and the client would then send it again.
    """
    if segments <= 0:
        return
    if progress:
        tqdm.write(f"merging {index} into {segments} segment(s) ...")
    task = client.indices.forcemerge(index=index, max_num_segments=segments, wait_for_completion=False)["task"]
    deadline = time.monotonic() + timeout_s
    while not (status := client.tasks.get(task_id=task)).get("completed"):
        if time.monotonic() >= deadline:
            raise IndexerError(f"merging {index} into {segments} segment(s) took longer than {timeout_s:.0f} s "
                               f"({hint})")
        time.sleep(MERGE_POLL_S)
    shards = status.get("response", {}).get("_shards", {})
    if status.get("error") or shards.get("failed"):
        reason = status.get("error") or shards.get("failures")
        raise IndexerError(f"merging {index} into {segments} segment(s) failed: {str(reason)[:300]}")
    client.indices.refresh(index=index)  # searches move to the merged segment; the old files can go


def segments_per_shard(client: OpenSearch, index: str) -> int:
    """The most searchable segments any copy of any shard of ``index`` (or of the index behind an alias) has:
    what one search walks per shard."""
    indices = client.indices.segments(index=index)["indices"]
    return max((sum(1 for segment in copy["segments"].values() if segment.get("search", True))
                for found in indices.values() for copies in found["shards"].values() for copy in copies), default=0)


@dataclass(frozen=True)
class Compaction:
    """What :func:`compact` found and did. ``after`` is None when it did not merge (or the merge failed:
    ``error`` says why; the index then serves as it was)."""

    index: str
    before: int | None  # None: the segments could not be read
    after: int | None
    seconds: float = 0.0
    error: str | None = None

    @property
    def merged(self) -> bool:
        return self.after is not None

    def describe(self) -> str:
        if self.error:
            what = f"its {self.before} segments" if self.before is not None else "its segments"
            return f"{self.index}: merging {what} failed ({self.error}); it serves as it was"
        if self.after is None:
            if self.before is None:
                return f"{self.index}: live merges are off (SHELFRANK_INDEX_COMPACT_SEGMENTS=0)"
            return f"{self.index}: {self.before} segment(s) per shard, left as they are"
        return f"{self.index}: merged {self.before} segments into {self.after} in {self.seconds:.0f} s"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def compact(client: OpenSearch, index: str, settings: Settings, progress: bool = False) -> Compaction:
    """After writes to the live ``index`` (or the alias that serves it): merge it back down to
    ``index_merge_segments`` when a shard has more than ``index_compact_segments`` (never fewer than the
    target; 0 for either: never merge a live index).

    Searches keep reading the old segments until the merge is done, so nothing waits for it but the caller,
    at most ``index_compact_timeout_s`` (the merge goes on in the node past it). A merge that fails, times out
    or cannot even count the segments is logged and reported, never raised: the writes before it stand, and
    the index serves as it was."""
    target, limit = settings.index_merge_segments, settings.index_compact_segments
    started, before = time.monotonic(), None
    try:
        index = physical_index(client, index) or index  # reported by its own name, as the other writes are
        if target <= 0 or limit <= 0:
            return Compaction(index, None, None)
        before = segments_per_shard(client, index)
        if before <= max(limit, target):
            return Compaction(index, before, None)
        merge_segments(client, index, target, settings.index_compact_timeout_s, progress,
                       hint="SHELFRANK_INDEX_COMPACT_TIMEOUT_S; SHELFRANK_INDEX_COMPACT_SEGMENTS=0 never merges a "
                       "live index")
        after = segments_per_shard(client, index)
    except (IndexerError, TransportError) as exc:
        log.warning("could not merge the live index %s (%s segments): %s", index, before, exc)
        return Compaction(index, before, None, time.monotonic() - started, str(exc)[:300])
    return Compaction(index, before, after, time.monotonic() - started)
