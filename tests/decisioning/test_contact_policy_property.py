"""The vectorised batch gives exactly the single-customer answer, on random audiences, histories,
consents, do-not-contact entries and complaints, around DST changes and in odd zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lodestar.decisioning.contact_policy import Reason, check, default_policy, evaluate
from lodestar.decisioning.policy_rules import parse_policy_text

CHANNELS = ["sms", "email", "app_push", "in_app", "wecom", "voice_robot", "telemarketing"]
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London", "Asia/Kolkata",
         "Australia/Lord_Howe", "Pacific/Chatham", None, "Not/A_Zone"]  # fmt: skip
#: instants around DST changes and month / week ends
ANCHORS = [datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 11, 1, 5, 45, tzinfo=UTC),
           datetime(2026, 3, 31, 16, 0, tzinfo=UTC), datetime(2026, 4, 5, 14, 0, tzinfo=UTC),
           datetime(2026, 3, 29, 0, 30, tzinfo=UTC)]  # fmt: skip

POLICIES = [
    default_policy(),
    parse_policy_text(
        "name: tight\nservice_exempt_from: [do_not_contact, quiet_hours]\n"
        "channels:\n  email: {quiet_hours: {start: '12:00', end: '13:30'}}\n"
        "  sms: {quiet_hours: {start: '01:00', end: '02:30'}, service_consent_exempt: true}\n"
        "  wecom: {quiet_hours: {start: '00:30', end: '01:30'}}\n"
        "frequency:\n  global: {day: 1, week: 2, month: 3}\n"
        "  channels: {email: {day: 0}, sms: {week: 1}}\n"
        "pressure: {window_days: 3, max_weight: 2.5, default_weight: 0.5,\n"
        "           weights: {marketing: {sms: 1, telemarketing: 2}, service: {sms: 0.25}}}\n"
        "cool_off:\n  - {after: opt_out, days: 5, channels: [sms, email]}\n"
        "  - {after: complaint, days: 2, channels: same}\n"
    ),
    parse_policy_text(
        "name: loose\nfrequency: {global: {month: 6}, channels: {voice_robot: {month: 1}}}\n"
        "pressure: {window_days: 5, max_weight: 3,\n"
        "           weights: {marketing: {email: 0.5, in_app: 0.25, telemarketing: 2}}}\n"
    ),
]

minutes = st.integers(min_value=-40 * 24 * 60, max_value=3 * 24 * 60)


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    at = draw(st.sampled_from(ANCHORS)) + timedelta(minutes=draw(st.integers(-600, 600)))
    n = draw(st.integers(1, 6))
    ids = [f"C{i}" for i in range(n)]

    def when() -> datetime:
        return at + timedelta(minutes=draw(minutes))

    def maybe_when() -> datetime | None:
        return draw(st.one_of(st.none(), st.builds(when)))

    address = st.sampled_from([None, "", " ", "x", "x", "x", "x", "x", "x"])
    customers = [{"customer_id": c, "time_zone": draw(st.sampled_from(ZONES)),
                  "phone": draw(address), "email": draw(address),
                  "app_user_id": draw(address), "wecom_id": draw(address)} for c in ids]  # fmt: skip
    cid, channel = st.sampled_from([*ids, "OTHER"]), st.sampled_from(CHANNELS)
    consents = [{"customer_id": draw(cid), "channel": draw(channel),
                 "purpose": draw(st.sampled_from(["marketing", "service"])),
                 "granted": draw(st.booleans()), "ts": when(), "withdrawn_at": maybe_when()}
                for _ in range(draw(st.integers(0, 10)))]  # fmt: skip
    # most customers consented long ago, so that the later rules get exercised
    consents += [{"customer_id": c, "channel": ch, "purpose": pu, "granted": True,
                  "ts": at - timedelta(days=400), "withdrawn_at": None}
                 for c in ids for ch in CHANNELS for pu in ("marketing", "service")
                 if draw(st.integers(0, 9)) < 8]  # fmt: skip
    recent = st.integers(min_value=-12 * 24 * 60, max_value=2 * 24 * 60)
    history = [{"customer_id": draw(cid), "channel": draw(st.one_of(st.none(), channel)),
                "contacted_at": at + timedelta(minutes=draw(recent)),
                "arm": draw(st.sampled_from(["treatment", "control"])),
                "purpose": draw(st.sampled_from(["marketing", "marketing", "service", None])),
                "outcome": draw(st.sampled_from(["no_response"] * 8 + ["opted_out", "complained",
                                                                       None])),
                "outcome_at": maybe_when()} for _ in range(draw(st.integers(0, 40)))]  # fmt: skip
    dnc = [{"customer_id": draw(cid), "channel": draw(st.sampled_from([*CHANNELS, "all"])),
            "reason": "other", "added_at": maybe_when(), "expires_at": maybe_when()}
           for _ in range(draw(st.integers(0, 4)))]  # fmt: skip
    complaints = [{"customer_id": draw(cid), "ts": when()}
                  for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2])))]  # fmt: skip
    return {
        "policy": draw(st.sampled_from(POLICIES)), "at": at, "customers": customers,
        "channels": draw(st.lists(channel, min_size=1, max_size=4, unique=True)),
        "purpose": draw(st.sampled_from(["marketing", "service"])),
        "consents": consents, "history": history, "dnc": dnc, "complaints": complaints,
    }  # fmt: skip


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_batch_equals_single_customer_check(s: dict) -> None:
    history = _frame(s["history"], ["customer_id", "channel", "contacted_at", "arm", "purpose",
                                    "outcome", "outcome_at"])  # fmt: skip
    consents = _frame(s["consents"], ["customer_id", "channel", "purpose", "granted", "ts",
                                      "withdrawn_at"])  # fmt: skip
    dnc = _frame(s["dnc"], ["customer_id", "channel", "reason", "added_at", "expires_at"])
    complaints = _frame(s["complaints"], ["customer_id", "ts"])
    decision = evaluate(s["policy"], pd.DataFrame(s["customers"]), s["channels"], s["purpose"],
                        s["at"], history, consents, dnc, complaints)  # fmt: skip
    frame = decision.frame
    assert len(frame) == len(s["customers"]) * len(s["channels"])
    i = 0
    for cust in s["customers"]:
        for channel in s["channels"]:
            v = check(s["policy"], cust, channel, s["purpose"], s["at"], s["history"],
                      s["consents"], s["dnc"], s["complaints"])  # fmt: skip
            row = frame.iloc[i]
            i += 1
            assert (row["customer_id"], row["channel"]) == (cust["customer_id"], channel)
            got = None if pd.isna(row["reason"]) else Reason(row["reason"])
            assert (bool(row["allowed"]), got) == (v.allowed, v.reason), (cust, channel, v)
            assert row["send_at"].to_pydatetime() == v.send_at
            assert bool(row["held"]) == v.held
            event(f"reason={v.reason}, held={v.held}")
    assert sum(decision.dropped.values()) == (~frame["allowed"]).sum()
