"""The contact policy over a whole audience at once: numpy over columns, no loop per customer.

:func:`evaluate` takes the frames a plan loads from the workspace (columns below; extra columns
are ignored, missing optional ones have the stated default) and answers for every (customer,
channel) pair, with the rule order, send-time holds and calendar periods of
:mod:`~lodestar.decisioning.contact_policy`, whose :func:`~.contact_policy.check` is the
single-customer reference it is tested against.

Time-dependent quantities (the quiet-hours hold, the local day / week / month) depend only on the
customer's zone and the channel, so they are computed once per (zone, channel) with the scalar
code of :mod:`~.contact_windows` and spread to rows by index; counting is ``np.bincount``.

Timestamps may be naive (read as UTC) or aware; ``customer_id`` is compared as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from lodestar.decisioning.contact_windows import (
    PERIOD_NAMES,
    PRESSURE_EPS,
    hold_until,
    periods,
    require_aware,
)
from lodestar.decisioning.policy_rules import (
    ADDRESS_FIELD,
    OUTCOME_TRIGGERS,
    RULE_ORDER,
    Channel,
    ContactPolicy,
    CoolOffTrigger,
    ExemptRule,
    Purpose,
    Reason,
    customer_zone,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min
_DAY_US = 86_400_000_000
#: reason code of a pair: 0 = allowed, k = RULE_ORDER[k - 1]
_CODE = {reason: i + 1 for i, reason in enumerate(RULE_ORDER)}
_NO_HISTORY = pd.DataFrame({
    "customer_id": pd.Series([], dtype=object), "channel": pd.Series([], dtype=object),
    "contacted_at": pd.Series([], dtype="datetime64[us, UTC]"),
})  # fmt: skip


def _us(value: datetime) -> int:
    return (value.astimezone(UTC) - _EPOCH) // _US


def _times(col: pd.Series) -> np.ndarray:
    """int64 microseconds since the epoch (UTC); missing values are ``_NAT``."""
    stamps = pd.to_datetime(col, utc=True).dt.tz_convert(None).dt.as_unit("us")
    return stamps.to_numpy().view("int64")


#: channel codes: positions in this list; -1 another value, -2 missing
ALL_CHANNELS: list[str] = [c.value for c in Channel]


def _codes(col: pd.Series, values: list[str]) -> np.ndarray:
    """Position of each value of ``col`` in ``values``: -1 for other values, -2 for missing.
    Factorising first keeps text comparisons to the distinct values (fast on Arrow strings)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    lookup = np.array([values.index(str(u)) if str(u) in values else -1 for u in uniques] + [-2])
    return lookup[codes].astype(np.int64)


def _has(frame: pd.DataFrame | None) -> bool:
    return frame is not None and len(frame) > 0


@dataclass(frozen=True)
class PolicyDecision:
    """The policy's answers for an audience.

    ``frame`` has one row per (customer, channel), customers in input order, channels in the
    order asked: ``customer_id``, ``channel``, ``allowed`` (bool), ``reason`` (a
    :class:`Reason` value, null when allowed; categorical), ``send_at`` (UTC, the earliest
    allowed send time) and ``held`` (the send waits for the quiet hours to end).
    ``dropped`` counts the pairs refused at each rule, every rule in :data:`RULE_ORDER`.
    """

    frame: pd.DataFrame
    dropped: dict[Reason, int]
    held: int
    policy_name: str
    policy_version: int | None
    purpose: Purpose
    at: datetime

    @property
    def allowed(self) -> int:
        return int(self.frame["allowed"].sum())

    def funnel(self) -> pd.DataFrame:
        """The exclusion funnel: pairs entering each rule, dropped at it and left after it."""
        left = len(self.frame)
        rows = []
        for reason in RULE_ORDER:
            dropped = self.dropped[reason]
            rows.append({"rule": reason.value, "entering": left, "dropped": dropped,
                         "left": left - dropped})  # fmt: skip
            left -= dropped
        return pd.DataFrame(rows)


class _Audience:
    """Customers' row positions and zones, and the (zone, channel) send times and periods."""

    def __init__(
        self,
        policy: ContactPolicy,
        customers: pd.DataFrame,
        channels: list[Channel],
        purpose: Purpose,
        at: datetime,
    ) -> None:
        self.ids = customers["customer_id"].astype(str).to_numpy()
        self.index = pd.Index(self.ids)
        if not self.index.is_unique:
            dupes = self.index[self.index.duplicated()].unique()[:5].tolist()
            raise ValueError(f"customers has repeated customer_id values, e.g. {dupes}")
        self.n = len(self.ids)
        self.channels = channels
        self._rows: dict[int, tuple[pd.DataFrame, np.ndarray]] = {}
        raw = customers["time_zone"] if "time_zone" in customers.columns else None
        if raw is None:
            codes = np.full(self.n, -1, dtype=np.int64)
            uniques: list[Any] = []
        else:
            codes, found = pd.factorize(raw, use_na_sentinel=True)
            uniques = list(found)
        names = [customer_zone(u, policy.default_time_zone).key for u in uniques]
        names.append(customer_zone(None, policy.default_time_zone).key)
        zone_names, zone_of_unique = np.unique(np.array(names, dtype=object), return_inverse=True)
        self.zone = zone_of_unique[np.where(codes < 0, len(uniques), codes)].astype(np.int64)
        zones = [customer_zone(z, policy.default_time_zone) for z in zone_names]
        n_z, n_c = len(zones), len(channels)
        self.send = np.empty((n_z, n_c), dtype=np.int64)
        self.bounds = {p: np.empty((n_z, n_c, 2), dtype=np.int64) for p in PERIOD_NAMES}
        for zi, zone in enumerate(zones):
            for ci, channel in enumerate(channels):
                send_at = hold_until(policy.quiet_hours(channel, purpose), at, zone)
                self.send[zi, ci] = _us(send_at)
                spans = periods(send_at, zone)
                for p in PERIOD_NAMES:
                    lo, hi = spans.of(p)
                    self.bounds[p][zi, ci] = (_us(lo), _us(hi))

    def rows_of(self, frame: pd.DataFrame) -> np.ndarray:
        """Row position in the audience of each row of ``frame`` (-1: not in it)."""
        key = id(frame)
        if key not in self._rows:
            ids = pd.Index(frame["customer_id"].astype(str))
            self._rows[key] = (frame, np.asarray(self.index.get_indexer(ids)))
        return self._rows[key][1]


def evaluate(
    policy: ContactPolicy,
    customers: pd.DataFrame,
    channels: list[str],
    purpose: str,
    at: datetime,
    history: pd.DataFrame | None = None,
    consents: pd.DataFrame | None = None,
    do_not_contact: pd.DataFrame | None = None,
    complaints: pd.DataFrame | None = None,
) -> PolicyDecision:
    """The policy for every customer in ``customers`` on every channel in ``channels``.

    Frames (rows of customers not in ``customers`` are ignored):

    * ``customers``: ``customer_id``; ``time_zone`` (IANA; missing or unknown -> the policy's
      ``default_time_zone``); the address columns ``phone``, ``email``, ``app_user_id``,
      ``wecom_id`` (a missing column means nobody has that address).
    * ``history`` (past and scheduled contacts, e.g. ``campaign_contacts``): ``customer_id``,
      ``channel`` (null = not contacted), ``contacted_at``; optional ``arm`` (``control`` rows
      are not contacts), ``purpose`` (default ``marketing``), ``outcome`` (``complained`` /
      ``opted_out`` start cool-offs) and ``outcome_at`` (when; default ``contacted_at``).
    * ``consents``: ``customer_id``, ``channel``, ``purpose``, ``granted``, ``ts``,
      ``withdrawn_at``.
    * ``do_not_contact``: ``customer_id``, ``channel`` (a channel or ``all``), ``reason``,
      ``added_at`` (null = always), ``expires_at`` (null = never).
    * ``complaints``: ``customer_id``, ``ts``.
    """
    at = require_aware(at)
    chans = list(dict.fromkeys(Channel(c) for c in channels))
    pu = Purpose(purpose)
    aud = _Audience(policy, customers, chans, pu, at)
    n, n_c = aud.n, len(chans)
    at_us = _us(at)
    send = aud.send[aud.zone]  # (n, C) send time per customer and channel
    code = np.zeros((n, n_c), dtype=np.int8)

    def refuse(ci: int, mask: np.ndarray, reason: Reason) -> None:
        column = code[:, ci]
        column[(column == 0) & mask] = _CODE[reason]

    # 1. channel availability
    present: dict[str, np.ndarray] = {}
    for ci, ch in enumerate(chans):
        name = ADDRESS_FIELD[ch]
        if name not in present:
            if name in customers.columns:
                col = customers[name]
                text = col.astype(str).str.strip()
                present[name] = (col.notna() & text.ne("")).to_numpy(dtype=bool)
            else:
                present[name] = np.zeros(n, dtype=bool)
        refuse(ci, ~present[name], Reason.NO_ADDRESS)

    # 2. consent
    needs = [policy.needs_consent(ch, pu) for ch in chans]
    if any(needs):
        state = np.full((n, n_c), 3, dtype=np.int8)  # 3 = no record
        if _has(consents):
            assert consents is not None
            state = _consent_states(consents, aud, pu, at_us, state)
        for ci in range(n_c):
            if needs[ci]:
                refuse(ci, state[:, ci] >= 2, Reason.NO_CONSENT)
                refuse(ci, state[:, ci] == 1, Reason.CONSENT_WITHDRAWN)

    # 3. do not contact
    if _has(do_not_contact) and not policy.exempt(pu, ExemptRule.DO_NOT_CONTACT):
        assert do_not_contact is not None
        dnc = do_not_contact
        rows = aud.rows_of(dnc)
        added = _times(dnc["added_at"]) if "added_at" in dnc.columns else np.full(len(dnc), _NAT)
        expires = (
            _times(dnc["expires_at"]) if "expires_at" in dnc.columns else np.full(len(dnc), _NAT)
        )
        scope = _codes(dnc["channel"], [*ALL_CHANNELS, "all"])
        live = (rows >= 0) & ((added == _NAT) | (added <= at_us))
        for ci, ch in enumerate(chans):
            m = live & ((scope == ALL_CHANNELS.index(ch)) | (scope == len(ALL_CHANNELS)))
            r = rows[m]
            m_exp = expires[m]
            active = (m_exp == _NAT) | (m_exp > send[r, ci])
            blocked = np.zeros(n, dtype=bool)
            blocked[r[active]] = True
            refuse(ci, blocked, Reason.DO_NOT_CONTACT)

    # history as contacts and as cool-off events
    # Caps and pressure apply even to a customer never contacted (a cap of 0, or one send
    # heavier than the pressure limit, refuses on its own), so an empty history still counts.
    contacts = _Contacts(history if _has(history) else _NO_HISTORY, aud, policy)

    # 4. cool-off
    if policy.cool_off and not policy.exempt(pu, ExemptRule.COOL_OFF):
        ev_rows, ev_ts, ev_chan, ev_trigger = _events(history, complaints, aud, at_us)
        for rule in policy.cool_off:
            of_rule = ev_trigger == list(CoolOffTrigger).index(rule.after)
            for ci, ch in enumerate(chans):
                if rule.channels == "all":
                    m = of_rule
                elif rule.channels == "same":
                    m = of_rule & ((ev_chan == ALL_CHANNELS.index(ch)) | (ev_chan == -2))
                elif ch in rule.channels:
                    m = of_rule
                else:
                    continue
                r = ev_rows[m]
                hit = send[r, ci] < ev_ts[m] + rule.days * _DAY_US
                blocked = np.zeros(n, dtype=bool)
                blocked[r[hit]] = True
                refuse(ci, blocked, Reason.COOL_OFF)

    # 5. frequency caps, 6. pressure
    contacts.refuse_over_caps(policy, pu, refuse)

    reason = pd.Categorical.from_codes(
        code.ravel().astype(np.int64) - 1, categories=pd.Index([r.value for r in RULE_ORDER])
    )
    send_flat = send.ravel()
    frame = pd.DataFrame({
        "customer_id": np.repeat(aud.ids, n_c),
        "channel": pd.Categorical.from_codes(
            np.tile(np.arange(n_c), n), categories=pd.Index([c.value for c in chans])
        ),
        "allowed": code.ravel() == 0,
        "reason": reason,
        "send_at": pd.to_datetime(send_flat, unit="us", utc=True),
        "held": send_flat > at_us,
    })  # fmt: skip
    counts = np.bincount(code.ravel(), minlength=len(RULE_ORDER) + 1)
    return PolicyDecision(
        frame=frame,
        dropped={r: int(counts[_CODE[r]]) for r in RULE_ORDER},
        held=int(((send_flat > at_us) & (code.ravel() == 0)).sum()),
        policy_name=policy.name,
        policy_version=policy.version,
        purpose=pu,
        at=at,
    )


def _consent_states(
    consents: pd.DataFrame, aud: _Audience, pu: Purpose, at_us: int, state: np.ndarray
) -> np.ndarray:
    """Per (customer, channel): 0 granted, 1 withdrawn by the send, 2 refused, 3 no record.
    The latest record captured by ``at`` wins; on a tie the stricter."""
    ci = _codes(consents["channel"], [c.value for c in aud.channels])
    rows = aud.rows_of(consents)
    ts = _times(consents["ts"])
    keep = (
        (rows >= 0)
        & (ci >= 0)
        & (_codes(consents["purpose"], [pu.value]) == 0)
        & (ts != _NAT)
        & (ts <= at_us)
    )
    rows, ci, ts = rows[keep], ci[keep], ts[keep]
    granted = consents["granted"].fillna(False).astype(bool).to_numpy()[keep]
    withdrawn = (
        _times(consents["withdrawn_at"])[keep]
        if "withdrawn_at" in consents.columns
        else (np.full(len(rows), _NAT))
    )
    send = aud.send[aud.zone[rows], ci]
    s = np.where(~granted, 2, np.where((withdrawn != _NAT) & (withdrawn <= send), 1, 0))
    order = np.lexsort((s, ts, ci, rows))
    group = (rows * len(aud.channels) + ci)[order]
    last = np.ones(len(group), dtype=bool)
    last[:-1] = group[1:] != group[:-1]
    flat = state.ravel().copy()
    flat[group[last]] = s[order][last]
    return flat.reshape(state.shape)


def _events(
    history: pd.DataFrame | None, complaints: pd.DataFrame | None, aud: _Audience, at_us: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cool-off triggers known at ``at``: rows, times, channel code (in :data:`ALL_CHANNELS`;
    -2 = not tied to a channel) and trigger (index in :class:`CoolOffTrigger`)."""
    parts: list[tuple[np.ndarray, ...]] = []
    if _has(complaints):
        assert complaints is not None
        parts.append((aud.rows_of(complaints), _times(complaints["ts"]),
                      np.full(len(complaints), -2, dtype=np.int64),
                      np.zeros(len(complaints), dtype=np.int64)))  # fmt: skip
    if _has(history) and "outcome" in history.columns:  # type: ignore[union-attr]
        assert history is not None
        triggers = list(CoolOffTrigger)
        outcomes = list(OUTCOME_TRIGGERS)
        found = _codes(history["outcome"], outcomes)
        lookup = np.array([triggers.index(OUTCOME_TRIGGERS[o]) for o in outcomes] + [-1, -1])
        trig = lookup[found]  # -1 and -2 index the trailing "no trigger" entries
        ts = _times(history["contacted_at"])
        if "outcome_at" in history.columns:
            when = _times(history["outcome_at"])
            ts = np.where(when != _NAT, when, ts)
        chan = _codes(history["channel"], ALL_CHANNELS)
        m = trig >= 0
        parts.append((aud.rows_of(history)[m], ts[m], chan[m], trig[m]))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, empty
    rows, ts, chan, trig = (np.concatenate(x) for x in zip(*parts, strict=True))
    keep = (rows >= 0) & (ts != _NAT) & (ts <= at_us)
    return rows[keep], ts[keep], chan[keep], trig[keep]


class _Contacts:
    """History rows that reached a customer of the audience, ready to count."""

    def __init__(self, history: Any, aud: _Audience, policy: ContactPolicy) -> None:
        h: pd.DataFrame = history
        rows = aud.rows_of(h)
        ts = _times(h["contacted_at"])
        channel = _codes(h["channel"], ALL_CHANNELS)  # -1: a channel Lodestar does not know
        keep = (rows >= 0) & (channel != -2) & (ts != _NAT)
        if "arm" in h.columns:
            keep &= _codes(h["arm"], ["control"]) != 0
        self.aud = aud
        self.rows, self.ts, self.channel = rows[keep], ts[keep], channel[keep]
        purposes = [p.value for p in Purpose]
        if "purpose" in h.columns:
            purpose = _codes(h["purpose"], purposes)[keep]
            purpose[purpose == -2] = purposes.index(Purpose.MARKETING)
        else:
            purpose = np.full(len(self.rows), purposes.index(Purpose.MARKETING), dtype=np.int64)
        # tables over (purpose, channel) codes; index -1 (another value) is the last entry
        names = [*purposes, "other"]
        counted = np.array([policy.caps_apply(p) for p in names], dtype=bool)
        weight = np.array(
            [[policy.pressure_weight(p, c) for c in [*ALL_CHANNELS, "other"]] for p in names]
        )
        self.counted = counted[purpose]
        self.weight = weight[purpose, self.channel]

    def refuse_over_caps(self, policy: ContactPolicy, pu: Purpose, refuse: Any) -> None:
        aud, n = self.aud, self.aud.n
        zone = aud.zone[self.rows]
        if policy.caps_apply(pu):
            totals: dict[tuple[str, bytes], np.ndarray] = {}
            for ci, ch in enumerate(aud.channels):
                own = policy.frequency.channels.get(ch)
                same_channel = self.counted & (self.channel == ALL_CHANNELS.index(ch))
                for p in PERIOD_NAMES:
                    lo = aud.bounds[p][zone, ci, 0]
                    hi = aud.bounds[p][zone, ci, 1]
                    inside = (self.ts >= lo) & (self.ts < hi)
                    cap = getattr(policy.frequency.global_, p)
                    reason = Reason(f"frequency_{p}")
                    if cap is not None:
                        # channels with the same send times share the global count
                        key = (p, aud.bounds[p][:, ci].tobytes())
                        if key not in totals:
                            totals[key] = np.bincount(self.rows[inside & self.counted], minlength=n)
                        refuse(ci, totals[key] >= cap, reason)
                    cap = getattr(own, p) if own is not None else None
                    if cap is not None:
                        count = np.bincount(self.rows[inside & same_channel], minlength=n)
                        refuse(ci, count >= cap, reason)
        pressure = policy.pressure
        if pressure is None or policy.exempt(pu, ExemptRule.PRESSURE):
            return
        window = pressure.window_days * _DAY_US
        for ci, ch in enumerate(aud.channels):
            send = aud.send[zone, ci]
            inside = (self.ts > send - window) & (self.ts <= send)
            total = np.bincount(self.rows[inside], weights=self.weight[inside], minlength=n)
            own_weight = policy.pressure_weight(pu, ch)
            refuse(ci, total + own_weight > pressure.max_weight + PRESSURE_EPS, Reason.PRESSURE)
