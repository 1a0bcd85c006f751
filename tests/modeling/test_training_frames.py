"""Training frames from a synthetic bank: features never see data after the cut-off, labels
match a plain pandas recomputation, no personal data, and the frames train to useful models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lodestar.data.schema import ENTITIES
from lodestar.errors import ConfigError
from lodestar.modeling import training_frames as tf
from lodestar.modeling.point_in_time import PII_COLUMNS, features_at
from lodestar.workspace import Workspace

CUSTOMERS = 4000
SEED = 7
FAST = {"n_estimators": 300, "learning_rate": 0.06, "early_stopping_rounds": 30}


@pytest.fixture(scope="session")
def bank(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A small synthetic bank; tests read it and never add rows."""
    ws = Workspace.init(tmp_path_factory.mktemp("frames") / "ws")
    ws.generate(CUSTOMERS, seed=SEED)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def frames(bank: Workspace) -> dict[str, tuple[pd.DataFrame, tf.FrameInfo]]:
    return {
        "churn": tf.churn_frame(bank),
        "risk": tf.risk_frame(bank),
        "response": tf.response_frame(bank, "CMP2024_CC_ACT"),
        "uplift": tf.uplift_frame(bank, "CMP2024_CC_ACT"),
        "nbp": tf.nbp_frame(bank),
    }


def _table(ws: Workspace, name: str) -> pd.DataFrame:
    return ws.table(name).to_pandas()


def _day(values: pd.Series) -> pd.Series:
    """Timestamps (UTC) or dates as calendar days, for comparisons with date cut-offs."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.to_datetime(values).dt.normalize()


# -- no leakage -----------------------------------------------------------------------------
def _rows(name: str, frame: pd.DataFrame) -> tuple[str, pa.Table]:
    schema = ENTITIES[name].arrow_schema
    return name, pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def test_rows_after_the_cutoff_do_not_change_the_features(tmp_path: Path) -> None:
    """Append transactions, events, complaints, contacts and accounts dated after T, and close
    accounts and customers after T (with the snapshot state that goes with it): the features at
    T stay exactly the same. One transaction dated before T does change them."""
    ws = Workspace.init(tmp_path / "ws")
    try:
        ws.generate(600, seed=3)
        cutoff = date(2026, 2, 1)
        before = features_at(ws, cutoff).frame
        after_t = pd.Timestamp("2026-02-02 08:00", tz="UTC")
        txns = _table(ws, "transactions").head(200).copy()
        txns["transaction_id"] = "X" + txns["transaction_id"]
        txns["ts"] = after_t
        events = _table(ws, "events").head(200).copy()
        events["event_id"] = "X" + events["event_id"]
        events["ts"] = after_t
        holdings = _table(ws, "holdings")
        new_accounts = holdings.head(100).copy()
        new_accounts["account_id"] = "X" + new_accounts["account_id"]
        new_accounts["open_date"] = date(2026, 2, 10)
        new_accounts["close_date"] = None
        new_accounts["status"] = "active"
        open_ones = holdings[holdings["close_date"].isna() & (holdings["open_date"] < cutoff)]
        open_ones = open_ones.head(300).copy()
        open_ones["close_date"] = date(2026, 3, 1)
        open_ones["status"] = "closed"
        open_ones["balance"] = 0.0
        open_ones["days_past_due"] = 99
        customers = _table(ws, "customers")
        leaving = customers[customers["closed_date"].isna() & (customers["join_date"] < cutoff)]
        leaving = leaving.head(50).copy()
        leaving["status"] = "closed"
        leaving["closed_date"] = date(2026, 3, 1)
        contacts = _table(ws, "campaign_contacts").head(100).copy()
        contacts["contact_id"] = "X" + contacts["contact_id"]
        contacts["contacted_at"] = after_t
        contacts["outcome_at"] = after_t
        complaints = _table(ws, "complaints").head(20).copy()
        complaints["complaint_id"] = "X" + complaints["complaint_id"]
        complaints["ts"] = after_t
        complaints["resolved_at"] = after_t + pd.Timedelta(days=3)
        ws.load_tables(
            [_rows("customers", leaving), _rows("holdings", pd.concat([new_accounts, open_ones])),
             _rows("transactions", txns), _rows("events", events),
             _rows("campaign_contacts", contacts), _rows("complaints", complaints)],
            source="test:after-cutoff",
        )  # fmt: skip
        pd.testing.assert_frame_equal(features_at(ws, cutoff).frame, before)

        # the test has teeth: the same kind of row on day T counts
        early = txns.head(1).copy()
        early["transaction_id"] = "EARLY1"
        early["ts"] = pd.Timestamp("2026-02-01 08:00", tz="UTC")
        ws.load_tables([_rows("transactions", early)], source="test:on-cutoff")
        changed = features_at(ws, cutoff).frame
        who = changed["customer_id"] == early["customer_id"].iloc[0]
        assert (changed.loc[who, "txn_count_90d"].iloc[0]
                == before.loc[who, "txn_count_90d"].iloc[0] + 1)  # fmt: skip
    finally:
        ws.close()


def test_features_at_the_data_date_equal_the_built_tags(bank: Workspace) -> None:
    """The cut changes nothing when T is the data date: every point-in-time tag equals the one
    the tag library builds into profile_tags."""
    from lodestar.profile.view import data_as_of

    day = data_as_of(bank.engine)
    assert day is not None
    feats = features_at(bank, day)
    bank.build_tags(full=True, as_of=day)
    built = bank.query("SELECT * FROM profile_tags ORDER BY customer_id").to_pandas()
    mine = feats.frame.set_index("customer_id")
    built = built.set_index("customer_id").loc[mine.index]
    for tag in feats.tags:
        pd.testing.assert_series_equal(mine[tag], built[tag], check_dtype=False, obj=tag)
    assert "aum" in feats.excluded and "is_delinquent" in feats.excluded


def test_no_personal_data_and_declared_columns(frames) -> None:
    for kind, (frame, info) in frames.items():
        columns = set(frame.columns)
        assert not columns & (PII_COLUMNS | {"birth_date", "status", "closed_date"}), kind
        assert frame["customer_id"].is_unique, kind
        assert set(info.features) | set(info.exclude) | {info.target} == columns, kind
        assert info.rows == len(frame), kind
        assert info.target not in info.features


def test_label_window_must_be_observed(bank: Workspace) -> None:
    with pytest.raises(ConfigError, match="ends after the data date"):
        tf.churn_frame(bank, as_of=date(2026, 6, 1))
    with pytest.raises(ConfigError, match="no past campaign 'NOPE'"):
        tf.response_frame(bank, "NOPE")
    with pytest.raises(ConfigError, match="no training frame of kind"):
        tf.build_frame(bank, "loyalty")


# -- labels against pandas ------------------------------------------------------------------
def _open_at(customers: pd.DataFrame, t: pd.Timestamp) -> pd.Series:
    joined = _day(customers["join_date"]) <= t
    closed = _day(customers["closed_date"])
    still = (closed > t) | (closed.isna() & (customers["status"] != "closed"))
    return customers.loc[joined & still, "customer_id"]


def _held_at(holdings: pd.DataFrame, t: pd.Timestamp) -> pd.Series:
    closed = _day(holdings["close_date"])
    return (_day(holdings["open_date"]) <= t) & (
        (closed > t) | (closed.isna() & (holdings["status"] != "closed"))
    )


def test_churn_labels_match_pandas(bank: Workspace, frames) -> None:
    frame, info = frames["churn"]
    t = pd.Timestamp(info.cutoff)
    end = t + pd.Timedelta(days=info.horizon_days)
    start = t - pd.Timedelta(days=info.horizon_days)
    customers = _table(bank, "customers")
    txns = _table(bank, "transactions")
    txns = txns[~txns["type"].isin(["interest", "fee"])]
    events = bank.query("SELECT customer_id, ts FROM events_resolved").to_pandas()
    activity = pd.concat([txns[["customer_id", "ts"]], events.dropna()])
    day = _day(activity["ts"])
    before = set(activity.loc[(day > start) & (day <= t), "customer_id"])
    after = set(activity.loc[(day > t) & (day <= end), "customer_id"])
    pop = [c for c in _open_at(customers, t) if c in before]
    holdings = _table(bank, "holdings")
    held = holdings[_held_at(holdings, t)]
    closed_by_end = _day(held["close_date"]) <= end
    all_closed = set(held.loc[closed_by_end, "customer_id"]) - set(
        held.loc[~closed_by_end, "customer_id"]
    )
    opened = _day(holdings["open_date"])
    new = set(holdings.loc[(opened > t) & (opened <= end), "customer_id"])
    closed_day = _day(customers.set_index("customer_id")["closed_date"])
    expected = {
        c: bool((t < closed_day[c] <= end) or (c in all_closed and c not in new) or c not in after)
        for c in pop
    }
    got = dict(zip(frame["customer_id"], frame["churned"], strict=True))
    assert got == expected
    assert 0.01 < info.positive_rate < 0.3
    assert info.left_out["inactive_before_cutoff"] == len(_open_at(customers, t)) - len(pop)


def test_risk_labels_match_pandas(bank: Workspace, frames) -> None:
    frame, info = frames["risk"]
    t = pd.Timestamp(info.cutoff)
    end = t + pd.Timedelta(days=info.horizon_days)
    customers = _table(bank, "customers")
    products = _table(bank, "products").set_index("product_id")["category"]
    holdings = _table(bank, "holdings")
    credit = holdings[holdings["product_id"].map(products).isin(tf.CREDIT_CATEGORIES)]
    holders = set(credit.loc[_held_at(credit, t), "customer_id"])
    live = credit[credit["status"] != "closed"]
    snapshot = _day(live["as_of_date"])
    dpd = live["days_past_due"]
    crossing = pd.Series(pd.NaT, index=live.index, dtype="datetime64[s]")
    late = dpd > 30
    crossing[late] = snapshot[late] - pd.to_timedelta(dpd[late] - 31, unit="D")
    flagged = ~late & (live["status"] == "delinquent")
    crossing[flagged] = snapshot[flagged]
    already = set(live.loc[crossing <= t, "customer_id"])
    positive = set(live.loc[(crossing > t) & (crossing <= end), "customer_id"])
    pop = [c for c in _open_at(customers, t) if c in holders and c not in already]
    expected = {c: c in positive for c in pop}
    got = dict(zip(frame["customer_id"], frame["delinquent"], strict=True))
    assert got == expected
    assert sum(expected.values()) >= 30


def test_campaign_frames_match_the_contacts(bank: Workspace, frames) -> None:
    contacts = _table(bank, "campaign_contacts")
    contacts = contacts[contacts["campaign_id"] == "CMP2024_CC_ACT"]
    start = bank.query(
        "SELECT start_date FROM past_campaigns WHERE campaign_id = 'CMP2024_CC_ACT'"
    ).to_pylist()[0]["start_date"]
    joined = set(_table(bank, "customers").query("join_date < @start")["customer_id"])
    contacts = contacts[contacts["customer_id"].isin(joined)]
    uplift, u_info = frames["uplift"]
    response, r_info = frames["response"]
    assert u_info.cutoff == r_info.cutoff == start - timedelta(days=1)
    assert u_info.treatment == "treatment" and "treatment" in u_info.exclude
    by_id = contacts.set_index("customer_id")
    assert set(uplift["customer_id"]) == set(contacts["customer_id"])
    arms = np.where(by_id.loc[uplift["customer_id"], "arm"] == "control", "control", "treated")
    assert ((uplift["treatment"] == "control") == (arms == "control")).all()
    expected = by_id.loc[uplift["customer_id"], "converted"].fillna(False).astype(bool)
    assert (uplift["converted"].to_numpy() == expected.to_numpy()).all()
    treated = set(contacts.loc[contacts["arm"] == "treatment", "customer_id"])
    assert set(response["customer_id"]) == treated
    assert "treatment" not in response.columns


def test_nbp_labels_match_pandas(bank: Workspace, frames) -> None:
    frame, info = frames["nbp"]
    t = pd.Timestamp(info.cutoff)
    end = t + pd.Timedelta(days=info.horizon_days)
    customers = _table(bank, "customers")
    holdings = _table(bank, "holdings")
    held = holdings[_held_at(holdings, t)].groupby("customer_id")["product_id"].agg(set)
    opened = holdings[(_day(holdings["open_date"]) > t) & (_day(holdings["open_date"]) <= end)]
    opened = opened.assign(day=_day(opened["open_date"])).sort_values(["day", "product_id"])
    expected_next, expected_held = {}, {}
    for c in _open_at(customers, t):
        owned = held.get(c, set())
        new = opened.loc[(opened["customer_id"] == c) & ~opened["product_id"].isin(owned)]
        expected_next[c] = new["product_id"].iloc[0] if len(new) else "none"
        expected_held[c] = "|".join(sorted(owned))
    assert dict(zip(frame["customer_id"], frame["next_product"], strict=True)) == expected_next
    assert dict(zip(frame["customer_id"], frame["held_products"], strict=True)) == expected_held
    assert frame.loc[frame["held_products"].str.contains("CC_STANDARD"), "holds_cc_standard"].all()
    assert info.positive is None and 0.1 < info.positive_rate < 0.9


# -- the frames are worth training on -------------------------------------------------------
def _out_of_fold_auc(frame: pd.DataFrame, info: tf.FrameInfo) -> float:
    from sklearn.model_selection import StratifiedKFold

    from lodestar.modeling.classifier import GradientBoostedClassifier
    from lodestar.modeling.metrics import roc_auc
    from lodestar.modeling.tabular import prepare

    data = prepare(frame, info.target, exclude=info.exclude, positive=info.positive)
    scores = np.zeros(len(data.y))
    for fit, held in StratifiedKFold(3, shuffle=True, random_state=0).split(data.X, data.y):
        model = GradientBoostedClassifier(random_state=0, **FAST)
        model.fit(data.X.iloc[fit], data.y[fit])
        scores[held] = model.predict_proba(data.X.iloc[held])[:, 1]
    return float(roc_auc(data.y, scores))


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "floor"), [("churn", 0.8), ("risk", 0.55), ("response", 0.53)])
def test_frames_train_to_auc_above_chance(frames, kind: str, floor: float) -> None:
    frame, info = frames[kind]
    assert _out_of_fold_auc(frame, info) > floor


@pytest.mark.slow
def test_nbp_frame_beats_popularity(frames) -> None:
    from sklearn.model_selection import train_test_split

    from lodestar.modeling.next_best_product import NextBestProduct, evaluate_nbp

    frame, info = frames["nbp"]
    X = frame.drop(columns=["customer_id", info.target])
    fit, held = train_test_split(frame.index, test_size=0.3, random_state=0)
    model = NextBestProduct(n_estimators=200, learning_rate=0.1, early_stopping_rounds=20)
    model.fit(X.loc[fit], frame.loc[fit, info.target])
    result = evaluate_nbp(model, X.loc[held], frame.loc[held, info.target])
    assert result.mrr > result.baseline_mrr
    assert result.top3 > result.baseline_top3
