"""``shelfrank encoder finetune``: adapt the sentence encoder to the shop's own judged queries."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.errors import fail, user_errors
from core.settings import get_settings
from evaluation import judgments as judgments_io
from storefront.service import SearchUnavailable

app = typer.Typer(help="The sentence encoder: fine-tuning on judged queries.", no_args_is_help=True)


@app.command("finetune")
@user_errors
def finetune(
    judgments: Path = typer.Option(..., "--judgments", help="Judgments file (CSV, TREC qrels or Home Depot)."),
    fmt: str = typer.Option("csv", "--format", help="csv, trec or homedepot."),
    topics: Path = typer.Option(None, "--topics", help="TREC topics file."),
    out: Path = typer.Option(..., "--out", help="Folder for the fine-tuned model (then SHELFRANK_MODEL_PATH=OUT)."),
    split: str = typer.Option("train", help="Which fixed split to learn from: train (keeps test honest) or all."),
    epochs: int = typer.Option(3, min=1), batch_size: int = typer.Option(64, min=2),
    learning_rate: float = typer.Option(5e-5), min_grade: float = typer.Option(
        1.0, help="Grade at which a judged product counts as relevant."),
    negative_max_grade: float = typer.Option(
        None, "--hard-negatives", help="Also train each query against one of its products graded at most "
        "this (judged and rejected); e.g. 0.34 on the Home Depot 0..2 gains. Default: in-batch negatives only."),
    bm25_negatives: int = typer.Option(
        0, "--bm25-negatives", min=0, help="Also train each query against one of its N best-ranked BM25 hits that "
        "nobody judged for it (looked for in its top max(10, 3N)). For hybrid search: the vectors learn what "
        "lexical search gets wrong (on Home Depot, N=3 lowered vector-only nDCG@10 but lifted the hybrid; "
        "docs/measurements.md). A failed BM25 query stops the run. Default 0: none."),
    index: str = typer.Option(None, "--index", help="Catalogue alias the product texts come from "
                              "(default: SHELFRANK_DEFAULT_INDEX)."),
) -> None:
    """Contrastive fine-tuning of the configured encoder on (query, relevant title) pairs.

    Rebuild the indices with the new model afterwards: SHELFRANK_MODEL_PATH=OUT shelfrank index rebuild.
    """
    # torch and transformers load here, not when the CLI starts: `shelfrank --help` stays instant.
    from encoders.finetune import FineTuneParams
    from ltr.encoder_training import EncoderDataError, finetune_encoder

    settings = get_settings()
    try:
        judged = judgments_io.select_split(judgments_io.load(judgments, fmt, topics), split)
    except (OSError, judgments_io.JudgmentsError) as exc:
        raise fail(str(exc)) from None
    if negative_max_grade is not None and negative_max_grade >= min_grade:
        raise fail(f"--hard-negatives {negative_max_grade} must be below --min-grade {min_grade}")
    params = FineTuneParams(epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, min_grade=min_grade,
                            negative_max_grade=negative_max_grade, bm25_negatives=bm25_negatives)
    try:
        _data, log = finetune_encoder(settings, judged, out, params, index, progress=True, announce=typer.echo)
    except (EncoderDataError, SearchUnavailable) as exc:
        raise fail(str(exc)) from None
    typer.echo(json.dumps({k: log[k] for k in ("queries", "queries_with_hard_negatives", "steps",
                                                "loss_first_epoch", "loss_last_epoch")}))
    typer.echo(f"saved in {out}. Use it: SHELFRANK_MODEL_PATH={out} .venv/bin/shelfrank index rebuild")
    if out.resolve().parent != settings.effective_encoders_dir.resolve():
        typer.echo(f"(searches and catalogue syncs find it after the rebuild only in {settings.effective_encoders_dir} "
                   "or SHELFRANK_MODEL_PATH: move it there, or point SHELFRANK_ENCODERS_DIR at its folder)")
