"""Fine-tuning data for the sentence encoder, from the shop's judgments, catalogue and BM25 rankings,
and the fine-tuning run itself: what ``shelfrank encoder finetune`` (and any other face) calls.

Positives are judged relevant products; negatives, when asked for, are judged-and-rejected products
and/or BM25's top hits nobody judged for the query (what lexical search gets wrong).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opensearchpy import OpenSearch

from core.opensearch_client import make_client
from core.settings import Settings
from encoders.bert import bundled_model_path
from encoders.finetune import FineTuneParams, fine_tune, hard_negatives, lexical_negatives, merge_negatives, positives
from evaluation.judgments import Judgments
from indexer.pipeline import embedding_texts
from storefront.batch_rankings import bm25_rankings


class EncoderDataError(ValueError):
    """The judgments cannot make a training set; the message says why."""


@dataclass(frozen=True)
class EncoderTrainingSet:
    positive: dict[str, list[str]]
    negative: dict[str, list[str]] | None
    with_judged_negative: int | None  # queries given a judged-and-rejected negative (None: not asked for)
    with_bm25_negative: int | None  # queries given BM25 negatives (None: not asked for)
    missing_products: int  # judged products the index does not hold

    def summary(self) -> str:
        return (f"{len(self.positive)} queries with relevant products ({sum(map(len, self.positive.values()))} "
                "pairs); "
                + (f"{self.with_judged_negative} with a judged hard negative; "
                   if self.with_judged_negative is not None else "")
                + (f"{self.with_bm25_negative} with BM25 negatives; " if self.with_bm25_negative is not None else "")
                + f"{self.missing_products} judged products are not in the index")


def training_set(client: OpenSearch, index: str, judged: Judgments, params: FineTuneParams,
                 progress: bool = False) -> EncoderTrainingSet:
    if params.negative_max_grade is not None and params.negative_max_grade >= params.min_grade:
        raise EncoderDataError(f"the hard-negative grade {params.negative_max_grade} must be below the relevant "
                               f"grade {params.min_grade}")
    ids = sorted({pid for grades in judged.values() for pid in grades})
    titles = embedding_texts(client, index, ids)
    positive = positives(judged, titles, params.min_grade)
    if len(positive) < 2:
        raise EncoderDataError(f"only {len(positive)} queries have a product graded {params.min_grade} or more "
                               "in the index")
    rejected = lexical = None
    if params.negative_max_grade is not None:
        rejected = hard_negatives(judged, titles, params.negative_max_grade, positive)
    if params.bm25_negatives:
        # Looking deeper than N leaves room for the judged hits, which are skipped.
        ranked = bm25_rankings(client, index, sorted(positive), max(10, 3 * params.bm25_negatives), progress=progress)
        unjudged = sorted({pid for pids in ranked.values() for pid in pids} - titles.keys())
        texts = {**embedding_texts(client, index, unjudged), **titles}
        lexical = lexical_negatives(ranked, judged, texts, positive, params.bm25_negatives)
    return EncoderTrainingSet(positive, merge_negatives(rejected, lexical), None if rejected is None else len(rejected),
                              None if lexical is None else len(lexical), len(ids) - len(titles))


def finetune_encoder(settings: Settings, judged: Judgments, out: Path, params: FineTuneParams,
                     index: str | None = None, progress: bool = False,
                     announce: Callable[[str], None] | None = None) -> tuple[EncoderTrainingSet, dict]:
    """Build the training set from ``index`` (default: the configured alias) and fine-tune the configured
    encoder on it into ``out``; returns the set and the training log. ``announce`` hears the set's summary
    before the (long) training starts."""
    data = training_set(make_client(settings), index or settings.default_index, judged, params, progress)
    if announce is not None:
        announce(data.summary())
    base = settings.model_path or bundled_model_path()
    log = fine_tune(Path(base), data.positive, out, params, device=settings.encoder_device, progress=progress,
                    negative=data.negative)
    return data, log
