"""When to send: each customer's own best hour, inside the hours the channel may be used.

A customer's best hour is the local hour in which they were most active (app and web events) over
the look-back window — people read a message when they are already on their phone. It is counted
in the customer's own time zone on the send date (so a customer in Urumqi and one in Shanghai get
their own hours), falls back to the campaign's default hour for customers without history, and is
then moved to the nearest hour the channel allows (quiet hours are never used: the contact policy
holds a send to the window's edge, and this picks inside the window in the first place).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd

from lodestar.decisioning.policy_rules import customer_zone

DEFAULT_ZONE = "Asia/Shanghai"


def utc_offsets(zones: np.ndarray, on: date, default: str = DEFAULT_ZONE) -> np.ndarray:
    """Each zone's UTC offset in whole hours at noon of ``on`` (DST-aware; half-hour zones are
    rounded down, which moves their best hour by at most 30 minutes)."""
    names = pd.Series(zones, dtype=object).fillna("")
    out = np.zeros(len(names), dtype=np.int64)
    for name, where in names.groupby(names).groups.items():
        local_noon = datetime.combine(on, time(12), tzinfo=customer_zone(name, default))
        offset = local_noon.utcoffset() or timedelta(0)
        out[np.asarray(where)] = int(offset.total_seconds() // 3600)
    return out


def preferred_hours(
    customer_ids: np.ndarray,
    zones: np.ndarray,
    activity: pd.DataFrame,
    *,
    on: date,
    default_hour: int = 10,
) -> np.ndarray:
    """Each customer's most active local hour (0..23), ``default_hour`` without history.

    ``activity`` has one row per customer and UTC hour: ``customer_id``, ``utc_hour`` (0..23),
    ``events`` (a count). Ties go to the earlier local hour.
    """
    n = len(customer_ids)
    counts = np.zeros((n, 24), dtype=np.float64)
    if len(activity):
        row = pd.Index(customer_ids).get_indexer(activity["customer_id"].to_numpy())
        keep = row >= 0
        offsets = utc_offsets(zones, on)
        hour = activity["utc_hour"].to_numpy(dtype=np.int64)[keep]
        local = (hour + offsets[row[keep]]) % 24
        np.add.at(counts, (row[keep], local), activity["events"].to_numpy(np.float64)[keep])
    best = np.argmax(counts, axis=1)
    return np.where(counts.max(axis=1) > 0, best, default_hour).astype(np.int64)


def nearest_allowed(hours: np.ndarray, allowed: list[int]) -> np.ndarray:
    """Each hour moved to the nearest allowed hour (circular; ties to the later hour, since a
    message held past a quiet night lands in the morning)."""
    if not allowed:
        raise ValueError("no hour of the day is allowed for this channel")
    grid = np.array(sorted(set(allowed)), dtype=np.int64)
    diff = (grid[None, :] - hours[:, None]) % 24
    distance = np.minimum(diff, 24 - diff)
    # prefer later on ties: a forward move has diff <= 12
    score = distance * 2 + (diff > 12)
    return np.asarray(grid[np.argmin(score, axis=1)], dtype=np.int64)


def send_instants(on: date, zones: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """UTC instants (``datetime64[us]``) of ``hours`` local time on ``on`` in each zone."""
    names = pd.Series(zones, dtype=object).fillna("")
    out = np.empty(len(names), dtype="datetime64[us]")
    for name, where in names.groupby(names).groups.items():
        tz = customer_zone(name, DEFAULT_ZONE)
        idx = np.asarray(where)
        for h in np.unique(hours[idx]):
            at = datetime.combine(on, time(int(h)), tzinfo=tz).astimezone(UTC)
            out[idx[hours[idx] == h]] = np.datetime64(at.replace(tzinfo=None), "us")
    return out
