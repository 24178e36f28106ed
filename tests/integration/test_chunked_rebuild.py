"""The chunked rebuild's steps in one process, at the moments a crash or a concurrent job could hit them:
a finalize redone after the alias moved, catalogue writes while a rebuild copies the live index, cleanup
while a rebuild is running."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from core.db import migrate
from core.db.models import RebuildJob
from core.db.session import session_scope
from core.settings import Settings
from encoders.bert import BertEncoder
from encoders.cache import CachedEncoder, EmbeddingCache
from indexer import chunked_rebuild
from indexer.cleanup import clean_versions
from indexer.jobs import sync_drop_folder
from indexer.sources import read_catalog
from indexer.versions import list_versions, live_index
from ltr.history_sync import documents_with_history, sync_history
from tests.conftest import HOMEDEPOT

pytestmark = pytest.mark.integration


def test_a_redone_finalize_never_deletes_the_index_it_made_live_and_writes_wait_for_the_rebuild(
        build_catalogue, os_client: OpenSearch, settings: Settings, bert_encoder: BertEncoder,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    products = list(itertools.islice(read_catalog(HOMEDEPOT, "homedepot"), 90))
    alias = build_catalogue("test-chunked-steps", products)
    before = live_index(os_client, alias)
    sync_history(os_client, alias, {products[5].id: ("garden hose",)})  # written after indexing: carried over
    url = f"sqlite:///{tmp_path / 'rebuild.db'}"
    migrate.upgrade(url)
    shop = settings.model_copy(update={"database_url": url, "state_dir": tmp_path})
    encoder = CachedEncoder(bert_encoder, EmbeddingCache(tmp_path / "embeddings.sqlite"))
    with session_scope(url) as session:
        job, new = chunked_rebuild.plan(session, os_client, shop, alias, encoder, 40, "test")
        job_id, target = job.id, job.target_index
        assert new and [c.size for c in job.chunks] == [40, 40, 10]
        again, new_again = chunked_rebuild.plan(session, os_client, shop, alias, encoder, 40, "test")
        assert again.id == job_id and not new_again  # asking again resumes, never a second rebuild
    # While it runs: the drop folder waits, and cleanup leaves the new (unverified) index alone.
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "late.csv").write_text("id,title\nlate-1,Arrived during the rebuild\n")
    waiting = sync_drop_folder(shop.model_copy(update={"catalog_drop_settle_s": 0}), alias, drop)
    assert waiting.blocked_by and (drop / "late.csv").exists()
    with session_scope(url) as session:
        kept = clean_versions(os_client, alias, keep=2, partial_grace_s=0,
                              in_progress=chunked_rebuild.running_targets(session))
    assert target in kept.partial_kept and target in list_versions(os_client, alias)
    with session_scope(url) as session:
        for number in chunked_rebuild.pending_chunks(session, job_id):
            chunked_rebuild.encode_chunk(session, os_client, shop, encoder, job_id, number)
        assert chunked_rebuild.encode_chunk(session, os_client, shop, encoder, job_id, 0).already_done
        done = chunked_rebuild.finalize(session, os_client, shop, encoder, job_id)
    assert done["status"] == "done" and done["documents"] == 90 and live_index(os_client, alias) == target != before
    assert documents_with_history(os_client, alias) == 1
    assert os_client.get(index=target, id=products[5].id)["_source"]["history_queries"] == 1.0
    # A worker that moved the alias but died before recording it: the redelivered finalize finds its own
    # index live, records the rebuild as done, and deletes nothing.
    with session_scope(url) as session:
        session.get(RebuildJob, job_id).status = "running"
    with session_scope(url) as session:
        redone = chunked_rebuild.finalize(session, os_client, shop, encoder, job_id)
    assert redone["status"] == "done" and live_index(os_client, alias) == target
    assert os_client.count(index=alias)["count"] == 90
    applied = sync_drop_folder(shop.model_copy(update={"catalog_drop_settle_s": 0}), alias, drop)
    assert [a["file"] for a in applied.applied] == ["late.csv"]  # applied to the new index, after the swap
    assert os_client.count(index=alias)["count"] == 91
