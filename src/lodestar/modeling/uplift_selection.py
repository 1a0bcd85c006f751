"""``UpliftModel``: the uplift learner chosen by cross-validated Qini on the training rows.

Which meta-learner ranks best depends on the campaign: the S-learner shrinks small effects
towards zero and wins when they are small (Hillstrom's e-mail), the X- and DR-learners win
when the arms are unbalanced or the effect is large and structured. So rather than guess,
:class:`UpliftModel` scores each candidate on ``cv`` folds of the training rows (stratified by
arm and outcome, so every fold has every arm and both outcome values), keeps the one with the
best mean Qini coefficient (the mean over treatments when there are several, each against
control on the held-out rows of its arm and the control arm) and refits it on all the rows.
The held-out data is never seen. Each learner is tried at each tree size in ``leaves_grid``
(LightGBM's ``num_leaves``): small trees shrink small effects less into noise, and on
Hillstrom's training folds 7 leaves beat 15 for the S-learner on both visit and spend; which
size wins is again the data's call. Candidates are named ``"S/7"``, ``"DR/15"`` and so on.

Same ``fit(X, y, treatment)`` / ``predict_uplift`` / ``best_treatment`` as the learners of
:mod:`lodestar.modeling.uplift`; ``cv_scores_`` holds each candidate's fold scores,
``learner_name_`` the winner and ``learner_`` the refitted winner.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x0": rng.normal(size=3000)})
>>> t = rng.integers(0, 2, size=3000)
>>> y = (rng.random(3000) < 0.2 + 0.3 * t * (X["x0"] > 0)).astype(int)
>>> model = UpliftModel(learners=("S", "T"), leaves_grid=(7,), n_estimators=30).fit(X, y, t)
>>> sorted(model.cv_scores_), model.learner_name_ in ("S/7", "T/7")
(['S/7', 'T/7'], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from lodestar.modeling.uplift import DRLearner, Outcome, SLearner, TLearner, XLearner
from lodestar.modeling.uplift_arms import check_inputs

FloatArray = npt.NDArray[np.float64]

#: The candidate learners by name.
LEARNERS: dict[str, type] = {"S": SLearner, "T": TLearner, "X": XLearner, "DR": DRLearner}


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


class UpliftModel(BaseEstimator):
    """The best of ``learners`` (names from :data:`LEARNERS`) by ``cv``-fold Qini on the
    training rows, refitted on all of them. The LightGBM settings go to every candidate."""

    def __init__(
        self,
        *,
        outcome: Outcome = "binary",
        control: Any = None,
        learners: tuple[str, ...] = ("S", "T", "X", "DR"),
        cv: int = 3,
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
        self.cv = cv
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.leaves_grid = leaves_grid
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.random_state = random_state
        self.n_jobs = n_jobs

    def candidate(self, name: str) -> Any:
        """An unfitted learner ``name`` ("S/7": the S-learner with 7 leaves) with this model's
        other settings."""
        kind, _, leaves = name.partition("/")
        if kind not in LEARNERS:
            raise ValueError(f"unknown learner {kind!r}; choose from {sorted(LEARNERS)}")
        if not leaves.isdigit() or int(leaves) < 2:
            raise ValueError(f"candidate {name!r} needs a tree size of at least 2 leaves")
        return LEARNERS[kind](
            outcome=self.outcome, control=self.control, n_estimators=self.n_estimators,
            learning_rate=self.learning_rate, num_leaves=int(leaves),
            min_child_samples=self.min_child_samples, reg_lambda=self.reg_lambda,
            random_state=self.random_state, n_jobs=self.n_jobs,
        )  # fmt: skip

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> UpliftModel:
        """Score every candidate by cross-validated Qini, then refit the best on all rows."""
        from sklearn.model_selection import StratifiedKFold

        if isinstance(self.cv, bool) or not isinstance(self.cv, int) or self.cv < 2:
            raise ValueError(f"cv must be an integer >= 2, got {self.cv!r}")
        names = [f"{kind}/{leaves}" for kind in dict.fromkeys(self.learners)
                 for leaves in dict.fromkeys(self.leaves_grid)]  # fmt: skip
        if not names:
            raise ValueError("learners and leaves_grid must each name at least one value")
        for name in names:
            self.candidate(name)  # unknown names fail before any fitting
        frame, outcomes, arms = check_inputs(X, y, treatment, self.outcome, self.control)
        labels = np.asarray(treatment.to_numpy(dtype=object) if isinstance(treatment, pd.Series)
                            else treatment, dtype=object)  # fmt: skip
        splitter = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        folds = list(splitter.split(frame, strata(outcomes, arms.codes)))
        scores: dict[str, list[float]] = {}
        for name in names:
            scores[name] = []
            for train, held in folds:
                learner = self.candidate(name).set_params(control=arms.control)
                learner.fit(frame.iloc[train], outcomes[train], labels[train])
                effects = learner.predict_uplift(frame.iloc[held])
                scores[name].append(mean_qini(outcomes[held], arms.codes[held], effects))
        self.cv_scores_ = scores
        # ties go to the learner named first, so the order of ``learners`` is the preference
        self.learner_name_ = max(names, key=lambda n: float(np.mean(scores[n])))
        self.learner_ = self.candidate(self.learner_name_).set_params(control=arms.control)
        self.learner_.fit(frame, outcomes, labels)
        self.control_ = self.learner_.control_
        self.treatments_ = self.learner_.treatments_
        self.feature_names_in_ = self.learner_.feature_names_in_
        self.n_features_in_ = self.learner_.n_features_in_
        return self

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


__all__ = ["LEARNERS", "UpliftModel", "mean_qini", "strata"]
