"""RFM against an independent pandas computation on CDNOW, fixed cut points, and bad settings."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from lodestar.errors import ConfigError
from lodestar.profile.rfm import GROUPS, RfmConfig
from lodestar.workspace import Workspace


def reference(raw: pd.DataFrame, as_of: pd.Timestamp, window: int) -> pd.DataFrame:
    """RFM written plainly in pandas from the raw file, independent of the engine path."""
    start = as_of - pd.Timedelta(days=window - 1)
    inside = raw[(raw["when"] >= start) & (raw["when"] <= as_of)]
    agg = inside.groupby("customer_id").agg(last=("when", "max"), frequency=("when", "size"),
                                            monetary=("dollars", "sum"))  # fmt: skip
    agg["recency_days"] = (as_of - agg["last"]).dt.days
    everyone = pd.DataFrame(index=sorted(raw["customer_id"].unique()))
    out = everyone.join(agg[["recency_days", "frequency", "monetary"]])
    active = out["frequency"].notna()
    out["frequency"] = out["frequency"].fillna(0)
    out["monetary"] = out["monetary"].fillna(0.0)
    for col, reverse in (("recency_days", True), ("frequency", False), ("monetary", False)):
        cuts = out.loc[active, col].quantile([0.2, 0.4, 0.6, 0.8]).to_numpy()
        below = out[col].apply(lambda v, c=cuts: int((c < v).sum()))
        out[col[0]] = np.where(active, (5 - below) if reverse else (1 + below), 1)
    return out


def test_rfm_matches_an_independent_computation(cdnow: Workspace, cdnow_raw: pd.DataFrame) -> None:
    result = cdnow.rfm(RfmConfig(window_days=365, types=("purchase",)))
    assert result.as_of == date(1998, 6, 30)
    ours = result.table.to_pandas().set_index("customer_id")
    ref = reference(cdnow_raw, pd.Timestamp("1998-06-30"), 365)
    assert len(ours) == 23_570 == len(ref)
    for col in ("r", "f", "m"):
        assert (ours[col].to_numpy() == ref.loc[ours.index, col].to_numpy()).all(), col
    assert np.allclose(ours["monetary"], ref.loc[ours.index, "monetary"])
    # Groups: each score above or below its mean.
    for key, (code, zh, _) in GROUPS.items():
        mask = ((ref["r"] > ref["r"].mean()) == key[0]) & ((ref["f"] > ref["f"].mean()) == key[1]) \
            & ((ref["m"] > ref["m"].mean()) == key[2])  # fmt: skip
        assert set(ours.index[ours["group_code"] == code]) == set(ref.index[mask]), zh
    summary = {g["group_code"]: g for g in result.summary()}
    assert sum(g["customers"] for g in summary.values()) == 23_570
    assert summary["important_value"]["monetary_share"] > 0.5  # the valuable few
    saved = cdnow.query("SELECT count(*) AS n FROM profile_rfm").column(0)[0].as_py()
    assert saved == 23_570


def test_fixed_cut_points(cdnow: Workspace) -> None:
    cfg = RfmConfig(window_days=540, cut="fixed", types=("purchase",),
                    recency_cuts=(30, 90, 180, 365), frequency_cuts=(1, 2, 4, 8),
                    monetary_cuts=(20, 50, 100, 250))  # fmt: skip
    t = cdnow.rfm(cfg, save=False).table.to_pandas()
    active = t[t["frequency"] > 0]
    assert (active.loc[active["recency_days"] <= 30, "r"] == 5).all()
    assert (active.loc[active["recency_days"] > 365, "r"] == 1).all()
    assert (active.loc[active["frequency"] == 1, "f"] == 1).all()
    assert (active.loc[active["frequency"] > 8, "f"] == 5).all()
    assert (active.loc[active["monetary"] > 250, "m"] == 5).all()
    assert set(t["rfm_code"].str.len()) == {3}


@pytest.mark.parametrize(
    "kwargs",
    [{"window_days": 0}, {"cut": "kmeans"}, {"cut": "fixed", "recency_cuts": (30, 90)},
     {"cut": "fixed", "recency_cuts": (90, 30, 10, 5), "frequency_cuts": (1, 2, 3, 4),
      "monetary_cuts": (1, 2, 3, 4)}],
)  # fmt: skip
def test_bad_settings_are_explained(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="rfm"):
        RfmConfig(**kwargs)  # type: ignore[arg-type]


def test_rfm_needs_transactions(sqlite_workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="needs transactions"):
        sqlite_workspace.rfm()
