"""Send times: each customer's own active hour, in their own zone, inside the allowed hours."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from lodestar.decisioning.send_time import (
    nearest_allowed,
    preferred_hours,
    send_instants,
    utc_offsets,
)


def test_the_best_hour_is_counted_in_the_customers_own_zone() -> None:
    ids = np.array(["SH", "NY", "NEW"], dtype=object)
    zones = np.array(["Asia/Shanghai", "America/New_York", "Asia/Shanghai"], dtype=object)
    activity = pd.DataFrame({"customer_id": ["SH", "SH", "NY", "NY"],
                             "utc_hour": [1, 13, 1, 23], "events": [9, 2, 5, 1]})  # fmt: skip
    winter = preferred_hours(ids, zones, activity, on=date(2026, 1, 15), default_hour=10)
    assert winter.tolist() == [9, 20, 10]  # UTC 01 is 09 in Shanghai and 20 (EST) in New York
    summer = preferred_hours(ids, zones, activity, on=date(2026, 7, 15), default_hour=10)
    assert summer.tolist() == [9, 21, 10]  # EDT


def test_offsets_fall_back_to_the_default_zone() -> None:
    offsets = utc_offsets(np.array(["Nowhere/City", None, "Asia/Urumqi"], dtype=object),
                          date(2026, 1, 1))  # fmt: skip
    assert offsets.tolist() == [8, 8, 6]


def test_hours_move_to_the_nearest_allowed_hour() -> None:
    allowed = list(range(8, 21))  # quiet 21:00-08:00
    got = nearest_allowed(np.array([23, 2, 5, 12, 21, 7, 20]), allowed)
    # 23 -> 20 (3 back), 2 -> 8 (6 forward beats 6 back: ties go forward), 5 -> 8
    assert got.tolist() == [20, 8, 8, 12, 20, 8, 20]


def test_send_instants_are_utc_and_dst_aware() -> None:
    zones = np.array(["Asia/Shanghai", "America/New_York"], dtype=object)
    winter = send_instants(date(2026, 1, 15), zones, np.array([9, 9]))
    summer = send_instants(date(2026, 7, 15), zones, np.array([9, 9]))
    assert str(winter[0]) == "2026-01-15T01:00:00.000000"
    assert str(winter[1]) == "2026-01-15T14:00:00.000000"
    assert str(summer[1]) == "2026-07-15T13:00:00.000000"
