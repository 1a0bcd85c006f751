"""Contact policy rules, one at a time, through both entry points: ``check`` (one customer) and
``evaluate`` (the batch) must give the same answer for every case here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from lodestar.decisioning.contact_policy import (
    RULE_ORDER,
    Reason,
    check,
    default_policy,
    evaluate,
    parse_policy_text,
)
from lodestar.decisioning.policy_rules import load_policy_file
from lodestar.errors import DefinitionError

SH, NY = "Asia/Shanghai", "America/New_York"
GRANTED = datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def customer(cid: str = "C1", tz: str | None = SH, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {"customer_id": cid, "time_zone": tz, "phone": "13800000000",
                              "email": f"{cid}@example.com", "app_user_id": f"U{cid}",
                              "wecom_id": f"W{cid}"}  # fmt: skip
    row.update(extra)
    return row


def consent(cid: str = "C1", channel: str = "email", purpose: str = "marketing", *,
            granted: bool = True, ts: datetime = GRANTED,
            withdrawn_at: datetime | None = None) -> dict[str, object]:  # fmt: skip
    return {"customer_id": cid, "channel": channel, "purpose": purpose, "granted": granted,
            "ts": ts, "withdrawn_at": withdrawn_at}  # fmt: skip


def all_consents(cid: str = "C1", purpose: str = "marketing") -> list[dict[str, object]]:
    channels = ("sms", "email", "app_push", "in_app", "wecom", "voice_robot", "telemarketing")
    return [consent(cid, ch, purpose) for ch in channels]


def contact(at: datetime, channel: str = "email", cid: str = "C1", **extra: object) -> dict:
    return {"customer_id": cid, "channel": channel, "contacted_at": at, **extra}


def both(policy, cust, channel, purpose, at, history=(), consents=None, dnc=(), complaints=()):
    """The verdict of ``check``, after asserting ``evaluate`` agrees with it."""
    consents = all_consents(str(cust["customer_id"]), purpose) if consents is None else consents
    verdict = check(policy, cust, channel, purpose, at, list(history), consents, list(dnc),
                    list(complaints))  # fmt: skip

    def frame(rows: list, columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame(list(rows), columns=columns)

    decision = evaluate(
        policy, pd.DataFrame([cust]), [channel], purpose, at,
        history=frame(list(history), ["customer_id", "channel", "contacted_at"])
        if not history else pd.DataFrame(list(history)),
        consents=frame(consents, ["customer_id", "channel", "purpose", "granted", "ts",
                                  "withdrawn_at"]),
        do_not_contact=pd.DataFrame(list(dnc)) if dnc else None,
        complaints=pd.DataFrame(list(complaints)) if complaints else None,
    )  # fmt: skip
    row = decision.frame.iloc[0]
    assert bool(row["allowed"]) == verdict.allowed
    assert (None if pd.isna(row["reason"]) else Reason(row["reason"])) == verdict.reason
    assert row["send_at"].to_pydatetime() == verdict.send_at
    assert bool(row["held"]) == verdict.held
    return verdict


DAY1 = parse_policy_text("name: day1\nfrequency: {global: {day: 1}}\n")
WEEK1 = parse_policy_text("name: week1\nfrequency: {global: {week: 1}}\n")
MONTH1 = parse_policy_text("name: month1\nfrequency: {global: {month: 1}}\n")


# --- time zones: the same UTC instant is a different local day -------------------------------


def test_same_instant_different_local_days() -> None:
    at = utc(2026, 3, 10, 3, 0)  # Shanghai 11:00 on the 10th; New York 23:00 on the 9th
    past = utc(2026, 3, 9, 14, 0)  # Shanghai 22:00 on the 9th; New York 10:00 on the 9th
    sh = both(DAY1, customer("A", SH), "email", "marketing", at, [contact(past, cid="A")])
    ny = both(DAY1, customer("B", NY), "email", "marketing", at, [contact(past, cid="B")])
    assert sh.allowed
    assert ny.reason == Reason.FREQUENCY_DAY and ny.detail["count"] == 1


def test_missing_or_unknown_zone_falls_back_to_the_default() -> None:
    at = utc(2026, 3, 10, 3, 0)
    past = utc(2026, 3, 9, 14, 0)
    for tz in (None, "", "Mars/Olympus_Mons"):
        assert both(DAY1, customer("A", tz), "email", "marketing", at,
                    [contact(past, cid="A")]).allowed  # fmt: skip
    ny_default = DAY1.model_copy(update={"default_time_zone": NY})
    assert both(ny_default, customer("A", "nowhere"), "email", "marketing", at,
                [contact(past, cid="A")]).reason == Reason.FREQUENCY_DAY  # fmt: skip


def test_iso_week_starts_on_monday_local_time() -> None:
    sunday_late = local(SH, 2026, 3, 8, 23, 30)
    monday_early = local(SH, 2026, 3, 9, 0, 30)
    history = [contact(sunday_late)]
    assert both(WEEK1, customer(), "email", "marketing", monday_early, history).allowed
    sunday_later = local(SH, 2026, 3, 8, 23, 45)
    assert both(WEEK1, customer(), "email", "marketing", sunday_later,
                history).reason == Reason.FREQUENCY_WEEK  # fmt: skip
    # the whole previous week counts: Monday 00:00 is in the same week as Sunday 23:59
    assert (
        both(
            WEEK1,
            customer(),
            "email",
            "marketing",
            sunday_later,
            [contact(local(SH, 2026, 3, 2, 0, 0))],
        ).reason
        == Reason.FREQUENCY_WEEK
    )
    assert both(
        WEEK1,
        customer(),
        "email",
        "marketing",
        sunday_later,
        [contact(local(SH, 2026, 3, 1, 23, 59))],
    ).allowed


def test_month_boundary_in_each_customers_zone() -> None:
    at = utc(2026, 3, 31, 16, 10)  # Shanghai April 1st 00:10; New York March 31st 12:10
    past = utc(2026, 3, 31, 15, 50)  # Shanghai March 31st 23:50; New York March 31st 11:50
    assert both(MONTH1, customer("A", SH), "email", "marketing", at,
                [contact(past, cid="A")]).allowed  # fmt: skip
    assert both(MONTH1, customer("B", NY), "email", "marketing", at,
                [contact(past, cid="B")]).reason == Reason.FREQUENCY_MONTH  # fmt: skip


def test_day_on_a_dst_change_is_23_or_25_hours() -> None:
    # New York, 2026-03-08 has 23 hours: 00:00 EST (05:00 UTC) to 00:00 EDT (04:00 UTC next day)
    at = local(NY, 2026, 3, 8, 23, 30)
    assert both(DAY1, customer(tz=NY), "email", "marketing", at,
                [contact(utc(2026, 3, 8, 5, 0))]).reason == Reason.FREQUENCY_DAY  # fmt: skip
    assert both(DAY1, customer(tz=NY), "email", "marketing", at,
                [contact(utc(2026, 3, 8, 4, 59))]).allowed  # fmt: skip
    # 2026-11-01 has 25 hours: 00:00 EDT (04:00 UTC) to 00:00 EST (05:00 UTC next day)
    at = local(NY, 2026, 11, 1, 23, 30)
    assert both(DAY1, customer(tz=NY), "email", "marketing", at,
                [contact(utc(2026, 11, 1, 4, 0))]).reason == Reason.FREQUENCY_DAY  # fmt: skip


# --- quiet hours ------------------------------------------------------------------------------

QUIET = parse_policy_text(
    "name: quiet\nchannels:\n  sms: {quiet_hours: {start: '21:00', end: '08:00'}}\n"
    "  email: {quiet_hours: {start: '12:00', end: '14:00'}}\n"
    "  app_push: {quiet_hours: {start: '01:00', end: '02:30'}}\n"
    "  wecom: {quiet_hours: {start: '00:30', end: '01:30'}}\n"
    "frequency: {global: {day: 1}}\n"
)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ((2026, 3, 10, 20, 59, 59), None),  # just before the start: not held
        ((2026, 3, 10, 21, 0), (2026, 3, 11, 8, 0)),  # exactly at the start: held
        ((2026, 3, 10, 23, 30), (2026, 3, 11, 8, 0)),  # before midnight: to tomorrow 08:00
        ((2026, 3, 11, 2, 0), (2026, 3, 11, 8, 0)),  # after midnight: to today 08:00
        ((2026, 3, 11, 7, 59, 59), (2026, 3, 11, 8, 0)),
        ((2026, 3, 11, 8, 0), None),  # exactly at the end: not held
    ],
)
def test_quiet_hours_crossing_midnight(wall: tuple[int, ...], expected) -> None:
    at = local(SH, *wall)
    verdict = both(QUIET, customer(), "sms", "marketing", at)
    assert verdict.allowed
    if expected is None:
        assert not verdict.held and verdict.send_at == at
    else:
        assert verdict.held and verdict.send_at == local(SH, *expected)


def test_quiet_hours_within_a_day() -> None:
    v = both(QUIET, customer(), "email", "marketing", local(SH, 2026, 3, 10, 13, 0))
    assert v.held and v.send_at == local(SH, 2026, 3, 10, 14, 0)
    assert not both(QUIET, customer(), "email", "marketing", local(SH, 2026, 3, 10, 14, 0)).held
    assert not both(QUIET, customer(), "email", "marketing", local(SH, 2026, 3, 10, 11, 59)).held


def test_quiet_hours_across_dst_changes() -> None:
    # spring forward (New York, 2026-03-08): 08:00 EDT is 12:00 UTC, not 13:00
    v = both(QUIET, customer(tz=NY), "sms", "marketing", local(NY, 2026, 3, 7, 22, 0))
    assert v.send_at == utc(2026, 3, 8, 12, 0)
    # fall back (2026-11-01): 08:00 EST is 13:00 UTC
    v = both(QUIET, customer(tz=NY), "sms", "marketing", local(NY, 2026, 10, 31, 22, 0))
    assert v.send_at == utc(2026, 11, 1, 13, 0)
    # a window ending at 02:30, which does not exist on 2026-03-08: sent at 03:30 EDT, after
    # the window, never inside it
    v = both(QUIET, customer(tz=NY), "app_push", "marketing", local(NY, 2026, 3, 8, 1, 30))
    assert v.held and v.send_at == utc(2026, 3, 8, 7, 30)
    assert v.send_at.astimezone(ZoneInfo(NY)).hour == 3
    # 01:15 happens twice on 2026-11-01; in the second one the window ends at the second 01:30
    second = local(NY, 2026, 11, 1, 1, 15, fold=1)
    v = both(QUIET, customer(tz=NY), "wecom", "marketing", second)
    assert v.held and v.send_at == utc(2026, 11, 1, 6, 30)
    first = local(NY, 2026, 11, 1, 1, 15)
    assert both(QUIET, customer(tz=NY), "wecom", "marketing", first).send_at == utc(
        2026, 11, 1, 5, 30
    )


def test_a_held_send_counts_against_the_day_it_is_sent() -> None:
    at = local(SH, 2026, 3, 10, 22, 0)
    today = [contact(local(SH, 2026, 3, 10, 10, 0), channel="sms")]
    v = both(QUIET, customer(), "sms", "marketing", at, today)
    assert v.allowed and v.held and v.send_at == local(SH, 2026, 3, 11, 8, 0)
    tomorrow = [contact(local(SH, 2026, 3, 11, 9, 0), channel="sms")]
    assert both(QUIET, customer(), "sms", "marketing", at,
                tomorrow).reason == Reason.FREQUENCY_DAY  # fmt: skip


# --- consent ----------------------------------------------------------------------------------


def test_consent_withdrawn_after_grant_and_granted_again() -> None:
    policy = parse_policy_text("name: c\n")
    t1, t2, t3 = utc(2026, 1, 1), utc(2026, 2, 1), utc(2026, 3, 1)
    records = [consent(ts=t1, withdrawn_at=t2)]
    assert both(
        policy, customer(), "email", "marketing", utc(2026, 1, 15), consents=records
    ).allowed
    assert both(policy, customer(), "email", "marketing", t2,
                consents=records).reason == Reason.CONSENT_WITHDRAWN  # fmt: skip
    regranted = [*records, consent(ts=t3)]
    assert both(
        policy, customer(), "email", "marketing", utc(2026, 3, 2), consents=regranted
    ).allowed
    # recorded after the decision: not known yet
    assert both(policy, customer(), "email", "marketing", utc(2026, 2, 15),
                consents=regranted).reason == Reason.CONSENT_WITHDRAWN  # fmt: skip
    refused = [*regranted, consent(ts=utc(2026, 3, 5), granted=False)]
    assert both(policy, customer(), "email", "marketing", utc(2026, 3, 6),
                consents=refused).reason == Reason.NO_CONSENT  # fmt: skip
    # a tie at the same instant: the stricter record wins
    tie = [consent(ts=t1), consent(ts=t1, granted=False)]
    assert both(policy, customer(), "email", "marketing", t2, consents=tie).reason == (
        Reason.NO_CONSENT
    )


def test_consent_is_per_channel_and_purpose() -> None:
    policy = parse_policy_text("name: c\n")
    at = utc(2026, 3, 1)
    records = [consent(channel="sms"), consent(channel="email", purpose="service")]
    assert both(policy, customer(), "sms", "marketing", at, consents=records).allowed
    assert both(policy, customer(), "email", "marketing", at,
                consents=records).reason == Reason.NO_CONSENT  # fmt: skip
    assert both(policy, customer(), "email", "marketing", at, consents=[]).reason == (
        Reason.NO_CONSENT
    )


def test_service_messages_exempt_where_configured() -> None:
    policy = default_policy()  # sms: service_consent_exempt; wecom: not
    at = local(SH, 2026, 3, 10, 10, 0)
    assert both(policy, customer(), "sms", "service", at, consents=[]).allowed
    assert both(policy, customer(), "wecom", "service", at,
                consents=[]).reason == Reason.NO_CONSENT  # fmt: skip
    assert both(policy, customer(), "sms", "marketing", at,
                consents=[]).reason == Reason.NO_CONSENT  # fmt: skip
    # service skips the caps (service_exempt_from: frequency) and does not count towards them
    busy = [contact(at - timedelta(hours=1), channel="sms")]
    assert both(policy, customer(), "sms", "marketing", at, busy).reason == Reason.FREQUENCY_DAY
    assert both(policy, customer(), "sms", "service", at, busy, consents=[]).allowed
    service_busy = [contact(at - timedelta(hours=h), channel="sms", purpose="service")
                    for h in (1, 2, 3)]  # fmt: skip
    assert both(policy, customer(), "sms", "marketing", at, service_busy).allowed


# --- do not contact, cool-off, address ---------------------------------------------------------


def dnc_entry(channel: str, *, added: datetime, expires: datetime | None) -> dict[str, object]:
    return {"customer_id": "C1", "channel": channel, "reason": "customer_request",
            "added_at": added, "expires_at": expires}  # fmt: skip


def test_do_not_contact_until_it_expires() -> None:
    policy = parse_policy_text("name: d\n")
    entry = dnc_entry("email", added=utc(2026, 1, 1), expires=utc(2026, 2, 1))
    v = both(policy, customer(), "email", "marketing", utc(2026, 1, 31, 23, 59), dnc=[entry])
    assert v.reason == Reason.DO_NOT_CONTACT and v.detail["dnc_reason"] == "customer_request"
    assert both(policy, customer(), "email", "marketing", utc(2026, 2, 1), dnc=[entry]).allowed
    assert both(policy, customer(), "sms", "marketing", utc(2026, 1, 15), dnc=[entry]).allowed
    everything = dnc_entry("all", added=utc(2026, 1, 1), expires=None)
    assert both(policy, customer(), "sms", "marketing", utc(2027, 1, 1),
                dnc=[everything]).reason == Reason.DO_NOT_CONTACT  # fmt: skip
    assert both(policy, customer(), "sms", "marketing", utc(2025, 12, 31),
                dnc=[everything]).allowed  # added later  # fmt: skip


def test_cool_off_after_a_complaint_and_an_opt_out() -> None:
    policy = default_policy()  # complaint: 30 days, all channels; opt_out: 90 days, same channel
    at = local(SH, 2026, 6, 1, 10, 0)
    complaint = {"customer_id": "C1", "ts": at - timedelta(days=10)}
    v = both(policy, customer(), "email", "marketing", at, complaints=[complaint])
    assert v.reason == Reason.COOL_OFF and v.detail["after"] == "complaint"
    old = {"customer_id": "C1", "ts": at - timedelta(days=31)}
    assert both(policy, customer(), "email", "marketing", at, complaints=[old]).allowed
    complained = contact(at - timedelta(days=40), channel="sms", outcome="complained",
                         outcome_at=at - timedelta(days=29))  # fmt: skip
    assert both(policy, customer(), "email", "marketing", at,
                [complained]).reason == Reason.COOL_OFF  # fmt: skip
    opted_out = contact(at - timedelta(days=60), channel="sms", outcome="opted_out")
    assert both(policy, customer(), "sms", "marketing", at, [opted_out]).reason == Reason.COOL_OFF
    assert both(policy, customer(), "email", "marketing", at, [opted_out]).allowed
    # service messages skip cool-offs in the default policy
    assert both(policy, customer(), "sms", "service", at, [opted_out], consents=[]).allowed


def test_pressure_weights_over_a_rolling_window() -> None:
    policy = parse_policy_text(
        "name: p\npressure:\n  window_days: 7\n  max_weight: 4\n"
        "  weights: {marketing: {sms: 1, telemarketing: 3, email: 0.5}}\n"
    )
    at = utc(2026, 3, 10, 2, 0)
    call = contact(at - timedelta(days=2), channel="telemarketing")
    assert both(policy, customer(), "sms", "marketing", at, [call]).allowed  # 3 + 1 = 4
    sms = contact(at - timedelta(days=1), channel="sms")
    v = both(policy, customer(), "sms", "marketing", at, [call, sms])
    assert v.reason == Reason.PRESSURE and v.detail["weight"] == 5
    assert both(policy, customer(), "email", "marketing", at, [call, sms]).reason == (
        Reason.PRESSURE
    )
    two_sms = [sms, contact(at - timedelta(days=3), channel="sms")]
    assert both(policy, customer(), "telemarketing", "marketing", at,
                two_sms).reason == Reason.PRESSURE  # fmt: skip
    assert both(policy, customer(), "email", "marketing", at, two_sms).allowed  # 2.5
    old_call = contact(at - timedelta(days=7), channel="telemarketing")  # just out of the window
    assert both(policy, customer(), "sms", "marketing", at, [old_call, sms]).allowed
    control = contact(at - timedelta(days=1), channel="telemarketing", arm="control")
    assert both(policy, customer(), "telemarketing", "marketing", at, [control]).allowed


def test_channel_needs_an_address() -> None:
    policy = parse_policy_text("name: a\n")
    at = utc(2026, 3, 10, 2, 0)
    for missing in (None, "", "   "):
        cust = customer(phone=missing, app_user_id=missing)
        assert both(policy, cust, "sms", "marketing", at).reason == Reason.NO_ADDRESS
        assert both(policy, cust, "telemarketing", "marketing", at).reason == Reason.NO_ADDRESS
        assert both(policy, cust, "in_app", "marketing", at).reason == Reason.NO_ADDRESS
        assert both(policy, cust, "email", "marketing", at).allowed
    cust = customer(wecom_id=None)
    # the first failing rule is the reason: no address comes before no consent
    assert both(policy, cust, "wecom", "marketing", at, consents=[]).reason == Reason.NO_ADDRESS


def test_exclusion_funnel_counts_each_pair_at_its_first_failing_rule() -> None:
    policy = default_policy()
    at = local(SH, 2026, 3, 10, 10, 0)
    customers = pd.DataFrame([
        customer("A"), customer("B", phone=None), customer("C"), customer("D"),
    ])  # fmt: skip
    consents = pd.DataFrame(all_consents("A") + all_consents("B") + all_consents("D"))
    history = pd.DataFrame([contact(at - timedelta(hours=1), "sms", "D")])
    decision = evaluate(policy, customers, ["sms", "email"], "marketing", at, history, consents)
    funnel = decision.funnel()
    assert list(funnel["rule"]) == [r.value for r in RULE_ORDER]
    dropped = dict(zip(funnel["rule"], funnel["dropped"], strict=True))
    assert dropped == {"no_address": 1, "no_consent": 2, "consent_withdrawn": 0,
                       "do_not_contact": 0, "cool_off": 0, "frequency_day": 1,
                       "frequency_week": 0, "frequency_month": 0, "pressure": 0}  # fmt: skip
    assert decision.allowed == 4 and funnel["left"].iloc[-1] == 4
    assert list(decision.frame.columns) == [
        "customer_id",
        "channel",
        "allowed",
        "reason",
        "send_at",
        "held",
    ]


def test_evaluate_rejects_repeated_customers_and_naive_times() -> None:
    policy = default_policy()
    with pytest.raises(ValueError, match="repeated customer_id"):
        evaluate(policy, pd.DataFrame([customer("A"), customer("A")]), ["sms"], "marketing",
                 utc(2026, 1, 1))  # fmt: skip
    with pytest.raises(ValueError, match="time zone"):
        check(policy, customer(), "sms", "marketing", datetime(2026, 1, 1))


# --- the policy as YAML -----------------------------------------------------------------------


def test_shipped_policy_loads() -> None:
    policy = default_policy()
    assert policy.name == "retail_default" and policy.default_time_zone == SH
    assert policy.frequency.global_.day == 2 and policy.pressure is not None


def test_invalid_policy_names_file_line_and_field(tmp_path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "name: p\n"
        "default_time_zone: Mars/Base\n"
        "channels:\n"
        "  sms:\n"
        "    quiet_hours: {start: 21:00, end: '08:00'}\n"
        "  fax: {}\n"
        "frequency:\n"
        "  global: {day: -1, weak: 2}\n"
        "cool_off:\n"
        "  - {after: complaint, days: 30, channels: sam}\n",
        encoding="utf-8",
    )
    with pytest.raises(DefinitionError) as info:
        load_policy_file(path)
    text = str(info.value)
    assert f"{path}:2: field 'default_time_zone'" in text
    assert f"{path}:5: field 'channels.sms.quiet_hours.start': write the time in quotes" in text
    assert f"{path}:6: field 'channels.fax'" in text
    assert f"{path}:8: field 'frequency.global.day'" in text
    assert f"{path}:8: field 'frequency.global.weak': unknown field" in text
    assert f"{path}:10: field 'cool_off[0].channels': 'sam' is not all, same" in text
    assert len(info.value.problems) == 6


def test_unreadable_yaml_names_the_line(tmp_path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: p\nchannels:\n  sms: {quiet_hours: [\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"broken.yaml:\d+: not valid YAML"):
        load_policy_file(path)
    with pytest.raises(DefinitionError, match="is required"):
        parse_policy_text("description: no name\n", "x.yaml")


def test_verdicts_explain_themselves_in_both_languages() -> None:
    from lodestar.i18n import CATALOGUES

    keys = {k for k in CATALOGUES["en"] if k.startswith("policy.")}
    assert keys == {k for k in CATALOGUES["zh-CN"] if k.startswith("policy.")}
    assert {f"policy.reason.{r.value}" for r in RULE_ORDER} <= keys
    policy = default_policy()
    at = local(SH, 2026, 3, 10, 10, 0)
    busy = [contact(at - timedelta(hours=1), channel="sms")]
    v = both(policy, customer(), "sms", "marketing", at, busy)
    assert v.explain("en") == "daily cap reached (sms: 1 of 1)"
    assert v.explain("zh-CN") == "已达每日接触上限（sms：1/1）"
    late = both(policy, customer(), "sms", "marketing", local(SH, 2026, 3, 10, 22, 0))
    assert "after the quiet hours" in late.explain("en")
