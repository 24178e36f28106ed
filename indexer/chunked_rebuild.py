"""A full embedding rebuild cut into chunks that any number of worker processes share.

``plan`` cuts the live index's products into id ranges and creates the new physical index;
``encode_chunk`` encodes one range (the embedding cache answers every text it already holds) and writes
it by product id; ``finalize`` verifies the new index and moves the alias. State is in SQL
(``rebuild_jobs``, ``rebuild_chunks``), so a worker killed mid-chunk costs that chunk only: it is
redone (its writes overwrite, never duplicate), the others stay done, and asking again resumes the
running rebuild instead of starting a second one.
"""

from __future__ import annotations

from dataclasses import dataclass

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import RebuildChunk, RebuildJob, utcnow
from core.settings import Settings
from encoders.base import TextEncoder
from indexer import schema
from indexer.derived_fields import carry_derived
from indexer.documents import from_document
from indexer.mapping import index_body
from indexer.pipeline import prune_versions, verify_index, write_products
from indexer.segments import merge_segments
from indexer.versions import (IndexerError, check_alias_name, ensure_same_model, live_index, mark_verified,
                              new_physical_name, point_alias)


@dataclass(frozen=True)
class ChunkOutcome:
    job_id: int
    number: int
    documents: int
    encoded: int
    from_cache: int
    already_done: bool
    all_done: bool


def _sorted_ids(client: OpenSearch, index: str) -> list[str]:
    hits = helpers.scan(client, index=index, query={"query": {"match_all": {}}}, _source=False,
                        docvalue_fields=[schema.ID], size=5000)
    return sorted(hit["fields"][schema.ID][0] for hit in hits)


def plan(session: Session, client: OpenSearch, settings: Settings, alias: str, encoder: TextEncoder,
         chunk_size: int, started_by: str) -> tuple[RebuildJob, bool]:
    """The running rebuild of ``alias`` (resumed: ``False``), or a new one (``True``) over the live index."""
    running = session.scalar(select(RebuildJob).where(RebuildJob.alias == alias, RebuildJob.status == "running"))
    if running is not None:
        return running, False
    source = live_index(client, check_alias_name(alias))
    if source is None:
        raise IndexerError(f"index {alias!r} does not exist; build it first (shelfrank catalog import PATH)")
    ids = _sorted_ids(client, source)
    if not ids:
        raise IndexerError(f"index {alias!r} holds no products; nothing to rebuild")
    target = new_physical_name(alias)
    client.indices.create(index=target, body=index_body(settings, encoder.identity, alias))
    client.indices.put_settings(index=target, body={"index": {"refresh_interval": "-1"}})
    job = RebuildJob(alias=alias, source_index=source, target_index=target, status="running",
                     chunk_size=chunk_size, planned=len(ids), started_by=started_by)
    for number, start in enumerate(range(0, len(ids), chunk_size)):
        part = ids[start:start + chunk_size]
        job.chunks.append(RebuildChunk(number=number, first_id=part[0], last_id=part[-1], size=len(part)))
    session.add(job)
    try:
        session.flush()
    except IntegrityError:  # another process planned one at the same moment: resume that one
        session.rollback()
        client.indices.delete(index=target, ignore_unavailable=True)
        return plan(session, client, settings, alias, encoder, chunk_size, started_by)
    return job, True


def pending_chunks(session: Session, job_id: int) -> list[int]:
    return list(session.scalars(select(RebuildChunk.number).where(
        RebuildChunk.job_id == job_id, RebuildChunk.status == "pending").order_by(RebuildChunk.number)))


def encode_chunk(session: Session, client: OpenSearch, settings: Settings, encoder: TextEncoder, job_id: int,
                 number: int) -> ChunkOutcome:
    """Encode and write one chunk; a chunk already done is skipped (a redelivered or repeated subtask)."""
    chunk = session.scalar(select(RebuildChunk).where(RebuildChunk.job_id == job_id, RebuildChunk.number == number))
    if chunk is None:
        raise IndexerError(f"rebuild {job_id} has no chunk {number}")
    job = chunk.job
    if chunk.status == "done" or job.status != "running":
        return ChunkOutcome(job_id, number, chunk.documents or 0, 0, 0, True, not pending_chunks(session, job_id))
    chunk.attempts += 1
    session.commit()  # an attempt counts even if this process dies in the middle of it
    ensure_same_model(client, job.target_index, encoder.identity)
    query = {"query": {"range": {schema.ID: {"gte": chunk.first_id, "lte": chunk.last_id}}}}
    products = [from_document(hit["_source"]) for hit in helpers.scan(
        client, index=job.source_index, query=query, _source_excludes=["embedding"], size=1000)]
    hits_before, misses_before = _stats(encoder)
    # The cache keeps each encoded batch of a few hundred texts: a crash loses one batch, not the chunk.
    write_products(client, job.target_index, products, encoder, settings, encode_chunk=4 * settings.encoder_batch_size)
    hits, misses = _stats(encoder)
    chunk.status, chunk.documents, chunk.done_at = "done", len(products), utcnow()
    chunk.encoded, chunk.from_cache = misses - misses_before, hits - hits_before
    session.commit()
    return ChunkOutcome(job_id, number, len(products), chunk.encoded, chunk.from_cache, False,
                        not pending_chunks(session, job_id))


def _stats(encoder: TextEncoder) -> tuple[int, int]:
    stats = getattr(encoder, "stats", None)
    return (stats.hits, stats.misses) if stats is not None else (0, 0)


def finalize(session: Session, client: OpenSearch, settings: Settings, encoder: TextEncoder, job_id: int) -> dict:
    """Verify the new index and move the alias, once every chunk is done (idempotent; a failure leaves the
    live index serving and deletes the new one)."""
    job = session.get(RebuildJob, job_id)
    if job is None:
        raise IndexerError(f"no rebuild {job_id}")
    if job.status != "running":
        return {"job": job.id, "status": job.status, "index": job.target_index}
    if live_index(client, job.alias) == job.target_index:
        # A finalize that moved the alias and died (or failed to record it) before the job said so: done.
        return _finish(session, client, settings, job)
    waiting = pending_chunks(session, job_id)
    if waiting:
        return {"job": job.id, "status": "running", "pending_chunks": len(waiting)}
    written = session.scalar(select(func.sum(RebuildChunk.documents)).where(RebuildChunk.job_id == job_id)) or 0
    try:
        if live_index(client, job.alias) != job.source_index:
            raise IndexerError(f"the alias {job.alias!r} moved to another index while rebuilding; rebuild again")
        if job.source_index:
            carry_derived(client, job.source_index, job.target_index)
        client.indices.put_settings(index=job.target_index, body={"index": {"refresh_interval": "1s"}})
        merge_segments(client, job.target_index, settings.index_merge_segments, settings.index_merge_timeout_s)
        sample_hit = client.search(index=job.target_index, body={"size": 1, "query": {"match_all": {}}})["hits"]["hits"]
        sample = from_document(sample_hit[0]["_source"]) if sample_hit else None
        verify_index(client, job.target_index, written, sample, encoder)
        mark_verified(client, job.target_index)
        point_alias(client, job.alias, job.target_index)
    except (OpenSearchConnectionError, ConnectionTimeout):
        raise  # transient: the task is retried and finalize runs again; nothing is thrown away
    except Exception as exc:
        job.status, job.error, job.finished_at = "failed", str(exc)[:2000], utcnow()
        session.commit()
        if live_index(client, job.alias) != job.target_index:  # never delete what the alias serves
            client.indices.delete(index=job.target_index, ignore_unavailable=True)
        raise
    return _finish(session, client, settings, job)


def _finish(session: Session, client: OpenSearch, settings: Settings, job: RebuildJob) -> dict:
    job.status, job.finished_at = "done", utcnow()
    session.commit()  # recorded first: whatever happens to the pruning, the swap is not redone
    removed = prune_versions(client, job.alias, settings.index_keep_versions)
    job_id, written = job.id, sum(c.documents or 0 for c in job.chunks)
    totals = session.execute(select(func.sum(RebuildChunk.encoded), func.sum(RebuildChunk.from_cache),
                                    func.count(), func.sum(RebuildChunk.attempts))
                             .where(RebuildChunk.job_id == job_id)).one()
    return {"job": job.id, "status": "done", "index": job.target_index, "previous": job.source_index,
            "documents": written, "encoded": totals[0] or 0, "from_cache": totals[1] or 0, "chunks": totals[2],
            "attempts": totals[3] or 0, "removed_versions": removed}


def running_job(session: Session, alias: str) -> RebuildJob | None:
    """The chunked rebuild of ``alias`` in progress, if any (catalogue writes wait for it: the new index
    is a copy of the live one, and a change made to the live one meanwhile would be lost at the swap)."""
    return session.scalar(select(RebuildJob).where(RebuildJob.alias == alias, RebuildJob.status == "running"))


def running_targets(session: Session) -> set[str]:
    """New indices of rebuilds in progress: unverified by design, and never cleanup's to delete."""
    return set(session.scalars(select(RebuildJob.target_index).where(RebuildJob.status == "running")))
