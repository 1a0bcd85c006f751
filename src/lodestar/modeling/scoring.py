"""Score new rows with a registered model, and the risk pre-screen that acts on the scores.

:func:`score_frame` turns raw rows (a file's or the workspace's features) into one output frame
whatever the kind:

- binary kinds (response, risk, churn, scorecard): ``probability`` and ``decile`` (1 = the
  tenth with the highest probability); a scorecard adds ``points`` and ``band``; with
  ``reasons=k``, ``reason_1`` .. ``reason_k`` name the features that push each row's
  probability up the most (for risk: why it is risky; for churn: the leading indicators);
- uplift: ``uplift`` (one treatment) or ``uplift_<treatment>`` for each and ``best_treatment``;
- nbp: ``product_1`` .. ``product_k`` and ``probability_1`` .. ``probability_k``, products the
  row already holds left out when the model knows the holdings.

:func:`prescreen` applies a cut-off to risk scores before any marketing: rows above it are
declined, each with its reason codes, so a marketer can say why a customer was left out.

>>> import numpy as np, pandas as pd
>>> scored = pd.DataFrame({"probability": [0.02, 0.3], "reason_1": ["", "late_payments"]})
>>> prescreen(scored, PrescreenPolicy(max_probability=0.1))["prescreen"].tolist()
['pass', 'decline']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from lodestar.errors import ConfigError
from lodestar.modeling.tabular import features_frame

if TYPE_CHECKING:
    from lodestar.modeling.registry import ModelRecord


def score_frame(
    model: Any,
    record: ModelRecord,
    frame: pd.DataFrame,
    *,
    keep: Sequence[str] = ("customer_id",),
    reasons: int = 0,
    top: int = 3,
) -> pd.DataFrame:
    """Scores of ``frame``'s rows (see the module doc); ``keep`` columns are copied first."""
    X = features_frame(frame, record.features)  # type: ignore[arg-type]
    out = pd.DataFrame({c: frame[c].to_numpy() for c in keep if c in frame.columns})
    if record.task == "uplift":
        return _uplift(model, X, out)
    if record.task == "multiclass":
        return _ranking(model, X, out, frame, top)
    probability = np.asarray(model.predict_proba(X)[:, 1], dtype=np.float64)
    out["probability"] = probability
    out["decile"] = decile(probability)
    if hasattr(model, "score_points"):
        points = np.asarray(model.score_points(X), dtype=np.float64)
        out["points"] = points
        out["band"] = np.asarray(model.score_band(points)).astype(str)
    if reasons > 0:
        codes = reason_codes(model, X, top=reasons)
        for column in codes.columns:
            out[column] = codes[column].to_numpy()
    return out


def score_in_chunks(
    model: Any,
    record: ModelRecord,
    frame: pd.DataFrame,
    *,
    chunk_rows: int = 250_000,
    progress: Callable[[str, int, int | None], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """:func:`score_frame` over ``frame`` in chunks, reporting ``progress("score", done, n)``.

    Deciles are recomputed over all rows at the end, so chunking never changes the result.
    """
    n = len(frame)
    parts: list[pd.DataFrame] = []
    for start in range(0, max(n, 1), chunk_rows):
        parts.append(score_frame(model, record, frame.iloc[start : start + chunk_rows], **options))
        if progress is not None:
            progress("score", min(n, start + chunk_rows), n)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if "probability" in out.columns:
        out["decile"] = decile(out["probability"].to_numpy(dtype=np.float64))
    return out


def decile(score: np.ndarray) -> np.ndarray:
    """1 for the tenth of rows with the highest score, ... 10 for the lowest (ties share)."""
    if score.size == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = pd.Series(-score).rank(method="min").to_numpy()
    return np.minimum(10, 1 + ((ranks - 1) * 10 // score.size)).astype(np.int64)


def reason_codes(model: Any, X: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """Per row, the ``top`` features that raise its probability the most, most first, as
    columns ``reason_1`` .. ``reason_<top>`` (empty where fewer features raise it).

    A scorecard gives its own adverse-action codes (the features that cost the most points
    against their best bin, with ``reason_<i>_bin`` and ``reason_<i>_points_lost``); other
    models give the features with the largest positive contributions to the log-odds.
    """
    own = getattr(model, "reason_codes", None)
    if callable(own):
        codes = own(X, top=top)
        return codes.reset_index(drop=True) if isinstance(codes, pd.DataFrame) else codes
    contributions = model.contributions(X)
    values = contributions.to_numpy(dtype=np.float64)
    names = np.asarray(contributions.columns, dtype=object)
    order = np.argsort(-values, axis=1, kind="stable")[:, :top]
    rows = np.arange(len(values))[:, None]
    chosen = np.where(values[rows, order] > 0, names[order], "")
    return pd.DataFrame({f"reason_{i + 1}": chosen[:, i] for i in range(order.shape[1])})


def _uplift(model: Any, X: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    uplift = np.asarray(model.predict_uplift(X), dtype=np.float64)
    if uplift.ndim == 1:
        out["uplift"] = uplift
        return out
    for i, name in enumerate(model.treatments_):
        out[f"uplift_{name}"] = uplift[:, i]
    best = model.best_treatment(X)  # a frame: treatment (control when none helps), uplift
    out["best_treatment"] = best["treatment"].astype(str).to_numpy()
    return out


def _ranking(
    model: Any, X: pd.DataFrame, out: pd.DataFrame, frame: pd.DataFrame, top: int
) -> pd.DataFrame:
    """The ``top`` products per row with their probabilities, held products left out."""
    from lodestar.modeling.tabular import HELD_COLUMN

    held = frame[HELD_COLUMN].tolist() if HELD_COLUMN in frame.columns else None
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    ranked = model.rank(X, held=held, top=top)
    column = {str(c): j for j, c in enumerate(model.classes_)}
    for i in range(top):
        names = [r[i] if i < len(r) else "" for r in ranked]
        out[f"product_{i + 1}"] = names
        out[f"probability_{i + 1}"] = [
            proba[row, column[name]] if name else np.nan for row, name in enumerate(names)
        ]
    return out


# -- the risk pre-screen --------------------------------------------------------------------------
@dataclass(frozen=True)
class PrescreenPolicy:
    """When a risk score declines a customer before marketing.

    ``max_probability``: decline above this probability of default; ``decline_share``: decline
    the riskiest share of the scored rows instead (e.g. 0.1); ``declined_bands``: scorecard bands
    that are declined whatever the probability. At least one must be set.
    """

    max_probability: float | None = None
    decline_share: float | None = None
    declined_bands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_probability is None and self.decline_share is None and not self.declined_bands:
            raise ConfigError(
                "a pre-screen policy needs a cut-off",
                hint="set max_probability (e.g. 0.08), decline_share (e.g. 0.1) or declined_bands",
            )
        if self.max_probability is not None and not 0 < self.max_probability < 1:
            raise ConfigError(
                f"max_probability must be between 0 and 1, not {self.max_probability}"
            )
        if self.decline_share is not None and not 0 < self.decline_share < 1:
            raise ConfigError(f"decline_share must be between 0 and 1, not {self.decline_share}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, where: str = "prescreen") -> PrescreenPolicy:
        known = {"max_probability", "decline_share", "declined_bands"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown field(s) {', '.join(unknown)}",
                hint=f"fields: {', '.join(sorted(known))}",
            )
        bands = raw.get("declined_bands") or ()
        return cls(
            max_probability=_optional_float(raw, "max_probability", where),
            decline_share=_optional_float(raw, "decline_share", where),
            declined_bands=tuple(str(b) for b in bands),
        )


def _optional_float(raw: dict[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}.{key}: '{value}' is not a number") from None


def prescreen(scored: pd.DataFrame, policy: PrescreenPolicy) -> pd.DataFrame:
    """``scored`` (from :func:`score_frame` of a risk or scorecard model) with ``prescreen``
    (``pass`` / ``decline``) and ``decline_reason`` (which rule, then the reason codes)."""
    probability = scored["probability"].to_numpy(dtype=np.float64)
    why = np.full(len(scored), "", dtype=object)
    if policy.max_probability is not None:
        over = probability > policy.max_probability
        why[over] = f"probability>{policy.max_probability:g}"
    if policy.decline_share is not None and len(scored):
        count = int(np.floor(policy.decline_share * len(scored)))
        if count:
            riskiest = np.argsort(-probability, kind="stable")[:count]
            empty = why[riskiest] == ""
            why[riskiest[empty]] = f"riskiest {policy.decline_share:.0%}"
    if policy.declined_bands and "band" in scored.columns:
        in_band = scored["band"].astype(str).isin(policy.declined_bands).to_numpy() & (why == "")
        why[in_band] = "band " + scored["band"].astype(str).to_numpy()[in_band]
    reasons = [c for c in scored.columns if re.fullmatch(r"reason_\d+", c)]
    out = scored.copy()
    declined = why != ""
    out["prescreen"] = np.where(declined, "decline", "pass")
    if reasons:
        codes = joined_reasons(scored, reasons)
        why = np.where(declined & (codes != ""), why + ": " + codes, why)
    out["decline_reason"] = why
    return out


def joined_reasons(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The non-empty reason codes of each row joined with ", " (an object array of text)."""
    rows = frame[list(columns)].astype(str).to_numpy()
    return np.array([", ".join(v for v in row if v) for row in rows], dtype=object)
