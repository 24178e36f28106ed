"""Which encoder writes into a live index: the model its vectors came from.

A catalogue sync adds vectors to the index that serves now. After a rebuild with a shop's fine-tuned encoder
that is not the configured ``SHELFRANK_MODEL_PATH``; rather than refuse every sync until each worker is
reconfigured, catalogue writes (imports, syncs, the drop folder, a catalogue replaced in full) encode with the
model the index records when a local folder holds it; the storefront does the same for queries. ``shelfrank
index rebuild`` and the embedding rebuild are how a shop changes models, so they keep the configured one.
"""

from __future__ import annotations

import logging
from pathlib import Path

from opensearchpy import OpenSearch

from core.settings import Settings
from encoders.identity import ModelIdentity, bundled_model_path
from encoders.registry import find_model, model_folders
from indexer.versions import live_model

log = logging.getLogger(__name__)


def local_model_folder(settings: Settings, model: ModelIdentity) -> Path | None:
    """The folder holding ``model`` among those these settings can see (:func:`encoders.registry.model_folders`)."""
    return find_model(model, model_folders(settings.model_path, settings.effective_encoders_dir))


def settings_at(settings: Settings, folder: Path) -> Settings:
    """``settings`` encoding with the model in ``folder`` (the same object when that is the configured one)."""
    if folder == (settings.model_path or bundled_model_path()):
        return settings
    return settings.model_copy(update={"model_path": folder})


def settings_for_writes(settings: Settings, client: OpenSearch, alias: str) -> Settings:
    """``settings`` with ``model_path`` set to the local folder of the model ``alias``'s vectors came from, when
    that is another model and a folder holds it; otherwise ``settings`` as they are (a new index, or a model
    no folder holds: the sync's model check then names the mismatch)."""
    wanted = live_model(client, alias)
    folder = local_model_folder(settings, wanted) if wanted is not None else None
    if folder is None:
        return settings
    chosen = settings_at(settings, folder)
    if chosen is not settings:
        log.info("%s holds vectors of %s: encoding with %s", alias, wanted.key, folder)  # type: ignore[union-attr]
    return chosen
