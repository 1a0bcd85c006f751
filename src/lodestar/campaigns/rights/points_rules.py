"""Loyalty points (积分): rules that earn points from transactions and behaviour events, and
member levels (会员等级) from the points earned in a rolling window.

A rules file::

    time_zone: Asia/Shanghai          # days (caps, once per day) are the bank's local days
    rules:
      - id: card_spend
        on: transaction
        where: "type = 'card_purchase'"   # a DuckDB condition on the transactions columns
        points_per: 1 per 10 CNY           # whole multiples only: CNY 25 earns 2
        cap_per_day: 500
      - id: checkin
        on: event
        event: app_checkin
        points: 5
        once_per: day
    levels:
      window_days: 365
      tiers:
        - {id: regular, name: {zh: 普通, en: Regular}, min_points: 0}
        - {id: silver, name: {zh: 银卡, en: Silver}, min_points: 2000}

:func:`earn_from_events` is a batch: each source row earns under a key made from its id
(``earn:<rule>:<transaction_id>``, or ``earn:<rule>:<customer>:<day>`` for once-a-day rules), so
running it again over the same or overlapping data credits nothing twice. A daily cap counts
what earlier runs already credited that day.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lodestar.campaigns.rights.catalogue import Name
from lodestar.errors import DefinitionError
from lodestar.located_yaml import LocatedDocument, load_located, load_located_text, validate_located

if TYPE_CHECKING:
    import pandas as pd

    from lodestar.campaigns.rights.ledger import RightsLedger

_PER = re.compile(r"^\s*(\d+)\s+per\s+(\d+(?:\.\d{1,2})?)\s*CNY\s*$")

#: Columns a ``where`` condition may use, per source.
TRANSACTION_COLUMNS = {"transaction_id": "VARCHAR", "customer_id": "VARCHAR",
                       "account_id": "VARCHAR", "ts": "TIMESTAMPTZ", "type": "VARCHAR",
                       "amount": "DOUBLE", "direction": "VARCHAR", "currency": "VARCHAR",
                       "channel": "VARCHAR", "merchant_category": "VARCHAR",
                       "merchant_name": "VARCHAR", "quantity": "BIGINT"}  # fmt: skip
EVENT_COLUMNS = {"event_id": "VARCHAR", "ts": "TIMESTAMPTZ", "customer_id": "VARCHAR",
                 "platform": "VARCHAR", "event_name": "VARCHAR", "page": "VARCHAR",
                 "source": "VARCHAR", "medium": "VARCHAR", "campaign": "VARCHAR"}  # fmt: skip


class PointsRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    on: Literal["transaction", "event"]
    where: str | None = None
    #: ``N per M CNY``: N points for every whole M CNY of the amount (transactions).
    points_per: str | None = None
    #: Points per event (events).
    event: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,63}$")
    points: int | None = Field(default=None, ge=1)
    once_per: Literal["day"] | None = None
    cap_per_day: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: object) -> object:
        # YAML 1.1 reads a bare `on:` key as the boolean true.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @field_validator("where")
    @classmethod
    def _where(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            on = info.data.get("on")
            _check_where(value, EVENT_COLUMNS if on == "event" else TRANSACTION_COLUMNS)
        return value

    @field_validator("points_per")
    @classmethod
    def _per(cls, value: str | None) -> str | None:
        if value is not None and not _PER.match(value):
            raise ValueError(f"'{value}' is not of the form 'N per M CNY' (e.g. '1 per 10 CNY')")
        return value

    @model_validator(mode="after")
    def _shape(self) -> PointsRule:
        if self.on == "transaction":
            if self.points_per is None:
                raise ValueError("a transaction rule needs points_per (e.g. '1 per 10 CNY')")
            if self.event is not None or self.points is not None or self.once_per is not None:
                raise ValueError("event, points and once_per belong to event rules; a "
                                 "transaction rule uses points_per")  # fmt: skip
        else:
            if self.event is None or self.points is None:
                raise ValueError("an event rule needs event (its event_name) and points")
            if self.points_per is not None:
                raise ValueError("points_per belongs to transaction rules; use points")
        return self

    def points_for(self, amount: float | Decimal) -> Decimal:
        """Points a transaction of ``amount`` CNY earns before caps."""
        match = _PER.match(self.points_per or "")
        assert match is not None
        per_points, per_cny = Decimal(match.group(1)), Decimal(match.group(2))
        whole = math.floor(Decimal(str(amount)) / per_cny)
        return Decimal(max(whole, 0)) * per_points


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: Name
    min_points: int = Field(ge=0)


class Levels(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    window_days: int = Field(default=365, ge=1, le=3660)
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if tiers[0].min_points != 0:
            raise ValueError("the first tier must start at min_points 0 (every member has one)")
        for lower, upper in pairwise(tiers):
            if upper.min_points <= lower.min_points:
                raise ValueError(f"tier '{upper.id}' must need more points than '{lower.id}' "
                                 "(list tiers from lowest to highest)")  # fmt: skip
        return tiers

    def level_of(self, points: Decimal | int) -> Tier:
        """The highest tier whose ``min_points`` the points reach (the boundary included)."""
        reached = [t for t in self.tiers if Decimal(points) >= t.min_points]
        return reached[-1]


class PointsRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    time_zone: str = "Asia/Shanghai"
    rules: tuple[PointsRule, ...] = ()
    levels: Levels | None = None

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[PointsRule, ...]) -> tuple[PointsRule, ...]:
        ids = [r.id for r in rules]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(twice)}")
        return rules

    @classmethod
    def from_document(cls, doc: LocatedDocument) -> PointsRules:
        if not isinstance(doc.data, dict):
            raise DefinitionError([f"{doc.source}: points rules are a mapping with 'rules' and "
                                   "'levels'"], what="points rules")  # fmt: skip
        # YAML 1.1 reads a bare `on:` key as true; point errors about it at its line.
        lines = {tuple("on" if k is True else k for k in path): n for path, n in doc.lines.items()}
        doc = LocatedDocument(doc.data, doc.source, lines)
        result: PointsRules = validate_located(cls, doc, what=f"points rules {doc.source}")
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> PointsRules:
        return cls.from_document(load_located(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<points rules>") -> PointsRules:
        return cls.from_document(load_located_text(text, source))


def _check_where(where: str, columns: dict[str, str]) -> None:
    """Raise ValueError unless ``where`` is a condition DuckDB can run on the source columns."""
    import duckdb

    con = duckdb.connect()
    try:
        cols = ", ".join(f'"{c}" {t}' for c, t in columns.items())
        con.execute(f"CREATE TABLE src ({cols})")
        con.execute(f"SELECT count(*) FROM src WHERE ({where})").fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"'{where}' is not a condition on {', '.join(columns)}: {first}") from None
    finally:
        con.close()


@dataclass(frozen=True)
class EarnSummary:
    """What one :func:`earn_from_events` run did."""

    considered: int  # source rows that matched a rule
    posted: int  # new earn entries
    points: Decimal  # points they credited
    skipped: int  # rows already credited by an earlier run, or capped to nothing


def _matching(frame: pd.DataFrame, rule: PointsRule, as_of: datetime) -> pd.DataFrame:
    import duckdb
    import pandas as pd

    if frame is None or frame.empty:
        return frame.iloc[0:0] if frame is not None else pd.DataFrame()
    data = frame[frame["customer_id"].notna()].copy()
    data["ts"] = pd.to_datetime(data["ts"], utc=True)
    data = data[data["ts"] <= pd.Timestamp(as_of)]
    if rule.on == "event":
        data = data[data["event_name"] == rule.event]
    if rule.where and not data.empty:
        con = duckdb.connect()
        try:
            con.register("src", data.reset_index(drop=True))
            data = con.execute(f"SELECT * FROM src WHERE ({rule.where})").df()
        finally:
            con.close()
        data["ts"] = pd.to_datetime(data["ts"], utc=True)
    return data


def earn_from_events(ledger: RightsLedger, rules: PointsRules, *,
                     transactions: pd.DataFrame | None = None,
                     events: pd.DataFrame | None = None, as_of: datetime,
                     actor: str = "system") -> EarnSummary:  # fmt: skip
    """Credit the points every rule earns from the rows up to ``as_of`` (frames with the
    canonical ``transactions`` / ``events`` columns). Idempotent: keys come from source ids."""
    import sqlalchemy as sa

    from lodestar.storage.operational_tables import rights_entries

    zone = ZoneInfo(rules.time_zone)
    considered = posted = skipped = 0
    credited = Decimal(0)
    for rule in rules.rules:
        source = transactions if rule.on == "transaction" else events
        if source is None:
            continue
        rows = _matching(source, rule, as_of)
        id_col = "transaction_id" if rule.on == "transaction" else "event_id"
        rows = rows.sort_values(["ts", id_col], kind="stable")
        with ledger.store.engine.connect() as conn:
            done = set(conn.scalars(sa.select(rights_entries.c.idempotency_key)
                                    .where(rights_entries.c.idempotency_key
                                           .startswith(f"earn:{rule.id}:"))))  # fmt: skip
        records: list[dict[Any, Any]] = rows.to_dict("records")
        for row in records:
            customer = str(row["customer_id"])
            ts: datetime = row["ts"].to_pydatetime()
            day = ts.astimezone(zone).date().isoformat()
            if rule.on == "transaction":
                points = rule.points_for(float(row["amount"]))
                key = f"earn:{rule.id}:{row[id_col]}"
            else:
                points = Decimal(rule.points or 0)
                key = (f"earn:{rule.id}:{customer}:{day}" if rule.once_per == "day"
                       else f"earn:{rule.id}:{row[id_col]}")  # fmt: skip
            if points <= 0:
                continue
            considered += 1
            if key in done:
                skipped += 1
                continue
            cap_ref = f"rule:{rule.id}:{customer}:{day}" if rule.cap_per_day else None
            entry = ledger.earn_points(customer, points, rule.id, key, effective_at=ts,
                                       cap=rule.cap_per_day, cap_reference=cap_ref,
                                       actor=actor)  # fmt: skip
            done.add(key)
            if entry is None:
                skipped += 1
                continue
            posted += 1
            credited += entry.postings[0].amount
    return EarnSummary(considered, posted, credited, skipped)


def member_levels(ledger: RightsLedger, levels: Levels, as_of: datetime) -> pd.DataFrame:
    """Each customer with points earned in the window ``(as_of − window_days, as_of]`` (by when
    the points were earned — a transaction's time, not when a batch posted them; reversed
    earnings do not count, whenever reversed), and the level it reaches.

    Columns: ``customer_id``, ``points``, ``level``, ``level_zh``, ``level_en``.
    """
    import pandas as pd
    import sqlalchemy as sa

    from lodestar.storage.operational_tables import rights_entries, rights_postings

    start = as_of - timedelta(days=levels.window_days)
    e, o, p = rights_entries.alias("e"), rights_entries.alias("o"), rights_postings.alias("p")
    earned_when = sa.case((e.c.kind == "earn", e.c.effective_at), else_=o.c.effective_at)
    q = (
        sa.select(p.c.account, sa.func.sum(p.c.amount))
        .select_from(p.join(e, e.c.entry_id == p.c.entry_id)
                     .outerjoin(o, o.c.entry_id == e.c.reverses))
        .where(p.c.account.like("customer:%:points"))
        .where(sa.or_(e.c.kind == "earn", sa.and_(e.c.kind == "reverse", o.c.kind == "earn")))
        .where(earned_when > _db(start)).where(earned_when <= _db(as_of))
        .group_by(p.c.account)
        .order_by(p.c.account)
    )  # fmt: skip
    with ledger.store.engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for account, points in rows:
        tier = levels.level_of(Decimal(points))
        out.append({"customer_id": account.split(":", 1)[1].rsplit(":", 1)[0],
                    "points": Decimal(points), "level": tier.id, "level_zh": tier.name.zh,
                    "level_en": tier.name.en})  # fmt: skip
    return pd.DataFrame(out, columns=["customer_id", "points", "level", "level_zh", "level_en"])


def _db(value: datetime) -> datetime:
    from datetime import UTC

    return value.astimezone(UTC)
