"""Contact policy: may this customer be contacted on this channel, for this purpose, now?

Two entry points share the policy model (:mod:`~lodestar.decisioning.policy_rules`) and its time
rules (:mod:`~lodestar.decisioning.contact_windows`) and give the same answers (a property test
holds them to it):

* :func:`evaluate` — a whole audience at once, vectorised (:mod:`~.policy_batch`), with the
  exclusion funnel;
* :func:`check` — one customer and channel in real time, returning a :class:`Verdict`.

The rules run in this order; the first that fails is the reason (:class:`Reason`):

1. ``no_address`` — no phone (sms, voice_robot, telemarketing), email, app user id (app_push,
   in_app) or WeCom id for the channel;
2. ``no_consent`` / ``consent_withdrawn`` — the latest consent record for the customer, channel
   and purpose (recorded by ``at``) is a refusal, is missing, or was withdrawn by the send time;
   a ``service`` message skips this on channels with ``service_consent_exempt``;
3. ``do_not_contact`` — an entry for the customer on the channel or ``all``, added by ``at``,
   not expired at the send time;
4. ``cool_off`` — a complaint or opt-out (by ``at``) less than the rule's days before the send;
5. ``frequency_day`` / ``frequency_week`` / ``frequency_month`` — the calendar period of the
   send in the customer's zone already holds as many contacts as the global or channel cap;
6. ``pressure`` — the weighted contacts in the rolling window plus this one exceed the maximum.

Quiet hours never refuse: the send is held to the window's end (``send_at``, ``held``), and the
time rules (expiry, cool-off, caps, pressure) are judged at that send time. Service messages skip
the rules listed in the policy's ``service_exempt_from``.

>>> from datetime import UTC, datetime
>>> policy = parse_policy_text("name: p\\nfrequency: {global: {day: 1}}\\n")
>>> customer = {"customer_id": "C1", "phone": "138", "time_zone": "Asia/Shanghai"}
>>> consent = {"customer_id": "C1", "channel": "sms", "purpose": "marketing", "granted": True,
...            "ts": datetime(2026, 1, 1, tzinfo=UTC), "withdrawn_at": None}
>>> at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
>>> check(policy, customer, "sms", "marketing", at, consents=[consent]).allowed
True
>>> past = {"customer_id": "C1", "channel": "sms", "contacted_at": datetime(2026, 3, 1, 17, 0)}
>>> check(policy, customer, "sms", "marketing", at, [past], [consent]).reason
<Reason.FREQUENCY_DAY: 'frequency_day'>
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from lodestar.decisioning.contact_windows import (
    Contact,
    cap_breach,
    hold_until,
    require_aware,
    to_utc,
)
from lodestar.decisioning.policy_batch import PolicyDecision, evaluate
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
    default_policy,
    load_policy_file,
    parse_policy_text,
)

__all__ = [
    "RULE_ORDER",
    "Channel",
    "ContactPolicy",
    "PolicyDecision",
    "Purpose",
    "Reason",
    "Verdict",
    "check",
    "default_policy",
    "evaluate",
    "load_policy_file",
    "parse_policy_text",
]

Rows = Iterable[Mapping[str, Any]] | pd.DataFrame


@dataclass(frozen=True)
class Verdict:
    """The answer for one customer and channel.

    ``send_at`` is the earliest allowed send time (UTC): ``at``, or the end of the quiet hours
    when ``held``. ``detail`` says more about the reason (the cap and the count, the cool-off's
    end, the do-not-contact reason...).
    """

    customer_id: str
    channel: Channel
    purpose: Purpose
    allowed: bool
    reason: Reason | None
    send_at: datetime
    held: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def explain(self, locale: str = "zh-CN") -> str:
        """One sentence for people, in ``locale`` (zh-CN or en)."""
        from lodestar.i18n import t

        params = {"channel": self.channel.value, "send_at": self.send_at.isoformat(), **self.detail}
        if self.reason is None:
            return t("policy.held" if self.held else "policy.allowed", locale, **params)
        return t(f"policy.reason.{self.reason.value}", locale, **params)


def has_address(value: Any) -> bool:
    if value is None:
        return False
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(str(value).strip())


def customer_rows(rows: Rows | None, customer_id: str) -> list[Mapping[str, Any]]:
    if rows is None:
        return []
    if isinstance(rows, pd.DataFrame):
        if rows.empty:
            return []
        mine = rows[rows["customer_id"].astype(str) == customer_id]
        return [{str(k): v for k, v in r.items()} for r in mine.to_dict("records")]
    return [r for r in rows if str(r["customer_id"]) == customer_id]


def _value(row: Mapping[str, Any], name: str) -> Any:
    value = row.get(name)
    try:
        return None if value is None or pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def consent_state(
    records: Iterable[Mapping[str, Any]],
    channel: str,
    purpose: str,
    at: datetime,
    send_at: datetime,
) -> Reason | None:
    """None when the consent in force allows the send, else the reason. Of the records for the
    channel and purpose captured by ``at``, the latest counts; on a tie the stricter one."""
    best: tuple[datetime, int] | None = None
    for row in records:
        ts = to_utc(row.get("ts"))
        if row.get("channel") != channel or row.get("purpose") != purpose or ts is None:
            continue
        if ts > at:
            continue
        withdrawn = to_utc(row.get("withdrawn_at"))
        if not bool(_value(row, "granted")):
            state = 2
        elif withdrawn is not None and withdrawn <= send_at:
            state = 1
        else:
            state = 0
        if best is None or (ts, state) > best:
            best = (ts, state)
    if best is None or best[1] == 2:
        return Reason.NO_CONSENT
    return Reason.CONSENT_WITHDRAWN if best[1] == 1 else None


def is_contact(row: Mapping[str, Any]) -> bool:
    """A history row that reached the customer (control-arm rows and rows without a channel
    did not)."""
    return _value(row, "channel") is not None and _value(row, "arm") != "control"


def history_contacts(rows: Iterable[Mapping[str, Any]]) -> list[Contact]:
    out = []
    for row in rows:
        ts = to_utc(row.get("contacted_at"))
        if ts is not None and is_contact(row):
            out.append(Contact(ts, str(row["channel"]), str(_value(row, "purpose") or "marketing")))
    return out


def _cool_off(
    policy: ContactPolicy,
    channel: str,
    at: datetime,
    send_at: datetime,
    history: list[Mapping[str, Any]],
    complaints: list[Mapping[str, Any]],
) -> dict[str, Any] | None:
    events: list[tuple[datetime, str | None, CoolOffTrigger]] = []
    for row in complaints:
        ts = to_utc(row.get("ts"))
        if ts is not None:
            events.append((ts, None, CoolOffTrigger.COMPLAINT))
    for row in history:
        trigger = OUTCOME_TRIGGERS.get(str(_value(row, "outcome")))
        ts = to_utc(_value(row, "outcome_at")) or to_utc(row.get("contacted_at"))
        if trigger is not None and ts is not None:
            events.append((ts, _value(row, "channel"), trigger))
    for rule in policy.cool_off:
        for ts, event_channel, trigger in events:
            if trigger != rule.after or ts > at or not rule.blocks(channel, event_channel):
                continue
            until = ts + timedelta(days=rule.days)
            if send_at < until:
                return {"after": rule.after.value, "days": rule.days, "until": until.isoformat()}
    return None


def _do_not_contact(
    channel: str, at: datetime, send_at: datetime, entries: list[Mapping[str, Any]]
) -> dict[str, Any] | None:
    for row in entries:
        if row.get("channel") not in (channel, "all"):
            continue
        added = to_utc(row.get("added_at"))
        expires = to_utc(row.get("expires_at"))
        if (added is None or added <= at) and (expires is None or expires > send_at):
            return {"dnc_reason": str(_value(row, "reason") or ""), "scope": row.get("channel")}
    return None


def check(
    policy: ContactPolicy,
    customer: Mapping[str, Any],
    channel: str,
    purpose: str,
    at: datetime,
    history: Rows | None = None,
    consents: Rows | None = None,
    do_not_contact: Rows | None = None,
    complaints: Rows | None = None,
) -> Verdict:
    """The policy's answer for one customer and channel at ``at`` (aware datetime).

    ``customer`` has ``customer_id``, ``time_zone`` and the address columns; the row sources
    have the columns :func:`evaluate` documents, and rows of other customers are ignored (a
    whole frame may be passed).
    """
    at = require_aware(at)
    ch, pu = Channel(channel), Purpose(purpose)
    cid = str(customer["customer_id"])
    zone = customer_zone(customer.get("time_zone"), policy.default_time_zone)
    send_at = hold_until(policy.quiet_hours(ch, pu), at, zone)

    def verdict(reason: Reason | None, detail: dict[str, Any] | None = None) -> Verdict:
        return Verdict(cid, ch, pu, reason is None, reason, send_at, send_at > at, detail or {})

    if not has_address(customer.get(ADDRESS_FIELD[ch])):
        return verdict(Reason.NO_ADDRESS, {"field": ADDRESS_FIELD[ch]})
    if policy.needs_consent(ch, pu):
        state = consent_state(customer_rows(consents, cid), ch, pu, at, send_at)
        if state is not None:
            return verdict(state)
    if not policy.exempt(pu, ExemptRule.DO_NOT_CONTACT):
        dnc = _do_not_contact(ch, at, send_at, customer_rows(do_not_contact, cid))
        if dnc is not None:
            return verdict(Reason.DO_NOT_CONTACT, dnc)
    past = customer_rows(history, cid)
    if not policy.exempt(pu, ExemptRule.COOL_OFF):
        cool = _cool_off(policy, ch, at, send_at, past, customer_rows(complaints, cid))
        if cool is not None:
            return verdict(Reason.COOL_OFF, cool)
    breach = cap_breach(policy, ch, pu, send_at, zone, history_contacts(past))
    if breach is not None:
        return verdict(breach.reason, breach.detail)
    return verdict(None)
