"""The catalogue index's field names: one place for the mapping, the retrieval bodies and the featuresets.

A field renamed here is renamed everywhere that reads it; nothing else spells these literals.
"""

from __future__ import annotations

ID = "id"  # keyword with doc values: hits and scripts read the product id from it, never from _id
TITLE = "title"
TITLE_EXACT = "title.exact"  # lower-cased, unstemmed
TITLE_SHINGLES = "title.shingles"  # word pairs and triples
TITLE_DISPLAY = "title.display"  # doc values: result pages read the title from here
TITLE_DISPLAY_MAX_CHARS = 2048  # longer titles have no doc values (the keyword's ignore_above)
TITLE_TERMS = "title_terms"  # the title's distinct tokens (indexer.title_terms), doc values for match features
TITLE_LENGTH = "title_length"  # ... and how many tokens it has
TITLE_CODES = "title_match_codes"  # ... and the codes of their spellings (indexer.title_codes), long doc values
DESCRIPTION = "description"
BRAND = "brand"
BRAND_KEYWORD = "brand.keyword"
CATEGORY = "category"  # the path from the root, keyword
CATEGORY_TEXT = "category.text"
CATEGORY_LEAF = "category_leaf"
PRICE = "price"
AVAILABILITY = "availability"
VECTOR = "embedding"  # the lucene-HNSW knn_vector

#: Field boosts of the BM25 multi_match (the first stage, and the engine featureset's ``query_bm25``).
#: The title carries most of the signal in a product catalogue; exact and shingle sub-fields reward
#: unstemmed and phrase-like matches.
BM25_FIELDS = (f"{TITLE}^3", f"{TITLE_EXACT}^1.5", f"{TITLE_SHINGLES}^1.5", f"{BRAND}^2", f"{CATEGORY_TEXT}^1.5",
               f"{DESCRIPTION}^0.5")

#: Product behaviour written onto each document by ``shelfrank index behaviour`` (partial updates),
#: read by the featureset's script features at query time. Keys are the feature names.
BEHAVIOUR_FIELDS = {
    "product_ctr": "behaviour_ctr",
    "product_purchase_rate": "behaviour_purchase_rate",
    "product_popularity": "behaviour_popularity",
}

#: The queries that wanted a product (judged or clicked relevant for them), written onto each document by
#: ``shelfrank index history`` (partial updates): the codes of their tokens (:mod:`indexer.title_codes`,
#: long doc values) and how many there were, read by the featureset's ``history`` features.
HISTORY_CODES = "history_match_codes"
HISTORY_QUERIES = "history_queries"

#: The key of ``_meta.shelfrank`` where the behaviour sync keeps the priors of products without behaviour.
BEHAVIOUR_META_KEY = "behaviour"

#: What those syncs write after indexing, not the catalogue: a rebuild carries it to the new index and a
#: catalogue sync keeps it on the products it rewrites (:mod:`indexer.derived_fields`).
DERIVED_FIELDS = (*BEHAVIOUR_FIELDS.values(), HISTORY_CODES, HISTORY_QUERIES)
DERIVED_META_KEYS = (BEHAVIOUR_META_KEY,)

#: The traits personalisation matches a shopper's tastes against, written at indexing time with
#: :func:`indexer.traits.traits_of` so the engine's user features read what Python's would compute.
TRAIT_BRAND = "trait_brand"
TRAIT_DEPARTMENT = "trait_department"
TRAIT_PRICE_BAND = "trait_price_band"
