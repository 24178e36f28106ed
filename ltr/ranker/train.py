"""LightGBM LambdaMART training with early stopping on validation nDCG@10 and fixed seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import lightgbm as lgb

from core.settings import Settings

from ltr.ranker.dataset import RankingData


@dataclass(frozen=True)
class TrainParams:
    num_leaves: int = 31
    learning_rate: float = 0.05
    max_rounds: int = 600
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 50  # 0: train all max_rounds (benches that need a model of a given size)
    seed: int = 0

    def lightgbm(self, feature_names: list[str]) -> dict:
        return {"objective": "lambdarank", "metric": "ndcg", "eval_at": [10], "num_leaves": self.num_leaves,
                "learning_rate": self.learning_rate, "min_data_in_leaf": self.min_data_in_leaf,
                "feature_fraction": self.feature_fraction, "bagging_fraction": self.bagging_fraction,
                "bagging_freq": 1, "lambda_l2": self.lambda_l2, "seed": self.seed, "deterministic": True,
                "num_threads": 0, "verbose": -1, "label_gain": [float(2 ** g - 1) for g in range(32)],
                "lambdarank_truncation_level": 20}

    @classmethod
    def from_settings(cls, settings: Settings) -> TrainParams:
        return cls(num_leaves=settings.ltr_num_leaves, learning_rate=settings.ltr_learning_rate,
                   max_rounds=settings.ltr_max_rounds, min_data_in_leaf=settings.ltr_min_data_in_leaf,
                   early_stopping_rounds=settings.ltr_early_stopping_rounds, seed=settings.ltr_seed)

    def as_dict(self) -> dict:
        return asdict(self)


class TrainingError(ValueError):
    """The data cannot train a model (too few queries, a single label...)."""


def train_lambdamart(train: RankingData, valid: RankingData, feature_names: list[str],
                     params: TrainParams = TrainParams()) -> lgb.Booster:
    """``train.positions`` switches on LightGBM's position-aware lambdarank (it learns a bias per
    displayed position and leaves it out of the scores); ``train.weights`` scale each row's
    gradients (inverse-propensity weighting). Validation is never weighted."""
    if len(train.groups) < 2 or len(valid.groups) < 1:
        raise TrainingError(f"need at least 2 training and 1 validation queries with graded candidates "
                            f"(have {len(train.groups)} and {len(valid.groups)})")
    train_set = lgb.Dataset(train.features, train.labels, group=train.groups, feature_name=feature_names,
                            weight=train.weights, position=train.positions, free_raw_data=False)
    valid_set = lgb.Dataset(valid.features, valid.labels, group=valid.groups, reference=train_set)
    return lgb.train(params.lightgbm(feature_names), train_set, num_boost_round=params.max_rounds,
                     valid_sets=[valid_set], valid_names=["valid"],
                     callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)]
                     if params.early_stopping_rounds else [])
