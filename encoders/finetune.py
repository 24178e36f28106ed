"""Fine-tune the sentence encoder on a shop's own judged (query, product) pairs.

A general-purpose encoder knows little about product titles ("1/2 in. x 10 ft. PEX pipe"). A few
minutes of contrastive training on the shop's judgments teaches it which titles answer which
queries. The loss is the in-batch-negatives ranking loss: every query should score its own
relevant title above the other titles in the batch (cosine x ``scale``, cross-entropy). Batches are
built so that no title serves as a negative for a query the judgments call it relevant to. Training
reads only the judgments it is given: pass the train split.

Optionally a query also brings one *hard negative*, of two kinds: a product judged for it but graded
irrelevant (an engine showed it and the judges rejected it), or a product that BM25 ranks near the
top for it but nobody judged for it (lexical search likes it for the wrong words). Both teach the
fine distinctions that in-batch negatives (random other titles) never do. The second kind makes
the encoder complement BM25: in a hybrid, its vectors push down what the lexical side gets wrong.

The result is a Hugging Face folder like the bundled model (config, weights, tokenizer), made
locally from local weights, loaded by :class:`encoders.bert.BertEncoder` via
``SHELFRANK_MODEL_PATH``. Indices must be rebuilt with it, since vectors from two models do not mix.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

from encoders.bert import mean_pool_normalise


@dataclass(frozen=True)
class FineTuneParams:
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    scale: float = 20.0  # cosine -> logit temperature of the contrastive loss
    max_length: int = 48
    min_grade: float = 1.0  # judged at least this relevant to count as a positive
    negative_max_grade: float | None = None  # judged at most this relevant: a hard negative (None: none)
    bm25_negatives: int = 0  # top unjudged BM25 hits per query offered as hard negatives (0: none)
    seed: int = 0


Example = tuple[str, str, str | None]  # (query, relevant title, hard negative title or None)


def positives(judgments: Mapping[str, Mapping[str, float]], titles: Mapping[str, str],
              min_grade: float) -> dict[str, list[str]]:
    """Query -> titles of its products graded ``min_grade`` or better (queries without any are left out)."""
    found: dict[str, list[str]] = {}
    for query, grades in judgments.items():
        relevant = sorted({titles[pid] for pid, grade in grades.items() if grade >= min_grade and pid in titles})
        if relevant:
            found[query] = relevant
    return found


def hard_negatives(judgments: Mapping[str, Mapping[str, float]], titles: Mapping[str, str], max_grade: float,
                   positive: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Query -> titles of its products graded ``max_grade`` or worse, for queries that have a positive.

    A title that is also one of the query's positives (two products with the same title, judged
    differently) is left out: it cannot be both.
    """
    found: dict[str, list[str]] = {}
    for query, grades in judgments.items():
        if query not in positive:
            continue
        relevant = set(positive[query])
        rejected = sorted({titles[pid] for pid, grade in grades.items()
                           if grade <= max_grade and pid in titles} - relevant)
        if rejected:
            found[query] = rejected
    return found


def lexical_negatives(ranked: Mapping[str, Sequence[str]], judgments: Mapping[str, Mapping[str, float]],
                      texts: Mapping[str, str], positive: Mapping[str, Sequence[str]],
                      per_query: int) -> dict[str, list[str]]:
    """Query -> texts of its best-ranked BM25 hits (``ranked``: product ids, best first) that are not
    judged for it, at most ``per_query``, for queries that have a positive.

    Judged products are left out whatever their grade (the judges already said what they are), and
    so is any product whose text equals that of a product judged for the query, e.g. the same title
    under another id. An unjudged product may still be relevant; taking only the top few keeps
    those rare.
    """
    found: dict[str, list[str]] = {}
    for query, product_ids in ranked.items():
        if query not in positive or per_query <= 0:
            continue
        judged = judgments.get(query, {})
        known = set(positive[query]) | {texts[pid] for pid in judged if pid in texts}
        picked: list[str] = []
        for pid in product_ids:
            text = texts.get(pid)
            if pid in judged or text is None or text in known or text in picked:
                continue
            picked.append(text)
            if len(picked) == per_query:
                break
        if picked:
            found[query] = picked
    return found


def merge_negatives(*maps: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    """Query -> the negatives of every map, in order and without repeats (None when no map is given)."""
    given = [m for m in maps if m is not None]
    if not given:
        return None
    merged: dict[str, list[str]] = {}
    for negatives in given:
        for query, texts in negatives.items():
            bucket = merged.setdefault(query, [])
            for text in texts:
                if text not in bucket:
                    bucket.append(text)
    return merged


def epoch_batches(positive: Mapping[str, Sequence[str]], batch_size: int, rng: random.Random,
                  negative: Mapping[str, Sequence[str]] | None = None) -> list[list[Example]]:
    """One (query, random relevant title, random hard negative or None) per query, shuffled, cut into
    batches in which no title is a negative for a query it is relevant to.

    In a batch every query is contrasted with every other title, so an example whose title is
    relevant to a query already in the batch (or whose query finds an earlier title relevant) waits
    for the next batch; a hard negative that some query of the batch finds relevant is dropped. Every
    query gets into the epoch once, except one left alone in a last batch with nothing to contrast.
    """
    negative = negative or {}
    examples: list[Example] = []
    for query, titles in positive.items():
        rejected = negative.get(query)
        examples.append((query, rng.choice(list(titles)), rng.choice(list(rejected)) if rejected else None))
    rng.shuffle(examples)
    waiting = deque(examples)
    batches: list[list[Example]] = []
    while waiting:
        current: list[Example] = []
        relevant: set[str] = set()  # every title relevant to some query of the batch
        targets: set[str] = set()  # the batch's positive titles
        deferred: list[Example] = []
        while waiting and len(current) < batch_size:
            query, title, rejected = waiting.popleft()
            mine = set(positive[query])
            if title in relevant or mine & targets:
                deferred.append((query, title, rejected))
                continue
            current = [(q, t, None if n in mine else n) for q, t, n in current]
            used = {n for _, _, n in current if n is not None}
            if rejected is not None and (rejected in relevant or rejected in mine or rejected in used):
                rejected = None
            current.append((query, title, rejected))
            relevant |= mine
            targets.add(title)
        waiting.extendleft(reversed(deferred))
        if len(current) > 1 or (current and current[0][2] is not None):
            batches.append(current)
    return batches


def in_batch_loss(queries: torch.Tensor, titles: torch.Tensor, scale: float) -> torch.Tensor:
    """Cross-entropy of each query over all titles of the batch, its own title being the target.

    ``titles`` holds the batch's positives first (row i belongs to query i), then any hard
    negatives, which every query in the batch must score below its own positive.
    """
    logits = scale * queries @ titles.T
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(queries), device=logits.device))


def warmup_linear_decay(optimizer: torch.optim.Optimizer, total: int,
                        warmup_fraction: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate ramped up over the first ``warmup_fraction`` of ``total`` steps, then down to 0:
    the schedule both of the project's encoder trainings use."""
    warmup = max(1, int(warmup_fraction * total))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(1, total - warmup)))


def optimise(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
             schedule: torch.optim.lr_scheduler.LambdaLR, loss: torch.Tensor) -> float:
    """One step on ``loss`` (gradients clipped at norm 1); returns the loss as a float."""
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()
    return float(loss.detach())


def fine_tune(base: Path, positive: Mapping[str, Sequence[str]], out: Path, params: FineTuneParams = FineTuneParams(),
              device: str | None = None, progress: bool = False,
              negative: Mapping[str, Sequence[str]] | None = None) -> dict:
    """Train from the model folder ``base`` and save the result in ``out``; returns the training log.

    ``negative`` maps queries to hard-negative titles (see :func:`hard_negatives`)."""
    if len(positive) < 2:
        raise ValueError("fine-tuning needs at least two queries with a relevant product")
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModel.from_pretrained(base, local_files_only=True).to(target).train()

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, truncation=True, max_length=params.max_length, padding=True,
                          return_tensors="pt").to(target)
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        return mean_pool_normalise(hidden, batch["attention_mask"])

    epochs = [epoch_batches(positive, params.batch_size, rng, negative) for _ in range(params.epochs)]
    steps_per_epoch = len(epochs[0])
    total = sum(map(len, epochs))
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    schedule = warmup_linear_decay(optimizer, total, params.warmup_fraction)
    losses: list[float] = []
    bar = tqdm(total=total, desc="fine-tuning", unit="batch", disable=not progress)
    for batches in epochs:
        for batch in batches:
            titles = [t for _, t, _ in batch] + [n for _, _, n in batch if n is not None]
            loss = in_batch_loss(embed([q for q, _, _ in batch]), embed(titles), params.scale)
            losses.append(optimise(model, optimizer, schedule, loss))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log = {"base": str(base), "queries": len(positive), "params": asdict(params), "steps": len(losses),
           "queries_with_hard_negatives": len(negative or {}),
           "hard_negatives_used_first_epoch": sum(n is not None for batch in epochs[0] for _, _, n in batch),
           "loss_first_epoch": sum(losses[:steps_per_epoch]) / max(1, min(steps_per_epoch, len(losses))),
           "loss_last_epoch": sum(losses[-steps_per_epoch:]) / max(1, min(steps_per_epoch, len(losses)))}
    (out / "shelfrank_finetune.json").write_text(json.dumps(log, indent=2))
    return log
