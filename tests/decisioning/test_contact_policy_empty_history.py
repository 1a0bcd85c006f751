"""Caps and pressure refuse on their own, without any history: a cap of 0 or a send heavier than
the pressure limit (the batch once skipped both when the history frame was empty, while the
single-customer check refused — found by the property test's search)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from lodestar.decisioning.contact_policy import check
from lodestar.decisioning.policy_batch import evaluate
from lodestar.decisioning.policy_rules import parse_policy_text

POLICY = """\
name: strict
default_time_zone: Asia/Shanghai
channels: {sms: {}, telemarketing: {}}
frequency:
  channels:
    sms: {day: 0}
pressure:
  window_days: 7
  max_weight: 2
  weights: {marketing: {telemarketing: 3}}
  default_weight: 1
"""
AT = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
CUSTOMERS = pd.DataFrame({"customer_id": ["C1"], "time_zone": ["Asia/Shanghai"],
                          "phone": ["13800000001"]})  # fmt: skip
CONSENTS = pd.DataFrame({"customer_id": ["C1", "C1"], "channel": ["sms", "telemarketing"],
                         "purpose": ["marketing"] * 2, "granted": [True, True],
                         "ts": [datetime(2025, 1, 1, tzinfo=UTC)] * 2,
                         "withdrawn_at": [None, None]})  # fmt: skip


def test_a_zero_cap_and_a_heavy_send_refuse_without_history() -> None:
    policy = parse_policy_text(POLICY, "strict.yaml")
    for history in (None, pd.DataFrame(columns=["customer_id", "channel", "contacted_at"])):
        batch = evaluate(policy, CUSTOMERS, ["sms", "telemarketing"], "marketing", AT,
                         history=history, consents=CONSENTS).frame.set_index("channel")  # fmt: skip
        assert str(batch.loc["sms", "reason"]) == "frequency_day"
        assert str(batch.loc["telemarketing", "reason"]) == "pressure"
        for channel in ("sms", "telemarketing"):
            single = check(policy, CUSTOMERS.iloc[0].to_dict(), channel, "marketing", AT,
                           history=history, consents=CONSENTS)  # fmt: skip
            assert single.allowed is False
            assert single.reason is not None
            assert single.reason.value == str(batch.loc[channel, "reason"])
