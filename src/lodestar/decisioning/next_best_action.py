"""Real-time next-best-action: the best eligible action for one customer now, under the same
rules as a batch plan, with the caps counted atomically.

Two halves:

- a **snapshot** (:func:`build_snapshot`), made in batch like a plan: every eligible customer x
  offer x channel that pays for itself, with its value, cost, limit and rate, and the customer's
  zone, addresses and arm (a random holdout is kept out of real-time offers too). It is what
  does not change within a day: eligibility, models, credit terms.
- the **decision** (:meth:`NextBestAction.decide`), per request: the customer's candidates best
  first (optionally only the asking channel's), each checked against the contact policy *now*
  — consent and the do-not-contact list read from the operational store at that moment, so a
  withdrawal counts at once — and the first allowed one reserves its place under the frequency
  caps and the pressure rule in the contact ledger, atomically
  (:class:`~lodestar.decisioning.contact_ledger.ContactLedger`): caps hold under concurrent
  requests, in one process or many.
"""

from __future__ import annotations

import json
import time as clock
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from lodestar.decisioning.contact_ledger import ContactLedger
from lodestar.decisioning.contact_policy import check
from lodestar.decisioning.plan import Plan
from lodestar.decisioning.policy_rules import ContactPolicy
from lodestar.errors import ConfigError, NotFound
from lodestar.experiments.assignment import CONTROL
from lodestar.storage.operational import OperationalStore
from lodestar.storage.operational_tables import consents, do_not_contact

ADDRESS = ("phone", "email", "app_user_id", "wecom_id")
#: The campaign id real-time reservations are booked under.
REALTIME = "REALTIME_NBA"


@dataclass(frozen=True)
class Decision:
    customer_id: str
    #: ``offer`` (an action), ``holdout`` (the random control), ``none`` (nothing allowed)
    outcome: str
    offer_id: str | None = None
    channel: str | None = None
    send_at: str | None = None
    expected_value: float | None = None
    expected_cost: float | None = None
    expected_net: float | None = None
    credit_limit: float | None = None
    credit_rate: float | None = None
    reservation_id: int | None = None
    #: Why: the chosen action, then each better action the policy refused and its rule.
    reasons: list[str] = field(default_factory=list)
    milliseconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def save_snapshot(directory: Path, plan: Plan, profile: pd.DataFrame) -> dict[str, Any]:
    """Keep ``plan``'s profitable candidates and the customers' contact data for real time."""
    directory.mkdir(parents=True, exist_ok=True)
    cand = plan.candidates[plan.candidates["profitable"]]
    frame = pd.DataFrame({
        "customer_id": cand["customer_id"].astype(str).to_numpy(),
        "offer_id": cand["offer_id"].astype(str).to_numpy(),
        "channel": cand["channel_name"].astype(str).to_numpy(),
        "gross": cand["gross"].to_numpy(), "weighted": cand["weighted"].to_numpy(),
        "cost": cand["cost"].to_numpy(), "arm": cand["arm"].astype(str).to_numpy(),
        "credit_limit": cand["credit_limit"].to_numpy(np.float64),
        "credit_rate": cand["credit_rate"].to_numpy(np.float64),
    })  # fmt: skip
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / "candidates.parquet")
    keep = ["customer_id", "time_zone", *[c for c in ADDRESS if c in profile.columns]]
    people = profile[keep].astype(object).where(profile[keep].notna(), None)
    pq.write_table(pa.Table.from_pandas(people, preserve_index=False), directory / "customers.parquet")
    meta = {"made_at": datetime.now(UTC).isoformat(), "candidates": len(frame),
            "customers": len(people), "offers": plan.meta.get("offers", []),
            "holdout": plan.spec.holdout, "data_as_of": plan.meta.get("data_as_of")}  # fmt: skip
    (directory / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return meta


# Built once: per request only the parameter changes (saves building and cache-keying the
# statements, a fifth of a decision's time).
_CONSENTS = sa.select(consents).where(consents.c.customer_id == sa.bindparam("customer_id"))
_BLOCKED = sa.select(do_not_contact).where(
    do_not_contact.c.customer_id == sa.bindparam("customer_id"))


class NextBestAction:
    """Decisions for one customer at a time from a snapshot (see the module doc)."""

    def __init__(
        self,
        directory: Path,
        policy: ContactPolicy,
        store: OperationalStore,
        *,
        history: pd.DataFrame | None = None,
        complaints: pd.DataFrame | None = None,
    ) -> None:
        if not (directory / "candidates.parquet").is_file():
            raise ConfigError(f"no decision snapshot in {directory}",
                              hint="lodestar decide --refresh builds it from the offers, "
                                   "models and profile")  # fmt: skip
        self.policy = policy
        self.store = store
        self.ledger = ContactLedger(store)
        self.directory = directory
        self._stamp = _stamp(directory)
        self.meta = json.loads((directory / "meta.json").read_text("utf-8"))
        cand = pq.read_table(directory / "candidates.parquet").to_pandas()
        cand["net"] = cand["weighted"] - cand["cost"]
        self.candidates = _Grouped(cand, order=("net", False))
        people = pq.read_table(directory / "customers.parquet").to_pandas()
        self.customers = _Grouped(people)
        self.history = _Grouped(history)
        self.complaints = _Grouped(complaints)

    def is_current(self) -> bool:
        """False once the snapshot on disk was rebuilt (by another process, say) after this
        engine loaded it: one ``stat`` of ``meta.json``, which is written last."""
        return _stamp(self.directory) == self._stamp

    def decide(
        self,
        customer_id: str,
        *,
        channel: str | None = None,
        context: dict[str, Any] | None = None,
        purpose: str = "marketing",
        at: datetime | None = None,
        reserve: bool = True,
    ) -> Decision:
        """The best allowed action for ``customer_id`` now (``channel``: only that channel's
        actions, e.g. the app asking for its in-app slot). ``reserve=False`` answers without
        booking the contact (a preview; caps are then not held)."""
        started = clock.perf_counter()
        when = at or datetime.now(UTC)
        found = self.customers.rows(customer_id)
        if not found:
            raise NotFound(f"customer '{customer_id}' is not in the decision snapshot",
                              hint="a new customer joins at the next snapshot refresh")  # fmt: skip
        person = found[0]
        rows = self.candidates.rows(customer_id)
        if rows and rows[0]["arm"] == CONTROL:
            return self._done(Decision(customer_id, "holdout", reasons=[
                "holdout: in the random control group for real-time offers"]), started)  # fmt: skip
        if channel is not None:
            rows = [r for r in rows if r["channel"] == channel]
        reasons: list[str] = []
        consent_rows, dnc_rows = self._live_rows(customer_id)
        history = self.history.rows(customer_id)
        for row in rows:
            verdict = check(self.policy, person, row["channel"], purpose, when, history=history,
                            consents=consent_rows, do_not_contact=dnc_rows,
                            complaints=self.complaints.rows(customer_id))  # fmt: skip
            if verdict.allowed and reserve:
                verdict = self.ledger.try_reserve(
                    self.policy, customer_id, person.get("time_zone"), row["channel"], purpose,
                    str((context or {}).get("campaign_id") or REALTIME), when, history=history,
                )
            if not verdict.allowed:
                reasons.append(f"{row['offer_id']} by {row['channel']}: "
                               f"{verdict.reason.value if verdict.reason else 'refused'}")  # fmt: skip
                continue
            chosen = (f"chosen: {row['offer_id']} by {row['channel']}, expected net "
                      f"{row['net']:.2f}")  # fmt: skip
            return self._done(Decision(
                customer_id, "offer", row["offer_id"], row["channel"],
                verdict.send_at.isoformat(), float(row["gross"]), float(row["cost"]),
                float(row["gross"] - row["cost"]),
                _number(row.get("credit_limit")), _number(row.get("credit_rate")),
                verdict.detail.get("reservation_id"), [chosen, *reasons],
            ), started)  # fmt: skip
        if not rows:
            reasons.append("no eligible, profitable action" + (f" by {channel}" if channel else ""))
        return self._done(Decision(customer_id, "none", reasons=reasons), started)

    def _live_rows(self, customer_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The customer's consents and do-not-contact entries as they are now."""
        with self.store.engine.connect() as conn:
            given = conn.execute(_CONSENTS, {"customer_id": customer_id}).mappings().all()
            blocked = conn.execute(_BLOCKED, {"customer_id": customer_id}).mappings().all()
        return [dict(r) for r in given], [dict(r) for r in blocked]

    @staticmethod
    def _done(decision: Decision, started: float) -> Decision:
        return Decision(**{**decision.as_dict(),
                           "milliseconds": (clock.perf_counter() - started) * 1000})  # fmt: skip


class _Grouped:
    """A frame's rows by customer, found in O(1) and turned into dicts only when asked for:
    sorted once by customer (and ``order`` within), with each customer's start and end."""

    def __init__(self, frame: pd.DataFrame | None,
                 order: tuple[str, bool] | None = None) -> None:  # fmt: skip
        if frame is None or frame.empty:
            self.frame = pd.DataFrame({"customer_id": []})
            self.spans: dict[str, tuple[int, int]] = {}
            return
        keys = ["customer_id"] + ([order[0]] if order else [])
        ascending = [True] + ([order[1]] if order else [])
        frame = frame.assign(customer_id=frame["customer_id"].astype(str))
        self.frame = frame.sort_values(keys, ascending=ascending, kind="stable").reset_index(
            drop=True)  # fmt: skip
        ids = self.frame["customer_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        ends = np.r_[starts[1:], len(ids)]
        self.spans = dict(zip(ids[starts].tolist(), zip(starts.tolist(), ends.tolist(),
                                                         strict=True), strict=True))  # fmt: skip
        self.columns = list(self.frame.columns)
        self.values = self.frame.to_numpy(dtype=object)

    def rows(self, customer_id: str) -> list[dict[str, Any]]:
        span = self.spans.get(customer_id)
        if span is None:
            return []
        return [{c: _plain(v) for c, v in zip(self.columns, row, strict=True)}
                for row in self.values[span[0]:span[1]]]  # fmt: skip


def _stamp(directory: Path) -> int | None:
    try:
        return (directory / "meta.json").stat().st_mtime_ns
    except OSError:
        return None


def _plain(value: Any) -> Any:
    """NaN / NaT (pandas' missing) as None, so the policy sees a missing value."""
    return None if value is pd.NaT or (isinstance(value, float) and np.isnan(value)) else value


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number

