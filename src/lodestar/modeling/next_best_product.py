"""``NextBestProduct``: which product a customer is likely to take up next, ranked per customer.

A multi-class LightGBM model of "the product taken up next" (strings; ``"none"`` for customers
who took up nothing) over a frame of customer features, as :func:`~lodestar.modeling.
training_frames.nbp_frame` builds. ``rank`` orders the products by probability for each row
*without* the products the customer already holds and without ``"none"``: recommending a held
product wastes a contact, and "nothing" is not an offer.

What a customer holds comes either from ``held=`` (one iterable of products per row) or from the
frame's ``held_products`` column (products joined by ``|``, the frame convention); that column
is never a model feature. The number of trees is chosen by early stopping on a stratified
validation split of the training rows, then the model is refit on all of them (as
:class:`~lodestar.modeling.classifier.GradientBoostedClassifier` does). Same seed and data give
the same model.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x": rng.normal(size=600)})
>>> y = np.where(X["x"] > 0.5, "card", np.where(X["x"] < -0.5, "loan", "none"))
>>> model = NextBestProduct(n_estimators=50).fit(X, y)
>>> model.rank(pd.DataFrame({"x": [2.0, -2.0]}), held=[[], ["loan"]], top=1)
[['card'], ['card']]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from lodestar.modeling.classifier import as_frame

NONE = "none"
HELD_COLUMN = "held_products"
Held = Sequence[Iterable[str] | str | None] | None


def _is_text(column: pd.Series) -> bool:
    return bool(
        pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)
    )


def parse_held(values: Iterable[Iterable[str] | str | None]) -> list[frozenset[str]]:
    """One set of held products per row from lists / sets or ``|``-joined text (None: none)."""
    out: list[frozenset[str]] = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(frozenset())
        elif isinstance(v, str):
            out.append(frozenset(p for p in v.split("|") if p))
        else:
            out.append(frozenset(str(p) for p in v))
    return out


class NextBestProduct(BaseEstimator):
    """Multi-class gradient-boosted trees over products, with held products excluded at ranking.

    ``classes_`` holds the products seen in ``fit`` (sorted, ``"none"`` included when present);
    ``predict_proba`` gives one column per class in that order.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        colsample_bytree: float = 0.8,
        subsample: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.15,
        refit: bool = True,
        held_column: str = HELD_COLUMN,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.held_column = held_column
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- features ---------------------------------------------------------------------------
    def _features(self, X: Any, *, fitting: bool) -> pd.DataFrame:
        frame = as_frame(X)
        if self.held_column in frame.columns:
            frame = frame.drop(columns=self.held_column)
        if fitting:
            # Text columns become categories fixed at fit time, so scoring rows with unseen or
            # fewer values maps them to the same codes LightGBM was trained on.
            self.categories_ = {
                str(c): pd.Index(sorted(frame[c].dropna().astype(str).unique()))
                for c in frame.columns
                if _is_text(frame[c]) or isinstance(frame[c].dtype, pd.CategoricalDtype)
            }
            self.feature_names_in_ = np.array(frame.columns, dtype=object)
            self.n_features_in_ = frame.shape[1]
        else:
            missing = [c for c in self.feature_names_in_ if c not in frame.columns]
            if missing:
                raise ValueError(f"X lacks the columns {missing} the model was trained on")
            frame = frame[list(self.feature_names_in_)]
        out: dict[str, Any] = {}
        for c in frame.columns:
            if c in self.categories_:
                known = self.categories_[c]
                values = frame[c].astype("string").astype(object)
                # values unseen in fit are missing (pandas will refuse them in a Categorical)
                values = values.where(values.isin(known), None)
                out[c] = pd.Categorical(values, categories=known)
            else:
                out[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
        return pd.DataFrame(out, index=frame.index)

    def _params(self, n_classes: int) -> dict[str, Any]:
        return {
            "objective": "multiclass",
            "num_class": n_classes,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbose": -1,
        }

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, X: Any, y: npt.ArrayLike) -> NextBestProduct:
        """Fit on features ``X`` and the product taken up next ``y`` (text, ``"none"`` allowed).
        A ``held_products`` column in ``X`` is ignored (it is for :meth:`rank`)."""
        import lightgbm as lgb
        from sklearn.model_selection import train_test_split

        labels = np.asarray(pd.Series(np.asarray(y).ravel()).astype(str), dtype=object)
        frame = self._features(X, fitting=True)
        if labels.size != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {labels.size}")
        classes, codes = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"y must hold at least two products, found {classes.tolist()}")
        params = self._params(classes.size)
        counts = np.bincount(codes)
        use_validation = self.early_stopping_rounds > 0 and 0 < self.validation_fraction < 1
        if use_validation:
            # Rare products cannot be split both ways: stratify only when every class can.
            stratify = codes if counts.min() >= 2 else None
            fit_x, val_x, fit_y, val_y = train_test_split(
                frame, codes, test_size=self.validation_fraction, stratify=stratify,
                random_state=self.random_state,
            )  # fmt: skip
            train_set = lgb.Dataset(fit_x, fit_y, free_raw_data=False)
            booster = lgb.train(
                {**params, "metric": "multi_logloss"},
                train_set,
                num_boost_round=self.n_estimators,
                valid_sets=[lgb.Dataset(val_x, val_y, reference=train_set)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = int(booster.best_iteration or self.n_estimators)
            if self.refit:
                rounds = max(1, round(self.best_iteration_ / (1 - self.validation_fraction)))
                booster = lgb.train(params, lgb.Dataset(frame, codes), num_boost_round=rounds)
                self.best_iteration_ = rounds
        else:
            booster = lgb.train(params, lgb.Dataset(frame, codes), self.n_estimators)
            self.best_iteration_ = self.n_estimators
        self.booster_ = booster
        self.classes_ = classes
        self.class_counts_ = {str(c): int(n) for c, n in zip(classes, counts, strict=True)}
        return self

    # -- predicting -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("NextBestProduct is not fitted: call fit(X, y) first")

    def predict_proba(self, X: Any) -> npt.NDArray[np.float64]:
        """Probability of each class in ``classes_`` order, one row per row of ``X``."""
        self._check_fitted()
        frame = self._features(X, fitting=False)
        trees = None if self.refit else self.best_iteration_
        raw = self.booster_.predict(frame, num_iteration=trees)
        return np.asarray(raw, dtype=np.float64).reshape(len(frame), self.classes_.size)

    def predict(self, X: Any) -> npt.NDArray[Any]:
        """The most likely class of each row (``"none"`` included)."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def _held(self, X: Any, held: Held) -> list[frozenset[str]]:
        n = len(as_frame(X))
        if held is not None:
            sets = parse_held(held)
        elif isinstance(X, pd.DataFrame) and self.held_column in X.columns:
            sets = parse_held(X[self.held_column].tolist())
        else:
            sets = [frozenset()] * n
        if len(sets) != n:
            raise ValueError(f"held has {len(sets)} rows but X has {n}")
        return sets

    def rank(self, X: Any, held: Held = None, top: int | None = 3) -> list[list[str]]:
        """Per row, the products by falling probability, without held ones and ``"none"``;
        at most ``top`` of them (None: all)."""
        proba = self.predict_proba(X)
        return rank_scores(proba, self.classes_, self._held(X, held), top)


def rank_scores(
    scores: npt.NDArray[np.float64],
    classes: npt.NDArray[Any],
    held: list[frozenset[str]],
    top: int | None,
) -> list[list[str]]:
    """Order ``classes`` by ``scores`` per row, leaving out ``"none"`` and each row's held set."""
    names = [str(c) for c in classes]
    allowed = np.array([c != NONE for c in names])
    order = np.argsort(-scores, axis=1, kind="stable")
    out: list[list[str]] = []
    for i, row in enumerate(order):
        picks = [names[j] for j in row if allowed[j] and names[j] not in held[i]]
        out.append(picks if top is None else picks[:top])
    return out


@dataclass(frozen=True)
class NbpEvaluation:
    """Held-out quality of a ranking and of the popularity baseline, on rows taking up a
    product (hit rates, MRR), and per-product one-vs-rest AUC on all rows."""

    rows: int
    takers: int  # rows whose next product is not "none"
    top1: float
    top3: float
    mrr: float
    baseline_top1: float
    baseline_top3: float
    baseline_mrr: float
    auc: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()
                if k != "auc"} | {"auc": {k: round(v, 6) for k, v in self.auc.items()}}  # fmt: skip


def _hits(ranked: list[list[str]], truth: Sequence[str]) -> tuple[float, float, float]:
    top1 = top3 = rr = 0.0
    for picks, true in zip(ranked, truth, strict=True):
        if true in picks:
            pos = picks.index(true)
            top1 += pos == 0
            top3 += pos < 3
            rr += 1.0 / (pos + 1)
    n = max(len(truth), 1)
    return top1 / n, top3 / n, rr / n


def evaluate_nbp(
    model: NextBestProduct,
    X: Any,
    y: npt.ArrayLike,
    *,
    held: Held = None,
    popularity: Iterable[str] | None = None,
) -> NbpEvaluation:
    """Top-1 / top-3 hit rate and mean reciprocal rank of ``model.rank`` on held-out rows, the
    same for the popularity baseline (the most frequent products of ``popularity``, default the
    model's training labels, that the customer does not hold), and per-product AUC."""
    from lodestar.modeling.metrics import roc_auc

    truth = [str(v) for v in np.asarray(y).ravel()]
    sets = model._held(X, held)
    proba = model.predict_proba(X)
    ranked = rank_scores(proba, model.classes_, sets, None)
    takers = [i for i, t in enumerate(truth) if t != NONE]
    counts = Counter(str(v) for v in popularity) if popularity is not None else model.class_counts_
    popular = [p for p, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if p != NONE]
    baseline = [[p for p in popular if p not in sets[i]] for i in takers]
    m1, m3, mrr = _hits([ranked[i] for i in takers], [truth[i] for i in takers])
    b1, b3, bmrr = _hits(baseline, [truth[i] for i in takers])
    auc: dict[str, float] = {}
    truth_arr = np.asarray(truth, dtype=object)
    for j, product in enumerate(str(c) for c in model.classes_):
        positive = (truth_arr == product).astype(np.int64)
        if 0 < positive.sum() < positive.size:
            auc[product] = float(roc_auc(positive, proba[:, j]))
    return NbpEvaluation(len(truth), len(takers), m1, m3, mrr, b1, b3, bmrr, auc)
