"""The bank's model portfolio on its own customers: train every kind from the workspace, make
each its kind's champion, and score every customer into the ``profile_scores`` table.

``profile_scores`` joins the ``customer_profile`` view, so segments can select on scores
(``score_churn >= 0.5 and risk_band in ('A', 'B')``), the 360° view shows them, and decisioning
reads them. Its columns, each present when that kind has a champion:

==================  ===========================================================================
``score_risk``      probability of delinquency in the risk horizon (gradient-boosted)
``risk_prescreen``  ``pass`` / ``decline`` at the pre-screen cut-off, ``risk_reasons`` why
``score_points``    scorecard points (higher is safer) and ``risk_band`` its band
``score_churn``     probability of attrition in the churn horizon, ``churn_indicators`` why
``score_response``  probability of responding to the campaign the response model learnt from
``score_uplift``    expected uplift from contact (the best treatment's), ``best_treatment``
``nbp_1`` .. 3      next best products, not already held
==================  ===========================================================================

Models trained on files are left out: their features are not the workspace's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lodestar.modeling.scoring import PrescreenPolicy, joined_reasons, prescreen

if TYPE_CHECKING:
    import pyarrow as pa

    from lodestar.modeling.training import TrainResult

Progress = Callable[[str, int, int | None], None]

#: Quicker settings for the demo bank: fewer, larger steps; the quality stays close. One
#: validation split rather than 5-fold cross-validation (about five times the training time).
QUICK = {"learning_rate": 0.08, "n_estimators": 600, "early_stopping_rounds": 40, "cv_folds": 0}
#: The kinds trained from the workspace, in order (response and uplift need a campaign).
PORTFOLIO = ("risk", "scorecard", "churn", "nbp", "response", "uplift")
DEFAULT_PRESCREEN = PrescreenPolicy(decline_share=0.05)


def pick_campaign(ws: Any) -> str | None:
    """The past randomised campaign with the most contacts in both arms (None if there is none)."""
    rows = ws.query(
        "SELECT campaign_id, count(*) FILTER (WHERE arm = 'control') AS control, "
        "count(*) FILTER (WHERE arm <> 'control') AS treated FROM campaign_contacts "
        "GROUP BY campaign_id ORDER BY least(control, treated) DESC, campaign_id"
    ).to_pylist()
    usable = [r for r in rows if r["control"] >= 200 and r["treated"] >= 200]
    return str(usable[0]["campaign_id"]) if usable else None


def train_portfolio(
    ws: Any,
    *,
    kinds: tuple[str, ...] = PORTFOLIO,
    campaign: str | None = None,
    quick: bool = True,
    progress: Progress | None = None,
    actor: str = "demo",
) -> tuple[dict[str, TrainResult], dict[str, str]]:
    """Train each of ``kinds`` from the workspace and promote it.

    Returns the results by kind, and the kinds left out with the reason (a bank too small for a
    label, no usable past campaign): one kind that cannot learn never stops the others.
    ``campaign`` (default :func:`pick_campaign`) is what response and uplift learn from.
    """
    from lodestar.errors import ConfigError

    chosen = campaign or pick_campaign(ws)
    results: dict[str, TrainResult] = {}
    skipped: dict[str, str] = {}
    for i, kind in enumerate(kinds):
        if progress is not None:
            progress("models", i, len(kinds))
        if kind in ("response", "uplift") and chosen is None:
            skipped[kind] = "no past randomised campaign with 200 customers in each arm"
            continue
        params = _quick(kind) if quick else None
        try:
            result = ws.train_model(kind, params=params, actor=actor,
                                    campaign=chosen if kind in ("response", "uplift") else None)  # fmt: skip
        except (ConfigError, ValueError) as error:  # too few rows of a class, one class only
            skipped[kind] = str(error)
            continue
        ws.promote_model(result.model_id, reason="trained from the workspace", actor=actor)
        results[kind] = result
    if progress is not None:
        progress("models", len(kinds), len(kinds))
    return results, skipped


def _quick(kind: str) -> dict[str, Any] | None:
    if kind in ("risk", "churn", "response"):
        return dict(QUICK)
    if kind == "nbp":
        return {"learning_rate": 0.1, "n_estimators": 300, "early_stopping_rounds": 30}
    if kind == "uplift":
        return {"cv_repeats": 1}
    return None


def customer_scores(
    ws: Any, *, policy: PrescreenPolicy = DEFAULT_PRESCREEN, progress: Progress | None = None
) -> pa.Table:
    """Score every customer open at the data date with each kind's champion (see module doc)."""
    import pyarrow as pa

    registry = ws.model_registry
    champions = {kind: model_id for kind, model_id in registry.champions().items()
                 if registry.show(model_id).data.get("frame")}  # fmt: skip
    frames: dict[str, pd.DataFrame] = {}
    out: pd.DataFrame | None = None
    for i, (kind, model_id) in enumerate(sorted(champions.items())):
        if progress is not None:
            progress("scores", i, len(champions))
        record = registry.show(model_id)
        frame_kind = str(record.data["frame"].get("kind", kind))
        if frame_kind not in frames:
            frames[frame_kind] = ws.scoring_frame(record)
        reasons = 3 if kind in ("risk", "churn") else 0
        scored = ws.score_model(model_id, frames[frame_kind], reasons=reasons).scores
        part = _columns(kind, scored, policy)
        out = part if out is None else out.merge(part, on="customer_id", how="outer")
    if progress is not None:
        progress("scores", len(champions), len(champions))
    if out is None:
        return pa.table({"customer_id": pa.array([], pa.string())})
    return pa.Table.from_pandas(out.sort_values("customer_id"), preserve_index=False)


def _columns(kind: str, scored: pd.DataFrame, policy: PrescreenPolicy) -> pd.DataFrame:
    ids = scored["customer_id"].to_numpy()
    if kind == "risk":
        screened = prescreen(scored, policy)
        return pd.DataFrame({"customer_id": ids, "score_risk": scored["probability"],
                             "risk_prescreen": screened["prescreen"],
                             "risk_reasons": screened["decline_reason"]})  # fmt: skip
    if kind == "scorecard":
        return pd.DataFrame({"customer_id": ids, "score_points": scored["points"].round(1),
                             "risk_band": scored["band"]})  # fmt: skip
    if kind == "churn":
        reasons = [c for c in scored.columns if c.startswith("reason_")]
        return pd.DataFrame({"customer_id": ids, "score_churn": scored["probability"],
                             "churn_indicators": joined_reasons(scored, reasons)})  # fmt: skip
    if kind == "response":
        return pd.DataFrame({"customer_id": ids, "score_response": scored["probability"]})
    if kind == "uplift":
        columns = [c for c in scored.columns if c.startswith("uplift")]
        best = scored[columns].to_numpy(dtype=np.float64).max(axis=1)
        part = pd.DataFrame({"customer_id": ids, "score_uplift": best})
        if "best_treatment" in scored.columns:
            part["best_treatment"] = scored["best_treatment"].to_numpy()
        return part
    products = [c for c in scored.columns if c.startswith("product_")]
    return pd.DataFrame({"customer_id": ids, **{f"nbp_{c.split('_')[1]}": scored[c].to_numpy()
                                                for c in products}})  # fmt: skip
