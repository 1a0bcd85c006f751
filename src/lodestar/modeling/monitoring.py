"""Model monitoring: compare the rows a model scores now with the rows it was trained on.

At training time :func:`reference_profile` keeps, in a few kilobytes, what later comparisons
need: per feature the reference bins (quantile edges for numbers and dates; the most frequent
categories plus "other" for categories; missing always a bin of its own) with the share of rows
in each, the same for the score, and the held-out AUC. The registry stores it next to the model
as ``reference.json`` (:meth:`ReferenceProfile.to_dict` / :meth:`ReferenceProfile.from_dict`).

Later :func:`monitor` bins new rows with exactly those bins and returns the score PSI, the CSI
of each feature, the AUC on new outcomes when they are known and its drop from the reference,
and alerts against :class:`Thresholds`. The maths is :mod:`lodestar.modeling.drift` and
:mod:`lodestar.modeling.metrics`; this module only keeps and compares the small profiles.

>>> import numpy as np, pandas as pd
>>> X = pd.DataFrame({"age": np.arange(100.0), "city": ["a", "b"] * 50})
>>> scores = np.linspace(0, 1, 100)
>>> ref = reference_profile(X, scores, None, {"age": "numeric", "city": "categorical"})
>>> result = monitor(ref, X, scores)
>>> result.score_psi.value, result.status
(0.0, 'ok')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import numpy.typing as npt

from lodestar.errors import ConfigError
from lodestar.i18n import t
from lodestar.modeling.drift import (
    MISSING_LABEL,
    PsiTable,
    interval_labels,
    numeric_bin_ids,
    psi_from_shares,
    quantile_edges,
)

if TYPE_CHECKING:
    import pandas as pd

FeatureKind = Literal["numeric", "categorical", "datetime"]
AlertLevel = Literal["warning", "alert"]
Status = Literal["ok", "warning", "alert"]

OTHER_LABEL = "other"
PROFILE_VERSION = 1
#: Categories kept by name per feature; the rest share the "other" bin. Twenty keeps the
#: profile small (the registry stores it with the model) and a bin holding under ~1% of rows
#: adds little to CSI anyway.
MAX_CATEGORIES = 20
_KINDS = ("numeric", "categorical", "datetime")


class MonitoringError(ConfigError):
    """Monitoring thresholds or a stored reference profile cannot be used; says which field."""

    code = "monitoring_error"


# --------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Thresholds:
    """When drift or decay raises a warning or an alert (``value >= threshold``).

    PSI / CSI follow the usual rule of thumb (0.1 some shift, 0.25 a real shift); the AUC drop
    is the reference AUC minus the AUC on new outcomes, in AUC points.
    """

    psi_warning: float = 0.1
    psi_alert: float = 0.25
    csi_warning: float = 0.1
    csi_alert: float = 0.25
    auc_drop_warning: float = 0.03
    auc_drop_alert: float = 0.05

    def __post_init__(self) -> None:
        for metric in ("psi", "csi", "auc_drop"):
            warning, alert = getattr(self, f"{metric}_warning"), getattr(self, f"{metric}_alert")
            for name, value in ((f"{metric}_warning", warning), (f"{metric}_alert", alert)):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise MonitoringError(f"thresholds: {name} must be a number, got {value!r}")
                if not math.isfinite(value) or value < 0:
                    raise MonitoringError(
                        f"thresholds: {name} must be a finite number >= 0, got {value!r}"
                    )
            if warning > alert:
                raise MonitoringError(
                    f"thresholds: {metric}_warning ({warning}) is above {metric}_alert ({alert})",
                    hint="a warning comes before an alert: make the warning level the lower one",
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "thresholds") -> Thresholds:
        """Thresholds from a mapping (e.g. read from YAML or JSON); missing keys keep their
        defaults, unknown keys and non-numbers are errors naming ``source`` and the key.

        >>> Thresholds.from_dict({"psi_alert": 0.3}).psi_alert
        0.3
        """
        if not isinstance(data, Mapping):
            raise MonitoringError(f"{source}: expected a mapping of threshold names to numbers")
        known = [f.name for f in fields(cls)]
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise MonitoringError(
                f"{source}: unknown threshold(s) {', '.join(unknown)}",
                hint=f"known thresholds: {', '.join(known)}",
            )
        values: dict[str, float] = {}
        for key, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MonitoringError(f"{source}: {key} must be a number, got {value!r}")
            values[str(key)] = float(value)
        try:
            return cls(**values)
        except MonitoringError as err:
            raise MonitoringError(
                err.message.replace("thresholds:", f"{source}:", 1), hint=err.hint
            ) from None

    def to_dict(self) -> dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


# --------------------------------------------------------------------------- reference profile


@dataclass(frozen=True)
class BinnedProfile:
    """One variable's reference bins and the share of reference rows in each.

    Numeric and datetime: ``edges`` are the interior quantile edges (datetimes as seconds since
    1970, as the classifier sees them); the bins are ``numeric_bin_ids``' intervals then
    missing. Categorical: ``categories`` are kept by name, then "other", then missing.
    """

    kind: FeatureKind
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def labels(self) -> tuple[str, ...]:
        if self.kind == "categorical":
            return (*self.categories, OTHER_LABEL, MISSING_LABEL)
        if self.kind == "datetime":
            return interval_labels(self.edges, _date_label)
        return interval_labels(self.edges)

    def bin_ids(self, values: Any) -> npt.NDArray[np.int64]:
        """The reference bin of each value; unseen categories go to "other"."""
        if self.kind == "categorical":
            import pandas as pd

            text = _as_text(values)
            other = len(self.categories)
            codes = pd.Index(list(self.categories), dtype="string").get_indexer(pd.Index(text))
            ids = np.where(codes < 0, other, codes).astype(np.int64)  # unseen -> "other"
            ids[text.isna().to_numpy()] = other + 1
            return ids
        return numeric_bin_ids(_as_numbers(values, self.kind), np.asarray(self.edges))

    def shares_of(self, values: Any) -> npt.NDArray[np.float64]:
        ids = self.bin_ids(values)
        if ids.size == 0:
            raise ValueError("no rows to compare with the reference")
        return np.bincount(ids, minlength=len(self.labels)) / ids.size

    def psi(self, values: Any) -> PsiTable:
        """PSI of ``values`` against the reference shares, in the reference bins."""
        return psi_from_shares(self.labels, self.shares, self.shares_of(values))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "shares": list(self.shares)}
        if self.kind == "categorical":
            out["categories"] = list(self.categories)
        else:
            out["edges"] = list(self.edges)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> BinnedProfile:
        try:
            kind = data["kind"]
            if kind not in _KINDS:
                raise MonitoringError(f"{where}.kind: unknown kind {kind!r}")
            profile = cls(
                kind=kind,
                shares=tuple(float(s) for s in data["shares"]),
                edges=tuple(float(e) for e in data.get("edges", ())),
                categories=tuple(str(c) for c in data.get("categories", ())),
            )
        except KeyError as err:
            raise MonitoringError(f"{where}: field {err.args[0]!r} is missing") from None
        except (TypeError, ValueError) as err:
            raise MonitoringError(f"{where}: {err}") from None
        if len(profile.shares) != len(profile.labels):
            raise MonitoringError(
                f"{where}.shares: {len(profile.shares)} shares for {len(profile.labels)} bins"
            )
        return profile


def _date_label(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d")


def _as_numbers(values: Any, kind: str) -> npt.NDArray[np.float64]:
    import pandas as pd

    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if kind == "datetime" and (
        pd.api.types.is_datetime64_any_dtype(series) or series.dtype == object
    ):
        # Seconds since 1970, as modeling.tabular converts dates for the classifier.
        stamps = pd.to_datetime(series, errors="coerce")
        if stamps.dt.tz is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        seconds = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(seconds=1)
        return np.asarray(seconds, dtype=np.float64)
    numbers = np.asarray(pd.to_numeric(series, errors="coerce"), dtype=np.float64)
    if np.isinf(numbers).any():
        raise ValueError("values must not be infinite")
    return numbers


def _as_text(values: Any) -> pd.Series:
    import pandas as pd

    # Categories compare as text, as modeling.tabular converts them (astype("string")), so a
    # code stored as 1 in training and "1" later is the same category; missing stays <NA>.
    series = (
        values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    )
    return series.astype("string")


def _profile(values: Any, kind: FeatureKind, bins: int, max_categories: int) -> BinnedProfile:
    if kind == "categorical":
        counts = _as_text(values).value_counts(dropna=True)
        # Most frequent first; equal counts by name, so the profile does not depend on row order.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        categories = tuple(str(name) for name, _ in ranked[:max_categories])
        profile = BinnedProfile(kind, (), categories=categories)
    else:
        edges = quantile_edges(_as_numbers(values, kind), bins)
        profile = BinnedProfile(kind, (), edges=tuple(float(e) for e in edges))
    shares = profile.shares_of(values)
    return BinnedProfile(kind, tuple(float(s) for s in shares), profile.edges, profile.categories)


@dataclass(frozen=True)
class ReferenceProfile:
    """What monitoring needs from the training data: per-feature and score bins with their
    shares, and the held-out AUC (``None`` without outcomes). JSON via ``to_dict``."""

    features: dict[str, BinnedProfile]
    score: BinnedProfile
    rows: int
    auc: float | None = None
    positive_rate: float | None = None
    bins: int = 10
    created_at: str = ""
    version: int = PROFILE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "created_at": self.created_at,
            "rows": self.rows,
            "bins": self.bins,
            "auc": self.auc,
            "positive_rate": self.positive_rate,
            "score": self.score.to_dict(),
            "features": {name: p.to_dict() for name, p in self.features.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "reference") -> ReferenceProfile:
        """The profile ``to_dict`` wrote; errors name ``source`` (e.g. the file) and the field."""
        if not isinstance(data, Mapping):
            raise MonitoringError(f"{source}: expected a JSON object")
        version = data.get("version")
        if version != PROFILE_VERSION:
            raise MonitoringError(
                f"{source}: reference profile version {version!r} is not supported "
                f"(this Lodestar reads version {PROFILE_VERSION})",
                hint="retrain the model, or rebuild its reference profile",
            )
        try:
            features = {
                str(name): BinnedProfile.from_dict(p, f"{source}: features.{name}")
                for name, p in data["features"].items()
            }
            return cls(
                features=features,
                score=BinnedProfile.from_dict(data["score"], f"{source}: score"),
                rows=int(data["rows"]),
                auc=None if data.get("auc") is None else float(data["auc"]),
                positive_rate=(
                    None if data.get("positive_rate") is None else float(data["positive_rate"])
                ),
                bins=int(data.get("bins", 10)),
                created_at=str(data.get("created_at", "")),
            )
        except KeyError as err:
            raise MonitoringError(f"{source}: field {err.args[0]!r} is missing") from None
        except (AttributeError, TypeError, ValueError) as err:
            raise MonitoringError(f"{source}: {err}") from None


def _scores(name: str, values: npt.ArrayLike, rows: int) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size != rows:
        raise ValueError(f"{name} must be one score per row: {rows} rows, shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or infinite values")
    return array


def _auc(y: npt.ArrayLike, scores: npt.NDArray[np.float64], name: str) -> float | None:
    from lodestar.modeling.metrics import roc_auc

    labels = np.asarray(y, dtype=np.float64)
    if labels.shape != scores.shape:
        raise ValueError(f"{name} must be one outcome per row: {scores.size} rows, {labels.shape}")
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"{name} must hold only 0 and 1")
    # With one class only there is no ranking to measure: no AUC rather than an error, so
    # monitoring still reports drift for a batch where nobody (yet) responded.
    return None if labels.min() == labels.max() else roc_auc(labels, scores)


def reference_profile(
    X: pd.DataFrame,
    scores: npt.ArrayLike,
    y: npt.ArrayLike | None,
    features: Mapping[str, str],
    bins: int = 10,
    *,
    max_categories: int = MAX_CATEGORIES,
) -> ReferenceProfile:
    """The reference profile of the training / held-out rows ``X``, their model ``scores`` and,
    when known, outcomes ``y`` (0/1; gives the reference AUC).

    ``features`` maps each monitored column to its kind, "numeric", "categorical" or
    "datetime", as ``modeling.tabular`` types them (the registry's ``record.features``).
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if len(X) == 0:
        raise ValueError("X has no rows")
    absent = [name for name in features if name not in X.columns]
    if absent:
        raise ValueError(f"X has no column(s) {', '.join(absent)}")
    for name, kind in features.items():
        if kind not in _KINDS:
            raise ValueError(
                f"feature {name}: kind must be one of {', '.join(_KINDS)}, got {kind!r}"
            )
    score = _scores("scores", scores, len(X))
    return ReferenceProfile(
        features={
            name: _profile(X[name], cast(FeatureKind, kind), bins, max_categories)
            for name, kind in features.items()
        },
        score=_profile(score, "numeric", bins, max_categories),
        rows=len(X),
        auc=None if y is None else _auc(y, score, "y"),
        positive_rate=None if y is None else float(np.mean(np.asarray(y, dtype=np.float64))),
        bins=bins,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


# --------------------------------------------------------------------------- monitoring


@dataclass(frozen=True)
class Alert:
    """One threshold crossed. ``feature`` is ``None`` for the score PSI and the AUC drop."""

    level: AlertLevel
    metric: Literal["psi", "csi", "auc_drop"]
    feature: str | None
    value: float
    threshold: float
    message_zh: str
    message_en: str

    def message(self, locale: str) -> str:
        return self.message_zh if locale == "zh-CN" else self.message_en

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "metric": self.metric,
            "feature": self.feature,
            "value": self.value,
            "threshold": self.threshold,
            "message": {"zh-CN": self.message_zh, "en": self.message_en},
        }


@dataclass(frozen=True)
class MonitoringResult:
    """Drift of the score and of each feature, AUC decay, and the alerts they raise."""

    rows: int
    score_psi: PsiTable
    feature_csi: dict[str, PsiTable]
    thresholds: Thresholds
    auc_reference: float | None = None
    auc_new: float | None = None
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    @property
    def auc_drop(self) -> float | None:
        """Reference AUC minus AUC on the new outcomes (positive = the model got worse)."""
        if self.auc_reference is None or self.auc_new is None:
            return None
        return self.auc_reference - self.auc_new

    @property
    def status(self) -> Status:
        levels = {a.level for a in self.alerts}
        return "alert" if "alert" in levels else "warning" if levels else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "rows": self.rows,
            "psi": self.score_psi.value,
            "csi": {name: table.value for name, table in self.feature_csi.items()},
            "auc_reference": self.auc_reference,
            "auc_new": self.auc_new,
            "auc_drop": self.auc_drop,
            "alerts": [a.to_dict() for a in self.alerts],
            "thresholds": self.thresholds.to_dict(),
            "bins": {
                "score": self.score_psi.rows(),
                "features": {name: table.rows() for name, table in self.feature_csi.items()},
            },
        }


def _check(
    metric: Literal["psi", "csi", "auc_drop"],
    value: float,
    thresholds: Thresholds,
    feature: str | None = None,
) -> Alert | None:
    alert_at = getattr(thresholds, f"{metric}_alert")
    warning_at = getattr(thresholds, f"{metric}_warning")
    if value >= alert_at:
        level: AlertLevel = "alert"
        threshold = alert_at
    elif value >= warning_at:
        level, threshold = "warning", warning_at
    else:
        return None
    key = f"monitor.alert.{metric}"

    def say(locale: str) -> str:
        text = t(key, locale, feature=feature, value=value, threshold=threshold)
        return t("monitor.message", locale, level=t(f"monitor.level.{level}", locale), text=text)

    return Alert(level, metric, feature, float(value), float(threshold), say("zh-CN"), say("en"))


def monitor(
    reference: ReferenceProfile,
    X_new: pd.DataFrame,
    scores_new: npt.ArrayLike,
    y_new: npt.ArrayLike | None = None,
    thresholds: Thresholds | None = None,
) -> MonitoringResult:
    """Compare new rows (``X_new`` with the model's ``scores_new`` and, once known, outcomes
    ``y_new``) against ``reference``: score PSI, per-feature CSI in the reference bins, AUC
    decay, and the alerts that ``thresholds`` (default :class:`Thresholds`) raise.

    Alerts come score first, then features by CSI (highest first), then the AUC drop.
    """
    limits = thresholds or Thresholds()
    if len(X_new) == 0:
        raise ValueError("X_new has no rows")
    absent = [name for name in reference.features if name not in X_new.columns]
    if absent:
        raise ValueError(f"X_new has no column(s) {', '.join(absent)} that the reference has")
    score = _scores("scores_new", scores_new, len(X_new))
    score_psi = reference.score.psi(score)
    feature_csi = {name: p.psi(X_new[name]) for name, p in reference.features.items()}
    auc_new = None if y_new is None else _auc(y_new, score, "y_new")

    found = [_check("psi", score_psi.value, limits)]
    ranked = sorted(feature_csi.items(), key=lambda item: -item[1].value)
    found += [_check("csi", table.value, limits, name) for name, table in ranked]
    if reference.auc is not None and auc_new is not None:
        found.append(_check("auc_drop", reference.auc - auc_new, limits))
    return MonitoringResult(
        rows=len(X_new),
        score_psi=score_psi,
        feature_csi=feature_csi,
        thresholds=limits,
        auc_reference=reference.auc,
        auc_new=auc_new,
        alerts=tuple(a for a in found if a is not None),
    )
