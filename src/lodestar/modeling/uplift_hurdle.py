"""``HurdleLearner``: the uplift in expected revenue as a two-part (hurdle) model.

Revenue from a campaign is mostly zeros: on Hillstrom's e-mail test under 1% of customers buy
anything. A regression of the amount itself (what the S/T/X/DR learners fit with
``outcome="continuous"``) spends its capacity on the few large amounts, and its effect
estimates swing with them. The two-part model splits the expectation where the data splits:

    E[y | x, arm] = P(y != 0 | x, arm) * E[y | y != 0, x, arm]

- **Whether** (``p``): a classifier of ``y != 0`` on the features plus the arm code (S-style:
  one model for all arms, so the effect is shrunk towards zero unless the data insists).
- **How much** (``m``): a regressor of ``y`` on the rows with ``y != 0``, also on the features
  plus the arm code. Buyers are rare, so this part is pooled over the arms and kept small:
  ``amount_num_leaves`` (default 3) leaves, at least ``min_child_samples`` rows a leaf and
  ``amount_n_estimators`` (default 100) trees; with few buyers it is close to a per-segment mean.

Treatment ``j``'s effect is ``p(x, j) m(x, j) - p(x, 0) m(x, 0)``. Only for continuous
outcomes with both zero and non-zero values (for a 0/1 outcome it would be the S-learner).
Same ``fit(X, y, treatment)`` / ``predict_uplift`` / ``best_treatment`` as the learners of
:mod:`lodestar.modeling.uplift`.

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"x0": rng.normal(size=4000)})
>>> t = rng.integers(0, 2, size=4000)
>>> buys = rng.random(4000) < 0.05 + 0.10 * t * (X["x0"] > 0)
>>> y = np.where(buys, rng.gamma(2.0, 50.0, size=4000), 0.0)
>>> model = HurdleLearner(n_estimators=50).fit(X, y, t)
>>> effect = model.predict_uplift(X)
>>> bool(effect[X["x0"] > 0.5].mean() > effect[X["x0"] < -0.5].mean())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from lodestar.modeling.uplift import FloatArray, Outcome, _init_common, _MetaLearner
from lodestar.modeling.uplift_arms import TREATMENT_FEATURE

#: Fewest non-zero outcomes the amount part is fitted on; below it the amount is their mean.
MIN_AMOUNT_ROWS = 20


class HurdleLearner(_MetaLearner):
    """``P(y != 0 | x, arm) * E[y | y != 0, x, arm]``, each part one LightGBM model on the
    features plus the arm code; the effect is the difference of the products (see the module)."""

    #: Always revenue-like; not a parameter (the checks of ``fit`` read it).
    outcome: Outcome = "continuous"
    amount_num_leaves: int
    amount_n_estimators: int

    def __init__(
        self,
        *,
        control: Any = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        reg_lambda: float = 5.0,
        amount_num_leaves: int = 3,
        amount_n_estimators: int = 100,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        _init_common(self, locals())

    def fit(self, X: Any, y: npt.ArrayLike, treatment: npt.ArrayLike) -> HurdleLearner:
        """Fit both parts on features ``X``, outcomes ``y`` and the ``treatment`` column."""
        for name in ("amount_num_leaves", "amount_n_estimators"):
            value, least = getattr(self, name), 2 if name == "amount_num_leaves" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        frame, outcomes, arms = self._start(X, y, treatment)
        nonzero = outcomes != 0
        for j in range(len(arms.treatments) + 1):
            rows = arms.codes == j
            if np.unique(nonzero[rows]).size < 2:
                label = self.control_ if j == 0 else self.treatments_[j - 1]
                raise ValueError(
                    f"HurdleLearner needs zero and non-zero outcomes in every arm; arm "
                    f"{label!r} has only {'non-zero' if nonzero[rows].all() else 'zero'} ones"
                )
        coded = frame.assign(**{TREATMENT_FEATURE: arms.codes})
        self.model_ = self._classifier(0).fit(coded, nonzero.astype(np.int64))
        if nonzero.sum() >= MIN_AMOUNT_ROWS:
            import lightgbm as lgb

            params = self._lgb_params(1)
            params.update(num_leaves=self.amount_num_leaves,
                          n_estimators=self.amount_n_estimators)  # fmt: skip
            self.amount_model_: Any = lgb.LGBMRegressor(**params).fit(
                coded[nonzero], outcomes[nonzero]
            )
        else:
            self.amount_model_ = float(outcomes[nonzero].mean())
        return self

    def _expected_value(self, frame: pd.DataFrame, code: int) -> FloatArray:
        coded = frame.assign(**{TREATMENT_FEATURE: code})
        share = self._expected(self.model_, coded)
        if isinstance(self.amount_model_, float):
            return share * self.amount_model_
        return share * np.asarray(self.amount_model_.predict(coded), dtype=np.float64)

    def _effects(self, frame: pd.DataFrame) -> FloatArray:
        control = self._expected_value(frame, 0)
        return np.column_stack([self._expected_value(frame, j) - control
                                for j in range(1, len(self.treatments_) + 1)])  # fmt: skip


__all__ = ["MIN_AMOUNT_ROWS", "HurdleLearner"]
