"""``UpliftModel``: the uplift learner chosen by cross-validation on the training rows.

Which meta-learner ranks best depends on the campaign: the S-learner shrinks small effects
towards zero and wins when they are small (Hillstrom's e-mail), the X- and DR-learners win
when the arms are unbalanced or the effect is large and structured. So rather than guess,
:class:`UpliftModel` scores each candidate on ``cv`` folds of the training rows, ``cv_repeats``
times with fresh shuffles (stratified by arm and outcome, so every fold has every arm and both
outcome values), and refits the best on all the rows. The held-out data is never seen.

- **Criterion**: on each fold every candidate is ranked by its Qini coefficient and by its
  uplift in the top 30% (each the mean over treatments, against control on the held-out rows
  of that arm and the control arm); a candidate's fold rank is the mean of its two ranks and
  its score the mean over folds (``cv_rank_``, higher is better). A campaign is judged on both
  (how well the whole ranking sorts, and what the top slice a budget reaches gains), and a
  mean of ranks is not dominated by one noisy fold the way a mean of raw scores is (on
  revenue, one large purchase can swing a fold's Qini).
- **Choice** (``selection``): ``"one-se"`` (the default) takes the candidate with the
  smallest trees among those whose mean rank is within one standard error (over folds) of the
  best one's (Breiman's one-standard-error rule, as in CART pruning and glmnet's
  ``lambda.1se``), ties broken by mean rank. When folds disagree, the best mean rank is often
  luck, and the smaller trees are the more conservative bet. ``"best"`` takes the best mean
  rank. ``cv_rank_se_`` holds each candidate's standard error.
- **Candidates**: each learner at each tree size in ``leaves_grid`` (LightGBM's
  ``num_leaves``; small trees shrink small effects less into noise), named ``"S/7"``,
  ``"DR/15"`` and so on, and each of ``ensembles`` at each size: ``"S+DR/7"`` averages the
  S- and DR-learners' effects (:class:`AveragedLearner`). An average of a learner that
  shrinks (S) and one that does not (DR) often ranks better than either. An ensemble is a
  candidate only when all its members are among ``learners``; its members' fold fits are
  shared with theirs, so it costs no extra fitting in the cross-validation. ``"H"``, the
  two-part (hurdle) revenue model (:class:`~lodestar.modeling.uplift_hurdle.HurdleLearner`),
  is a candidate only for continuous outcomes where every arm has at least
  ``MIN_ARM_ROWS`` zero and non-zero outcomes (for a 0/1 outcome it is the S-learner).
- **Bagging the winner** (``n_bags``): the chosen candidate is refitted on all the rows
  ``n_bags`` times with different seeds (LightGBM's row and column subsampling) and the
  effects averaged, so the final ranking depends less on one seed's draw. The
  cross-validation scores single fits; bagging costs ``n_bags - 1`` extra fits of the winner.
- **Winsorizing** (``outcome="continuous"``): revenue is mostly zeros with a heavy tail, and a
  handful of large amounts dominate both the fits and the fold scores. ``clip_quantile``
  (default 0.995) caps magnitudes at that quantile of the training rows' non-zero outcomes
  before anything is fitted or scored (``clip_`` holds the cap; ``None`` turns it off). The
  predicted effects are then effects on the capped amount: slightly conservative for the
  largest spenders, a large cut in variance for everyone.

Same ``fit(X, y, treatment)`` / ``predict_uplift`` / ``best_treatment`` as the learners of
:mod:`lodestar.modeling.uplift`; ``cv_scores_`` holds each candidate's fold Qini,
``cv_uplift_at_30_`` its fold uplift@30%, ``cv_rank_`` its mean rank (higher is better),
``cv_rank_se_`` that mean's standard error, ``learner_name_`` the winner and ``learner_`` the
refitted (bagged) winner.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x0": rng.normal(size=3000)})
>>> t = rng.integers(0, 2, size=3000)
>>> y = (rng.random(3000) < 0.2 + 0.3 * t * (X["x0"] > 0)).astype(int)
>>> model = UpliftModel(learners=("S", "T"), leaves_grid=(7,), n_estimators=30).fit(X, y, t)
>>> sorted(model.cv_rank_), model.learner_name_ in ("S/7", "T/7")
(['S/7', 'T/7'], True)
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from lodestar.modeling.uplift import DRLearner, Outcome, SLearner, TLearner, XLearner, best_of
from lodestar.modeling.uplift_arms import MIN_ARM_ROWS, check_inputs
from lodestar.modeling.uplift_hurdle import HurdleLearner

FloatArray = npt.NDArray[np.float64]
Selection = Literal["one-se", "best"]

#: The candidate learners by name ("H", the hurdle model, only for continuous outcomes).
LEARNERS: dict[str, type] = {
    "S": SLearner, "T": TLearner, "X": XLearner, "DR": DRLearner, "H": HurdleLearner,
}  # fmt: skip

#: Seeds of the bagged refits are ``random_state + BAG_SEED_STEP * b``: far apart, so they do
#: not meet the small offsets each learner adds for its own sub-models.
BAG_SEED_STEP = 1000


def strata(outcomes: FloatArray, codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Arm x outcome strata: the outcome itself when 0/1, else above or below its median (or
    above its minimum when over half the rows share the minimum, as revenue's zeros do)."""
    cut = np.median(outcomes)
    high = outcomes > (cut if cut > outcomes.min() else outcomes.min())
    return codes * 2 + high.astype(np.int64)


def mean_qini(y: FloatArray, codes: npt.NDArray[np.int64], effects: FloatArray) -> float:
    """Mean over treatments of the Qini coefficient of each treatment's effect column, on the
    rows of that treatment's arm and the control arm."""
    from lodestar.modeling.metrics import qini_coefficient

    effects = effects.reshape(len(effects), -1)
    scores = []
    for j in range(1, effects.shape[1] + 1):
        rows = (codes == 0) | (codes == j)
        scores.append(
            qini_coefficient(y[rows], (codes[rows] == j).astype(int), effects[rows, j - 1])
        )
    return float(np.mean(scores))


def mean_uplift_at(
    y: FloatArray, codes: npt.NDArray[np.int64], effects: FloatArray, fraction: float = 0.3
) -> float:
    """Mean over treatments of the uplift in the top ``fraction`` by each treatment's effect
    column, on the rows of that treatment's arm and the control arm (NaN when a top slice
    lacks a treated or a control row)."""
    from lodestar.modeling.metrics import uplift_at

    effects = effects.reshape(len(effects), -1)
    scores = []
    for j in range(1, effects.shape[1] + 1):
        rows = (codes == 0) | (codes == j)
        try:
            scores.append(uplift_at(y[rows], (codes[rows] == j).astype(int),
                                    effects[rows, j - 1], fraction))  # fmt: skip
        except ValueError:
            scores.append(float("nan"))
    return float(np.mean(scores))


def winsorized(outcomes: FloatArray, quantile: float | None) -> tuple[FloatArray, float | None]:
    """Outcomes with magnitudes capped at the ``quantile`` of the non-zero magnitudes, and the
    cap (``None``, outcomes unchanged, when ``quantile`` is ``None`` or nothing is non-zero)."""
    nonzero = np.abs(outcomes[outcomes != 0])
    if quantile is None or nonzero.size == 0:
        return outcomes, None
    cap = float(np.quantile(nonzero, quantile))
    return np.clip(outcomes, -cap, cap), cap


def _ranks(values: FloatArray) -> FloatArray:
    """Ranks 1..n (n best; ties share the mean rank; NaN ranks lowest)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(np.nan_to_num(values, nan=-np.inf)), dtype=np.float64)


class AveragedLearner(BaseEstimator):
    """The mean of several fitted uplift learners' effects (same arms, same features)."""

    def __init__(self, members: tuple[Any, ...] = ()) -> None:
        self.members = members

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> AveragedLearner:
        """Fit every member on the same rows."""
        for member in self.members:
            member.fit(X, y, treatment)
        first = self.members[0]
        self.control_ = first.control_
        self.treatments_ = first.treatments_
        self.feature_names_in_ = first.feature_names_in_
        self.n_features_in_ = first.n_features_in_
        return self

    def predict_uplift(self, X: Any) -> FloatArray:
        """The members' mean effect: shape (n,) for one treatment, (n, k) for k."""
        return np.mean([np.asarray(m.predict_uplift(X), dtype=np.float64)
                        for m in self.members], axis=0)  # fmt: skip

    def best_treatment(self, X: Any) -> pd.DataFrame:
        """The best treatment per row by the mean effect (see ``SLearner.best_treatment``)."""
        effects = self.predict_uplift(X)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return best_of(effects, self.treatments_, self.control_, index=index)


class UpliftModel(BaseEstimator):
    """The candidate chosen by repeated, stratified ``cv``-fold cross-validation on the
    training rows (mean rank on Qini and uplift@30%, ``selection`` rule), refitted on all of
    them ``n_bags`` times with different seeds and averaged. Candidates: each of ``learners``
    (names from :data:`LEARNERS`) and each of ``ensembles`` ("S+DR": the mean of the S- and
    DR-learners' effects) at each size in ``leaves_grid``. The LightGBM settings go to every
    candidate. ``clip_quantile`` winsorizes continuous outcomes (see the module)."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        learners: tuple[str, ...] = ("S", "T", "X", "DR", "H"),
        ensembles: tuple[str, ...] = ("S+DR",),
        cv: int = 3,
        cv_repeats: int = 2,
        selection: Selection = "one-se",
        n_bags: int = 3,
        clip_quantile: float | None = 0.995,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        leaves_grid: tuple[int, ...] = (7, 15),
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.outcome = outcome
        self.control = control
        self.learners = learners
        self.ensembles = ensembles
        self.cv = cv
        self.cv_repeats = cv_repeats
        self.selection = selection
        self.n_bags = n_bags
        self.clip_quantile = clip_quantile
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.leaves_grid = leaves_grid
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs

    def candidate(self, name: str, seed_offset: int = 0) -> Any:
        """An unfitted candidate ``name`` ("S/7": the S-learner with 7 leaves; "S+DR/7": the
        mean of the S- and DR-learners with 7 leaves) with this model's other settings and
        ``random_state + seed_offset``."""
        kinds, _, leaves = name.partition("/")
        members = kinds.split("+")
        for kind in members:
            if kind not in LEARNERS:
                raise ValueError(f"unknown learner {kind!r}; choose from {sorted(LEARNERS)}")
        if not leaves.isdigit() or int(leaves) < 2:
            raise ValueError(f"candidate {name!r} needs a tree size of at least 2 leaves")
        if len(members) > 1:
            return AveragedLearner(
                tuple(self.candidate(f"{k}/{leaves}", seed_offset) for k in members)
            )
        settings = {"outcome": self.outcome} if kinds != "H" else {}
        return LEARNERS[kinds](
            **settings, control=self.control, n_estimators=self.n_estimators,
            learning_rate=self.learning_rate, num_leaves=int(leaves),
            min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda,
            random_state=self.random_state + seed_offset, n_jobs=self.n_jobs,
        )  # fmt: skip

    def _build(self, name: str, control: Any, seed_offset: int = 0) -> Any:
        learner = self.candidate(name, seed_offset)
        for member in getattr(learner, "members", (learner,)):
            member.set_params(control=control)
        return learner

    def _bagged(self, name: str, control: Any) -> Any:
        """``name`` refitted ``n_bags`` times with seeds ``BAG_SEED_STEP`` apart (one plain
        learner when ``n_bags`` is 1)."""
        if self.n_bags == 1:
            return self._build(name, control)
        return AveragedLearner(tuple(self._build(name, control, BAG_SEED_STEP * b)
                                     for b in range(self.n_bags)))  # fmt: skip

    @staticmethod
    def _hurdle_fits(outcome: str, outcomes: FloatArray, codes: npt.NDArray[np.int64]) -> bool:
        """Whether the hurdle model is a candidate: continuous outcomes with enough zero and
        non-zero values in every arm."""
        if outcome != "continuous":
            return False
        nonzero = outcomes != 0
        return all(min(int(nonzero[codes == j].sum()), int((~nonzero[codes == j]).sum()))
                   >= MIN_ARM_ROWS for j in np.unique(codes))  # fmt: skip

    def _check_settings(self) -> None:
        for name in ("cv", "cv_repeats", "n_bags"):
            value, least = getattr(self, name), 2 if name == "cv" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        q = self.clip_quantile
        if q is not None and (isinstance(q, bool) or not isinstance(q, float | int)
                              or not 0.5 <= q <= 1):  # fmt: skip
            raise ValueError(f"clip_quantile must be None or in [0.5, 1], got {q!r}")
        if self.selection not in ("one-se", "best"):
            raise ValueError(f"selection must be 'one-se' or 'best', not {self.selection!r}")

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> UpliftModel:
        """Score every candidate by repeated cross-validation, then refit the best on all rows."""
        from sklearn.model_selection import RepeatedStratifiedKFold

        self._check_settings()
        leaves = list(dict.fromkeys(self.leaves_grid))
        singles = [f"{kind}/{n}" for kind in dict.fromkeys(self.learners) for n in leaves]
        if not singles:
            raise ValueError("learners and leaves_grid must each name at least one value")
        for name in singles + [f"{kinds}/{leaves[0]}" for kinds in self.ensembles]:
            self.candidate(name)  # unknown names fail before any fitting
        frame, outcomes, arms = check_inputs(X, y, treatment, self.outcome, self.control)
        self.clip_ = None
        if self.outcome == "continuous":
            outcomes, self.clip_ = winsorized(outcomes, self.clip_quantile)
        kinds_used = [k for k in dict.fromkeys(self.learners)
                      if k != "H" or self._hurdle_fits(self.outcome, outcomes, arms.codes)]  # fmt: skip
        if not kinds_used:
            raise ValueError(
                "no candidate fits these outcomes: 'H' (the hurdle model) needs a continuous "
                f"outcome with at least {MIN_ARM_ROWS} zero and non-zero values in every arm"
            )
        singles = [f"{kind}/{n}" for kind in kinds_used for n in leaves]
        # an ensemble is a candidate when all its members are among the learners used
        averaged = [f"{kinds}/{n}" for kinds in dict.fromkeys(self.ensembles) for n in leaves
                    if set(kinds.split("+")) <= set(kinds_used)]  # fmt: skip
        names = singles + averaged
        labels = np.asarray(treatment.to_numpy(dtype=object) if isinstance(treatment, pd.Series)
                            else treatment, dtype=object)  # fmt: skip
        splitter = RepeatedStratifiedKFold(
            n_splits=self.cv, n_repeats=self.cv_repeats, random_state=self.random_state
        )
        folds = list(splitter.split(frame, strata(outcomes, arms.codes)))
        # every single learner an ensemble needs is fitted once per fold, ensembles average them
        members = [f"{kind}/{name.partition('/')[2]}" for name in averaged
                   for kind in name.partition("/")[0].split("+")]  # fmt: skip
        fitted = list(dict.fromkeys(singles + members))
        qini: dict[str, list[float]] = {name: [] for name in names}
        at_30: dict[str, list[float]] = {name: [] for name in names}
        for train, held in folds:
            effects: dict[str, FloatArray] = {}
            for name in fitted:
                learner = self._build(name, arms.control)
                learner.fit(frame.iloc[train], outcomes[train], labels[train])
                effects[name] = np.asarray(learner.predict_uplift(frame.iloc[held]))
            for name in averaged:
                kinds, _, size = name.partition("/")
                effects[name] = np.mean([effects[f"{k}/{size}"] for k in kinds.split("+")], axis=0)
            y_held, codes_held = outcomes[held], arms.codes[held]
            for name in names:
                qini[name].append(mean_qini(y_held, codes_held, effects[name]))
                at_30[name].append(mean_uplift_at(y_held, codes_held, effects[name]))
        # per fold, rank the candidates on each metric (n = best) and average the two ranks
        fold_ranks = np.array([
            np.mean([_ranks(np.array([scores[n][f] for n in names])) for scores in (qini, at_30)],
                    axis=0)
            for f in range(len(folds))
        ])  # fmt: skip
        self.cv_scores_ = qini
        self.cv_uplift_at_30_ = at_30
        self.cv_rank_ = {n: float(r) for n, r in zip(names, fold_ranks.mean(axis=0), strict=True)}
        spread = fold_ranks.std(axis=0, ddof=1) if len(folds) > 1 else np.zeros(len(names))
        self.cv_rank_se_ = {n: float(s / np.sqrt(len(folds)))
                            for n, s in zip(names, spread, strict=True)}  # fmt: skip
        self.learner_name_ = self._choose(names)
        self.learner_ = self._bagged(self.learner_name_, arms.control)
        self.learner_.fit(frame, outcomes, labels)
        self.control_ = self.learner_.control_
        self.treatments_ = self.learner_.treatments_
        self.feature_names_in_ = self.learner_.feature_names_in_
        self.n_features_in_ = self.learner_.n_features_in_
        return self

    def _choose(self, names: list[str]) -> str:
        """The best mean rank, or (``"one-se"``) the smallest trees within one standard error
        of it; ties go to the candidate named first (the order of ``learners``)."""
        best = max(names, key=lambda n: self.cv_rank_[n])
        if self.selection == "best":
            return best
        bar = self.cv_rank_[best] - self.cv_rank_se_[best]
        near = [n for n in names if self.cv_rank_[n] >= bar]
        return min(near, key=lambda n: (int(n.rpartition("/")[2]), -self.cv_rank_[n]))

    def _check_fitted(self) -> None:
        if not hasattr(self, "learner_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("UpliftModel is not fitted: call fit(X, y, treatment)")

    def predict_uplift(self, X: Any) -> FloatArray:
        """The chosen learner's effects: shape (n,) for one treatment, (n, k) for k."""
        self._check_fitted()
        return np.asarray(self.learner_.predict_uplift(X), dtype=np.float64)

    def best_treatment(self, X: Any) -> pd.DataFrame:
        """The chosen learner's best treatment per row (see ``SLearner.best_treatment``)."""
        self._check_fitted()
        result: pd.DataFrame = self.learner_.best_treatment(X)
        return result


__all__ = [
    "BAG_SEED_STEP",
    "LEARNERS",
    "AveragedLearner",
    "UpliftModel",
    "mean_qini",
    "mean_uplift_at",
    "strata",
    "winsorized",
]
