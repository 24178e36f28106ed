"""The body of a catalogue index: analyzers, field mappings and the model identity in ``_meta``."""

from __future__ import annotations

from datetime import datetime, timezone

from core.settings import Settings
from encoders.identity import ModelIdentity
from indexer import schema


def index_body(settings: Settings, model: ModelIdentity, alias: str) -> dict:
    """Settings and mappings of a new physical index for ``alias``; the fields that searches and features
    read are named by :mod:`indexer.schema`, the catalogue's other fields by :class:`indexer.catalog.Product`.

    Text fields use the ``english`` analyzer (stemming, stop words) for recall, with an
    ``exact`` sub-field (lower-cased, unstemmed) and a ``shingles`` sub-field (word pairs
    and triples) so phrase-like matches can be boosted.
    """
    exact = {"type": "text", "analyzer": "shelf_exact"}
    shingles = {"type": "text", "analyzer": "shelf_shingles"}
    # The title as doc values: result pages read it (and the product id) from doc values, never
    # from stored fields, whose per-hit block decompression dominated fetching 100 candidates.
    display = {"type": "keyword", "index": False, "doc_values": True, "ignore_above": schema.TITLE_DISPLAY_MAX_CHARS}
    return {
        "settings": {
            "index": {
                "knn": True,
                "number_of_shards": settings.index_shards,
                "number_of_replicas": settings.index_replicas,
            },
            "analysis": {
                "filter": {
                    "shelf_shingle": {"type": "shingle", "min_shingle_size": 2, "max_shingle_size": 3,
                                      "output_unigrams": False},
                },
                "analyzer": {
                    "shelf_exact": {"type": "custom", "tokenizer": "standard",
                                    "filter": ["lowercase", "asciifolding"]},
                    "shelf_shingles": {"type": "custom", "tokenizer": "standard",
                                       "filter": ["lowercase", "asciifolding", "shelf_shingle"]},
                },
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": {
                "shelfrank": {
                    "alias": alias,
                    "model": model.as_dict(),
                    "created_at": datetime.now(timezone.utc).isoformat(),
                }
            },
            "properties": {
                schema.ID: {"type": "keyword"},
                schema.TITLE: {"type": "text", "analyzer": "english",
                               "fields": {_sub(schema.TITLE_EXACT): exact, _sub(schema.TITLE_SHINGLES): shingles,
                                          _sub(schema.TITLE_DISPLAY): display}},
                schema.DESCRIPTION: {"type": "text", "analyzer": "english", "fields": {"exact": exact}},
                schema.BRAND: {"type": "text", "analyzer": "english",
                               "fields": {_sub(schema.BRAND_KEYWORD): {"type": "keyword"}}},
                schema.CATEGORY: {"type": "keyword",
                                  "fields": {_sub(schema.CATEGORY_TEXT): {"type": "text", "analyzer": "english"}}},
                schema.CATEGORY_LEAF: {"type": "keyword"},
                schema.PRICE: {"type": "float"},
                "currency": {"type": "keyword"},
                "attributes": {"type": "flat_object"},
                schema.AVAILABILITY: {"type": "keyword"},
                "popularity": {"type": "float"},
                "rating": {"type": "float"},
                "image_url": {"type": "keyword", "index": False},
                "updated_at": {"type": "date"},
                "text_sha256": {"type": "keyword", "index": False},
                **title_terms_properties(),
                **behaviour_properties(),
                **history_properties(),
                schema.VECTOR: {
                    "type": "knn_vector",
                    "dimension": model.dimension,
                    "method": {
                        "name": "hnsw",
                        "engine": "lucene",
                        "space_type": settings.knn_space_type,
                        "parameters": {"m": settings.hnsw_m, "ef_construction": settings.hnsw_ef_construction},
                    },
                },
            },
        },
    }


def _sub(path: str) -> str:
    """The sub-field's own name in a ``field.sub`` path of :mod:`indexer.schema`."""
    _, _, sub = path.partition(".")
    if not sub:
        raise ValueError(f"{path!r} is not a sub-field")
    return sub


def behaviour_properties() -> dict:
    """Fields of what shoppers did with a product and of its traits; added to older indices by the
    behaviour sync (a mapping update, no reindex)."""
    numbers = {field: {"type": "float"} for field in schema.BEHAVIOUR_FIELDS.values()}
    traits = {field: {"type": "keyword"} for field in
              (schema.TRAIT_BRAND, schema.TRAIT_DEPARTMENT, schema.TRAIT_PRICE_BAND)}
    return {**numbers, **traits}


def history_properties() -> dict:
    """Fields of the queries that wanted a product (the ``history`` features), doc values only; put on an
    older index by the history sync (a mapping update, no reindex)."""
    return {schema.HISTORY_CODES: {"type": "long", "index": False, "doc_values": True},
            schema.HISTORY_QUERIES: {"type": "float", "index": False}}


def title_terms_properties() -> dict:
    """The title's tokens for the match features (:mod:`indexer.title_terms`), doc values only; put on an
    older live index by :func:`indexer.pipeline.sync` before it writes them (a mapping update, no reindex)."""
    return {schema.TITLE_TERMS: {"type": "keyword", "index": False, "doc_values": True},
            schema.TITLE_LENGTH: {"type": "integer", "index": False},
            schema.TITLE_CODES: {"type": "long", "index": False, "doc_values": True}}
