"""Time rules of the contact policy, shared by the batch, the single-customer check and the ledger.

Everything is counted in the customer's own zone with :mod:`zoneinfo`:

* **quiet hours** hold a send to the window's end (:func:`hold_until`), the first instant the
  local clock shows the end time; if that wall time falls in a DST gap the send goes at the same
  wall time on the new offset (later, never inside the window);
* **calendar periods** (:func:`periods`) are the local day, ISO week (Monday first) and month
  that contain the send, as UTC half-open intervals; a local midnight in a DST gap starts the day
  at the transition;
* **caps and pressure** (:func:`cap_breach`) count contacts in those periods and in the rolling
  pressure window ``(send - window_days, send]``.

>>> from zoneinfo import ZoneInfo
>>> at = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)   # 22:00 in Shanghai
>>> hold_until(QuietHours(start=time(21), end=time(8)), at, ZoneInfo("Asia/Shanghai"))
datetime.datetime(2026, 3, 2, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from lodestar.decisioning.policy_rules import ContactPolicy, ExemptRule, QuietHours, Reason

#: Tolerance for the weighted pressure sum (weights are floats).
PRESSURE_EPS = 1e-9


def to_utc(value: Any) -> datetime | None:
    """An aware UTC datetime from a datetime / pandas Timestamp / ISO text; naive values are
    UTC; None, NaT and NaN give None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if not isinstance(value, datetime):
        import pandas as pd

        stamp = pd.Timestamp(value)
        if stamp is pd.NaT:
            return None
        value = stamp.to_pydatetime()
    elif str(value) == "NaT":
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def require_aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"'at' must carry a time zone (got the naive {at.isoformat()})")
    return at.astimezone(UTC)


def local_wall(
    day: date, clock: time, zone: ZoneInfo, *, after: datetime | None = None
) -> datetime:
    """The UTC instant the local clock in ``zone`` shows ``clock`` on ``day``; of the two
    instants of an ambiguous (DST fall-back) wall time, the first one later than ``after``."""
    first = datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)
    if after is None or first > after:
        return first
    second = datetime.combine(day, clock, tzinfo=zone).replace(fold=1).astimezone(UTC)
    return second if second > after else first


def hold_until(quiet: QuietHours | None, at: datetime, zone: ZoneInfo) -> datetime:
    """``at`` (UTC) if it is outside the quiet hours in ``zone``, else the window's end."""
    at = at.astimezone(UTC)
    if quiet is None:
        return at
    local = at.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if not quiet.contains(clock):
        return at
    day = local.date() if clock < quiet.end else local.date() + timedelta(days=1)
    return local_wall(day, quiet.end, zone, after=at)


@dataclass(frozen=True)
class Periods:
    """UTC ``[start, end)`` of the local day, ISO week and month containing an instant."""

    day: tuple[datetime, datetime]
    week: tuple[datetime, datetime]
    month: tuple[datetime, datetime]

    def of(self, name: str) -> tuple[datetime, datetime]:
        bounds: tuple[datetime, datetime] = getattr(self, name)
        return bounds


PERIOD_NAMES = ("day", "week", "month")
PERIOD_REASONS = {
    "day": Reason.FREQUENCY_DAY,
    "week": Reason.FREQUENCY_WEEK,
    "month": Reason.FREQUENCY_MONTH,
}


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return local_wall(day, time(0), zone)


def periods(instant: datetime, zone: ZoneInfo) -> Periods:
    d = instant.astimezone(zone).date()
    monday = d - timedelta(days=d.weekday())
    first = d.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Periods(
        day=(_midnight(d, zone), _midnight(d + timedelta(days=1), zone)),
        week=(_midnight(monday, zone), _midnight(monday + timedelta(days=7), zone)),
        month=(_midnight(first, zone), _midnight(following, zone)),
    )


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


@dataclass(frozen=True)
class Contact:
    """One past or reserved contact, as the caps and pressure count it."""

    ts: datetime
    channel: str
    purpose: str = "marketing"


@dataclass(frozen=True)
class Breach:
    reason: Reason
    #: ``scope`` (all / the channel), ``count`` and ``cap``; or ``weight`` and ``max_weight``
    detail: dict[str, Any]


def cap_breach(
    policy: ContactPolicy,
    channel: str,
    purpose: str,
    send_at: datetime,
    zone: ZoneInfo,
    contacts: Iterable[Contact],
) -> Breach | None:
    """The first frequency cap (day, week, month; global before the channel's) or pressure rule
    that one more ``channel`` / ``purpose`` send at ``send_at`` would break, else None."""
    contacts = list(contacts)
    if policy.caps_apply(purpose):
        bounds = periods(send_at, zone)
        counted = [c for c in contacts if policy.caps_apply(c.purpose)]
        own = policy.frequency.channels.get(channel)  # type: ignore[call-overload]
        for name in PERIOD_NAMES:
            lo, hi = bounds.of(name)
            inside = [c for c in counted if lo <= c.ts < hi]
            for scope, cap, n in (
                ("all", getattr(policy.frequency.global_, name), len(inside)),
                (
                    channel,
                    getattr(own, name) if own is not None else None,
                    sum(1 for c in inside if c.channel == channel),
                ),
            ):
                if cap is not None and n >= cap:
                    return Breach(PERIOD_REASONS[name], {"scope": scope, "count": n, "cap": cap})
    pressure = policy.pressure
    own_weight = policy.pressure_weight(purpose, channel)
    if pressure is not None and not policy.exempt(purpose, ExemptRule.PRESSURE):
        start = send_at - timedelta(days=pressure.window_days)
        total = math.fsum(
            policy.pressure_weight(c.purpose, c.channel)
            for c in contacts
            if start < c.ts <= send_at
        )
        if total + own_weight > pressure.max_weight + PRESSURE_EPS:
            return Breach(
                Reason.PRESSURE,
                {"weight": total + own_weight, "max_weight": pressure.max_weight},
            )
    return None
