"""Train a cross-encoder from the bundled MiniLM on a shop's judged queries and its own hard negatives.

Each step shows the model a few queries, each with a *group*: one relevant product and several it
must score lower, from the same query's own candidates (products the first stage ranks high that
nobody judged, and products the judges rejected). The loss is the cross-entropy of the relevant
product within its group (a listwise softmax), which teaches exactly what the last stage does:
order one query's candidates. Training reads only the judgments it is given: pass the train split
(less the validation slice the stage's weight is chosen on).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from encoders.cross_encoder import METADATA
from encoders.finetune import optimise, warmup_linear_decay


@dataclass(frozen=True)
class CrossTrainParams:
    epochs: float = 1.0  # passes over the queries (fractions allowed: a quick model on 2 CPU cores)
    queries_per_step: int = 8
    group_size: int = 4  # one relevant product and group_size - 1 negatives per query and step
    learning_rate: float = 3e-5
    warmup_fraction: float = 0.1
    max_length: int = 64
    min_grade: float = 1.0  # judged at least this relevant to count as a positive
    negative_max_grade: float = 0.5  # judged at most this relevant: a negative like the unjudged ones
    negatives_depth: int = 30  # unjudged candidates looked at per query
    seed: int = 0


@dataclass(frozen=True)
class TrainingQuery:
    query: str
    positives: tuple[str, ...]  # texts
    negatives: tuple[str, ...]  # texts


def training_queries(judgments: Mapping[str, Mapping[str, float]], ranked: Mapping[str, Sequence[str]],
                     texts: Mapping[str, str], params: CrossTrainParams) -> list[TrainingQuery]:
    """Queries with a relevant product and at least one negative, in query order.

    Negatives: the query's top ``negatives_depth`` ranked products nobody judged for it (an
    unjudged product whose text equals a judged one's is skipped: the same product under another
    id), then the products the judges graded ``negative_max_grade`` or lower.
    """
    found: list[TrainingQuery] = []
    for query in sorted(judgments):
        grades = judgments[query]
        positive = sorted({texts[p] for p, g in grades.items() if g >= params.min_grade and p in texts})
        if not positive:
            continue
        judged_texts = {texts[p] for p in grades if p in texts}
        negative: list[str] = []
        for pid in list(ranked.get(query, ()))[: params.negatives_depth]:
            text = texts.get(pid)
            if pid not in grades and text is not None and text not in judged_texts and text not in negative:
                negative.append(text)
        negative += sorted({texts[p] for p, g in grades.items() if g <= params.negative_max_grade and p in texts}
                           - set(positive) - set(negative))
        if negative:
            found.append(TrainingQuery(query, tuple(positive), tuple(negative)))
    return found


def step_groups(items: Sequence[TrainingQuery], params: CrossTrainParams,
                rng: random.Random) -> list[list[tuple[str, list[str]]]]:
    """The whole run's steps: each a list of (query, [positive, negative, ...]) of ``group_size`` texts.

    Queries are visited in a fresh shuffle per pass; a query with fewer negatives than the group
    needs repeats some (sampling with replacement only then)."""
    n_steps = max(1, int(params.epochs * len(items) / params.queries_per_step))
    order: list[TrainingQuery] = []
    while len(order) < n_steps * params.queries_per_step:
        shuffled = list(items)
        rng.shuffle(shuffled)
        order += shuffled
    need = params.group_size - 1
    steps = []
    for s in range(n_steps):
        step = []
        for item in order[s * params.queries_per_step:(s + 1) * params.queries_per_step]:
            negatives = (rng.sample(item.negatives, need) if len(item.negatives) >= need
                         else [rng.choice(item.negatives) for _ in range(need)])
            step.append((item.query, [rng.choice(item.positives), *negatives]))
        steps.append(step)
    return steps


def train_cross_encoder(base: Path, items: Sequence[TrainingQuery], out: Path,
                        params: CrossTrainParams = CrossTrainParams(), device: str | None = None,
                        progress: bool = False) -> dict:
    """Train from the encoder folder ``base`` (a new one-logit head on it) and save into ``out``;
    returns the training log (also written to the folder's metadata file)."""
    if len(items) < 2:
        raise ValueError("training a cross-encoder needs at least two queries with a relevant product and a negative")
    if params.group_size < 2:
        raise ValueError("group_size must be at least 2 (a positive and a negative)")
    torch.manual_seed(params.seed)
    rng = random.Random(params.seed)
    target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1, local_files_only=True)
    model = model.to(target).train()
    steps = step_groups(items, params, rng)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.learning_rate)
    schedule = warmup_linear_decay(optimizer, len(steps), params.warmup_fraction)
    started = time.perf_counter()
    losses: list[float] = []
    bar = tqdm(steps, desc="training the cross-encoder", unit="step", disable=not progress)
    for step in bar:
        queries = [q for q, group in step for _ in group]
        texts = [t for _, group in step for t in group]
        batch = tokenizer(queries, texts, truncation=True, max_length=params.max_length, padding=True,
                          return_tensors="pt").to(target)
        logits = model(**batch).logits[:, 0].view(len(step), params.group_size)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(step), dtype=torch.long, device=target))
        losses.append(optimise(model, optimizer, schedule, loss))
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    tenth = max(1, len(losses) // 10)
    log = {"base": str(base), "queries": len(items), "params": asdict(params), "steps": len(losses),
           "seconds": round(time.perf_counter() - started, 1), "device": str(target),
           "loss_first_tenth": sum(losses[:tenth]) / tenth, "loss_last_tenth": sum(losses[-tenth:]) / tenth}
    (out / METADATA).write_text(json.dumps(log, indent=2))
    return log
