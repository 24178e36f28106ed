"""Typed ORM models. Every change here comes with an Alembic migration in migrations/versions."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base shared by all Shelfrank tables."""


class TaskRun(Base):
    """One execution of a long job (reindex, retrain, evaluate...), shown in the admin console.

    Workers write it so that a person can see what ran, when, and why it failed.
    """

    __tablename__ = "task_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|succeeded|failed|skipped
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    detail: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)  # the worker's task id, when run by one
    started_by: Mapped[str] = mapped_column(String(100), default="unknown")  # beat | cli:<user> | console:<user>
    progress: Mapped[float | None] = mapped_column(Float)  # 0..1 while running
    result: Mapped[dict | None] = mapped_column(JSON)  # what the run did (counts), as the job reports it
    error: Mapped[str | None] = mapped_column(Text)


class Search(Base):
    """One storefront query as served: what was asked, by whom, and which ranking answered it."""

    __tablename__ = "searches"

    search_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    normalized_query: Mapped[str] = mapped_column(Text, index=True)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)  # pseudonymised before storage
    session_id: Mapped[str | None] = mapped_column(String(200))
    config: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20), default="storefront")  # storefront | events
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    impressions: Mapped[list[Impression]] = relationship(back_populates="search", cascade="all, delete-orphan")


class Impression(Base):
    """A product shown for a search, at a 1-based position on a page: the denominator of every click model."""

    __tablename__ = "impressions"
    __table_args__ = (Index("ix_impressions_search_product", "search_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.search_id", ondelete="CASCADE"), index=True)
    product_id: Mapped[str] = mapped_column(String(512))
    position: Mapped[int] = mapped_column(Integer)
    page: Mapped[int] = mapped_column(Integer, default=1)
    #: Shown in an exploration slot (storefront/exploration.py): a deeper candidate placed there by chance, not
    #: by the ranking, so its clicks measure what exploring costs and which products the ranking misses.
    explored: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    search: Mapped[Search] = relationship(back_populates="impressions")


class Interaction(Base):
    """A shopper action on a product: click, add_to_cart or purchase.

    ``search_id`` is deliberately not a foreign key: an action whose search is unknown (not
    yet received, or served elsewhere) is kept *unattributed* and becomes attributed as soon
    as the search arrives. ``position`` is copied from the impression when it is known.
    """

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_search_product", "search_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))  # click | add_to_cart | purchase
    search_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)  # pseudonymised
    session_id: Mapped[str | None] = mapped_column(String(200))
    product_id: Mapped[str] = mapped_column(String(512), index=True)
    position: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    """A pseudonymous shopper and the attributes the shop chose to send (segment, country...)."""

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # pseudonymised
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    first_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ProcessedEvent(Base):
    """The idempotency ledger: every accepted event id, so a retried batch stores nothing twice."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RankingModel(Base):
    """A trained learning-to-rank model in the registry: candidate, active (served), retired or rejected.

    At most one row is ``active``, enforced by the database itself (a partial unique index), so two
    concurrent promotions cannot both win. ``artifact_path`` is the folder holding the LightGBM model
    file (``model.txt``) and its conversion for the LTR plugin (``plugin_model.json``).
    """

    __tablename__ = "ranking_models"
    __table_args__ = (
        CheckConstraint("status IN ('candidate', 'active', 'retired', 'rejected')", name="ck_ranking_models_status"),
        Index("ux_ranking_models_one_active", "status", unique=True,
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # e.g. ltr-20261123-113000
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="candidate")  # candidate|active|retired|rejected
    featureset: Mapped[str] = mapped_column(String(100))
    featureset_hash: Mapped[str] = mapped_column(String(64))
    click_model: Mapped[str | None] = mapped_column(String(50))
    data_window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    data_window_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # training hyperparameters
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)  # offline metrics, e.g. {"test": {"ndcg@10": 0.41}}
    artifact_path: Mapped[str] = mapped_column(String(1000))
    promoted_by: Mapped[str | None] = mapped_column(String(100))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    notes: Mapped[str] = mapped_column(Text, default="")


class ConsoleUser(Base):
    """A person who logs into the admin console. Roles grow: a viewer looks, a tuner also changes the
    search tuning and judgments, an admin also promotes models, manages users and API keys."""

    __tablename__ = "console_users"
    __table_args__ = (CheckConstraint("role IN ('viewer', 'tuner', 'admin')", name="ck_console_users_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))  # werkzeug's salted scrypt
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Who changed what, when: every state-changing console action, API key change and failed login."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))  # e.g. login.failed, model.promote, tuning.activate
    target: Mapped[str] = mapped_column(String(300), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class ApiKey(Base):
    """A shop's key for the events API and the other write endpoints. Only its SHA-256 is stored (the key
    is 256 random bits, so a fast hash is enough); ``prefix`` lets a person tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class SearchTuningVersion(Base):
    """One saved version of the storefront's search tuning (fusion, boosts, depths, synonyms).

    At most one is ``live`` (a partial unique index, like the active model); the storefront serves it
    without a restart. Versions are never edited: a change is a new version, a rollback makes an older
    one live again.
    """

    __tablename__ = "search_tunings"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'live', 'retired')", name="ck_search_tunings_status"),
        Index("ux_search_tunings_one_live", "status", unique=True,
              sqlite_where=text("status = 'live'"), postgresql_where=text("status = 'live'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)  # the version number
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    values: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    preview: Mapped[dict | None] = mapped_column(JSON)  # nDCG@10 before/after on the judged train queries
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    activated_by: Mapped[str | None] = mapped_column(String(100))


class Judgment(Base):
    """A graded (query, product) pair: imported from a file or graded in the console. ``query`` is the
    normalised text, whose hash fixes the train/test split (``evaluation.judgments.split_of``)."""

    __tablename__ = "judgments"
    __table_args__ = (UniqueConstraint("query", "product_id", name="uq_judgments_query_product"),
                      CheckConstraint("grade >= 0", name="ck_judgments_grade"))

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    product_id: Mapped[str] = mapped_column(String(512))
    grade: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(100))  # file name, "console" ...
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EvaluationRun(Base):
    """The served ranking measured on the shop's judgments at one moment (scheduled or on demand).

    Two rows per run: ``ranking`` ``served`` (with the active model, if any) and ``hybrid`` (the same
    retrieval unreranked), so a plot over time shows what the model adds and when quality moved.
    """

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    ranking: Mapped[str] = mapped_column(String(50))  # served | hybrid
    model: Mapped[str | None] = mapped_column(String(100))
    config: Mapped[str] = mapped_column(String(50))
    tuning_version: Mapped[int | None] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(10))
    queries: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict] = mapped_column(JSON)  # ndcg@10, recall@100, mrr@10, err@10
    started_by: Mapped[str] = mapped_column(String(100))


class RebuildJob(Base):
    """A chunked embedding rebuild of one alias: the live index it reads, the new one it fills.

    At most one runs per alias (a partial unique index); a second request resumes it instead.
    """

    __tablename__ = "rebuild_jobs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'done', 'failed')", name="ck_rebuild_jobs_status"),
        Index("ux_rebuild_jobs_one_running", "alias", unique=True,
              sqlite_where=text("status = 'running'"), postgresql_where=text("status = 'running'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alias: Mapped[str] = mapped_column(String(200), index=True)
    source_index: Mapped[str] = mapped_column(String(300))
    target_index: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="running")
    chunk_size: Mapped[int] = mapped_column(Integer)
    planned: Mapped[int] = mapped_column(Integer)  # products in the source when the chunks were cut
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_by: Mapped[str] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    chunks: Mapped[list[RebuildChunk]] = relationship(back_populates="job", cascade="all, delete-orphan",
                                                      order_by="RebuildChunk.number")


class RebuildChunk(Base):
    """Products ``first_id`` .. ``last_id`` (id order) of a rebuild: encoded and written by one subtask.

    Writes are by product id, so a chunk redone after a crash overwrites, never duplicates; ``done`` is
    set only after its documents are in the new index.
    """

    __tablename__ = "rebuild_chunks"
    __table_args__ = (UniqueConstraint("job_id", "number", name="uq_rebuild_chunks_job_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("rebuild_jobs.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[str] = mapped_column(String(512))
    last_id: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | done
    documents: Mapped[int | None] = mapped_column(Integer)
    encoded: Mapped[int | None] = mapped_column(Integer)  # texts run through the model
    from_cache: Mapped[int | None] = mapped_column(Integer)  # texts the embedding cache already held
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job: Mapped[RebuildJob] = relationship(back_populates="chunks")
