"""Five-field cron expressions (minute hour day-of-month month day-of-week) in a time zone.

Standard semantics: ``*``, numbers, ranges ``a-b``, lists ``a,b``, steps ``*/n`` and ``a-b/n``;
day-of-week 0–7 with both 0 and 7 Sunday; when both day-of-month and day-of-week are
restricted a day matches either (as in Vixie cron). Times are matched on the campaign's own
clock (``Asia/Shanghai`` by default), so "0 9 * * 1" is nine on Monday morning in Beijing
whatever zone the server runs in.

The scheduler asks :func:`last_fire` for the latest firing in ``(after, until]``: a scheduler that
was down for a while fires **once** for what it missed (the latest time), not once per missed
slot — a bank does not want five days of reminders sent at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
#: how far back a missed firing is still made up for
LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def matches(self, local: datetime) -> bool:
        if (local.minute not in self.minutes or local.hour not in self.hours
                or local.month not in self.months):  # fmt: skip
            return False
        day_ok = local.day in self.days
        weekday_ok = (local.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return weekday_ok
        if self.any_weekday:
            return day_ok
        return day_ok or weekday_ok


def parse(expr: str) -> Cron:
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"cron '{expr}' needs five fields (minute hour day month weekday)")
    sets = [_field(text, lo, hi, expr) for text, (lo, hi) in zip(fields, _RANGES, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Cron(sets[0], sets[1], sets[2], sets[3], weekdays,
                any_day=fields[2] == "*", any_weekday=fields[4] == "*")  # fmt: skip


def _field(text: str, lo: int, hi: int, expr: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron '{expr}': a step must be at least 1")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(base)
            end = hi if step_text else start
        if not (lo <= start <= hi and lo <= end <= hi) or start > end:
            raise ValueError(f"cron '{expr}': '{part}' is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


def last_fire(expr: str, zone: str, after: datetime, until: datetime) -> datetime | None:
    """The latest minute in ``(after, until]`` the expression fires at (aware, in ``zone``),
    looking back at most :data:`LOOKBACK`; None when it does not fire in between."""
    cron = parse(expr)
    tz = ZoneInfo(zone)
    end = until.astimezone(tz).replace(second=0, microsecond=0)
    start = max(after, until - LOOKBACK).astimezone(tz)
    at = end
    while at > start:
        if cron.matches(at):
            return at
        # step in UTC so a daylight-saving jump neither repeats nor skips a minute
        at = (at.astimezone(ZoneInfo("UTC")) - timedelta(minutes=1)).astimezone(tz)
    return None
