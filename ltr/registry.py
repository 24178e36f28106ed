"""The learning-to-rank model registry: which trained models exist, and which one the storefront serves.

A model is registered as a ``candidate`` after training. ``promote`` makes it ``active`` once a gate
(an offline check: the artifact is complete, the plugin scores like LightGBM...) has passed; the
previously active model becomes ``retired`` in the same transaction. ``rollback`` retires the active
model and reactivates the one it replaced. ``reject`` marks a candidate that must never be served.

Every function takes the caller's ``Session`` and only flushes: the caller owns the transaction
(``with session_scope(url) as session: ...``), so a promotion is all-or-nothing. "At most one active
model" is also enforced by the database (a partial unique index), so two concurrent promotions
cannot both win: the loser gets a ``RegistryError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db.models import RankingModel, utcnow

CANDIDATE, ACTIVE, RETIRED, REJECTED = "candidate", "active", "retired", "rejected"
STATUSES = (CANDIDATE, ACTIVE, RETIRED, REJECTED)
PROMOTABLE = (CANDIDATE, RETIRED)

MODEL_FILE = "model.txt"  # the LightGBM model as LightGBM saves it
PLUGIN_MODEL_FILE = "plugin_model.json"  # the same model converted for the OpenSearch LTR plugin

_HASH = re.compile(r"^[0-9a-f]{64}$")
_MAX_CASES_IN_MESSAGE = 5


class RegistryError(RuntimeError):
    """A registry operation that cannot be done; the message says why (and what to do)."""


@dataclass(frozen=True)
class GateResult:
    """What a promotion gate found. ``differences`` are human-readable failing cases."""

    passed: bool
    checked: int = 0  # queries compared
    max_abs_diff: float = 0.0
    differences: list[str] = field(default_factory=list)
    detail: str = ""

    def summary(self) -> str:
        text = self.detail or ("passed" if self.passed else "failed")
        if self.checked:
            text += f" ({self.checked} queries compared, max abs diff {self.max_abs_diff:.6g})"
        return text


class PromotionRefused(RegistryError):
    """The gate did not pass; nothing was changed. ``gate_result`` says why."""

    def __init__(self, model_name: str, gate_result: GateResult) -> None:
        self.model_name = model_name
        self.gate_result = gate_result
        message = f"model {model_name} was not promoted, the gate failed: {gate_result.summary()}"
        cases = gate_result.differences
        if cases:
            shown = "; ".join(cases[:_MAX_CASES_IN_MESSAGE])
            more = f" (and {len(cases) - _MAX_CASES_IN_MESSAGE} more)" if len(cases) > _MAX_CASES_IN_MESSAGE else ""
            message += f"; differing cases: {shown}{more}"
        super().__init__(message)


Gate = Callable[[RankingModel], GateResult]


def register_candidate(
    session: Session,
    *,
    name: str,
    featureset: str,
    featureset_hash: str,
    artifact_path: str | Path,
    params: dict,
    metrics: dict,
    click_model: str | None = None,
    data_window: tuple[datetime | None, datetime | None] = (None, None),
    notes: str = "",
) -> RankingModel:
    """Record a freshly trained model as a candidate (not served until promoted)."""
    name = name.strip()
    if not name:
        raise RegistryError("a model needs a name (e.g. ltr-20261123-113000)")
    if len(name) > RankingModel.__table__.c.name.type.length:
        raise RegistryError(f"model name {name!r} is too long")
    if not _HASH.match(featureset_hash):
        raise RegistryError(f"featureset hash {featureset_hash!r} is not a SHA-256 hex digest (64 hex characters)")
    start, end = data_window
    if start is not None and end is not None and start > end:
        raise RegistryError(f"data window starts ({start.isoformat()}) after it ends ({end.isoformat()})")
    if session.scalar(select(RankingModel.id).where(RankingModel.name == name)) is not None:
        raise RegistryError(f"a model named {name} is already registered")
    model = RankingModel(
        name=name, status=CANDIDATE, featureset=featureset, featureset_hash=featureset_hash,
        click_model=click_model, data_window_start=start, data_window_end=end, params=dict(params),
        metrics=dict(metrics), artifact_path=str(artifact_path), notes=notes, created_at=utcnow(),
    )
    session.add(model)
    session.flush()
    return model


def active_model(session: Session) -> RankingModel | None:
    """The model the storefront serves, or None when it serves no learned ranking."""
    return session.scalars(select(RankingModel).where(RankingModel.status == ACTIVE)).one_or_none()


def list_models(session: Session) -> list[RankingModel]:
    """Every registered model, newest first."""
    return list(session.scalars(select(RankingModel).order_by(RankingModel.created_at.desc(),
                                                              RankingModel.id.desc())))


def get_model(session: Session, name_or_id: str | int) -> RankingModel:
    """A model by name, or by id (an int, or a string of digits that is not a model name)."""
    model: RankingModel | None = None
    if isinstance(name_or_id, int):
        model = session.get(RankingModel, name_or_id)
    else:
        key = name_or_id.strip()
        model = session.scalars(select(RankingModel).where(RankingModel.name == key)).one_or_none()
        if model is None and key.isdigit():
            model = session.get(RankingModel, int(key))
    if model is None:
        raise RegistryError(f"no model {name_or_id!r} in the registry (see: shelfrank models list)")
    return model


def promote(session: Session, name_or_id: str | int, *, by: str, gate: Gate) -> RankingModel:
    """Make a candidate (or a retired model) the active one, if ``gate`` passes.

    The gate runs before anything changes; when it fails, ``PromotionRefused`` is raised and the
    active model stays active. Otherwise the active model is retired and this one activated in the
    caller's transaction.
    """
    by = (by or "").strip()
    if not by:
        raise RegistryError("say who promotes the model (by)")
    model = get_model(session, name_or_id)
    _check_promotable(model)
    result = gate(model)
    if not result.passed:
        raise PromotionRefused(model.name, result)
    # The gate may take a while: re-read (and, on PostgreSQL, lock) the rows it is about to change.
    model = session.scalars(select(RankingModel).where(RankingModel.id == model.id)
                            .with_for_update().execution_options(populate_existing=True)).one()
    _check_promotable(model)
    now, name = utcnow(), model.name  # the name is read now: after a failed flush the row cannot be
    current = _locked_active(session)
    try:
        if current is not None:
            current.status, current.retired_at = RETIRED, now
            session.flush()  # retire first: the one-active index is checked row by row
        model.status, model.promoted_by, model.promoted_at, model.retired_at = ACTIVE, by, now, None
        # The gate's report stays with the model: whoever looks at it later sees what was checked.
        model.notes = _append(model.notes, f"{now:%Y-%m-%d %H:%M} promoted by {by}; gate passed: {result.summary()}")
        session.flush()
    except IntegrityError as exc:
        session.rollback()  # the failed flush ended the transaction; nothing of this promotion is kept
        raise RegistryError(f"model {name} was not promoted: another model became active at the same "
                            "time; check `shelfrank models list` and try again") from exc
    return model


def rollback(session: Session, *, by: str) -> RankingModel | None:
    """Retire the active model and reactivate the model it replaced; returns the new active model.

    The model reactivated is the most recently retired one (by ``retired_at``) among those retired
    no later than the active model's promotion, i.e. the model that was active before it. Models
    retired by an earlier rollback are therefore never brought back, and repeated rollbacks walk
    back through the promotion history. With no such model the storefront serves no learned
    ranking any more (None). A reactivated model keeps its original ``promoted_by``/``promoted_at``
    (which is what lets the history be walked back); the rollback is written in both models' notes.
    """
    by = (by or "").strip()
    if not by:
        raise RegistryError("say who rolls back (by)")
    current = _locked_active(session)
    if current is None:
        raise RegistryError("no model is active: there is nothing to roll back")
    query = (select(RankingModel)
             .where(RankingModel.status == RETIRED, RankingModel.id != current.id,
                    RankingModel.retired_at.is_not(None))
             .order_by(RankingModel.retired_at.desc(), RankingModel.id.desc()).limit(1))
    if current.promoted_at is not None:
        query = query.where(RankingModel.retired_at <= current.promoted_at)
    previous = session.scalars(query.with_for_update()).one_or_none()
    now = utcnow()
    stamp = now.strftime("%Y-%m-%d %H:%M:%S UTC")
    try:
        current.status, current.retired_at = RETIRED, now
        current.notes = _append(current.notes, f"{stamp}: rolled back by {by}"
                                + (f", {previous.name} reactivated" if previous else ", no model active any more"))
        session.flush()
        if previous is not None:
            previous.status, previous.retired_at = ACTIVE, None
            previous.notes = _append(previous.notes, f"{stamp}: reactivated by {by} (rollback of {current.name})")
            session.flush()
    except IntegrityError as exc:
        raise RegistryError("the rollback collided with a concurrent promotion; check `shelfrank models list` "
                            "and try again") from exc
    return previous


def reject(session: Session, name_or_id: str | int, reason: str) -> RankingModel:
    """Mark a candidate as rejected (it can never be promoted); the reason goes into its notes."""
    reason = (reason or "").strip()
    if not reason:
        raise RegistryError("say why the model is rejected")
    model = get_model(session, name_or_id)
    if model.status != CANDIDATE:
        raise RegistryError(f"model {model.name} is {model.status}; only a candidate can be rejected")
    model.status = REJECTED
    model.notes = _append(model.notes, f"{utcnow():%Y-%m-%d %H:%M:%S UTC}: rejected: {reason}")
    session.flush()
    return model


def artifact_gate(model: RankingModel) -> GateResult:
    """The minimal gate: the artifact folder exists and holds the LightGBM and plugin model files."""
    folder = Path(model.artifact_path)
    if not folder.is_dir():
        return GateResult(False, detail=f"artifact folder {folder} of model {model.name} does not exist")
    missing = [name for name in (MODEL_FILE, PLUGIN_MODEL_FILE) if not (folder / name).is_file()]
    if missing:
        return GateResult(False, detail=f"artifact folder {folder} of model {model.name} lacks {', '.join(missing)}")
    try:
        json.loads((folder / PLUGIN_MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return GateResult(False, detail=f"{folder / PLUGIN_MODEL_FILE} is not valid JSON ({exc})")
    return GateResult(True, detail=f"artifact folder {folder} holds {MODEL_FILE} and {PLUGIN_MODEL_FILE}")


def _check_promotable(model: RankingModel) -> None:
    if model.status == ACTIVE:
        raise RegistryError(f"model {model.name} is already active")
    if model.status == REJECTED:
        raise RegistryError(f"model {model.name} was rejected and cannot be promoted; train and register a new one")
    if model.status not in PROMOTABLE:
        raise RegistryError(f"model {model.name} has unknown status {model.status!r}")


def _locked_active(session: Session) -> RankingModel | None:
    """The active row, locked until the end of the transaction on databases that lock rows."""
    return session.scalars(select(RankingModel).where(RankingModel.status == ACTIVE).with_for_update()
                           .execution_options(populate_existing=True)).one_or_none()


def _append(notes: str | None, line: str) -> str:
    return f"{notes}\n{line}" if notes else line
