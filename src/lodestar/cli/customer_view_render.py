"""Printing the 360° customer view in the terminal (rich panels and tables)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from lodestar.cli.main import console
from lodestar.profile.customer_view import CustomerView
from lodestar.profile.tags import TagDef

_TITLES = {
    "attributes": ("基本信息", "Attributes"), "scores": ("评分与分层", "Scores and tiers"),
    "tags": ("标签", "Tags"), "holdings": ("持有产品", "Holdings"),
    "timeline": ("最近动态", "Recent timeline"), "contacts": ("营销触达", "Campaign contacts"),
    "consents": ("授权", "Consents"), "life_events": ("人生事件", "Life events"),
    "complaints": ("投诉", "Complaints"), "surveys": ("调研", "Surveys"),
}  # fmt: skip
_ATTRIBUTES = ("name", "gender", "age", "birth_date", "id_number", "phone", "email", "city",
               "region", "branch_id", "join_date", "tenure_months", "employment", "income_band",
               "annual_income", "kyc_status", "risk_tolerance", "status", "time_zone",
               "app_user_id", "wecom_id")  # fmt: skip


def _fmt(value: Any, zone: str | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        if value.tzinfo is not None and zone:
            with contextlib.suppress(KeyError, ValueError):
                value = value.astimezone(ZoneInfo(zone))
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_customer_view(view: CustomerView, tags: Mapping[str, TagDef], loc: str) -> None:
    from rich.columns import Columns
    from rich.panel import Panel
    from rich.table import Table

    zh = loc == "zh-CN"
    out = console()

    def title(key: str) -> str:
        return _TITLES[key][0 if zh else 1]

    masked = ("（敏感信息已脱敏）" if zh else " (PII masked)") if view.masked else ""
    head = f"{'客户' if zh else 'Customer'} {view.customer_id}{masked}"
    if view.as_of:
        head += f" · {'数据日期' if zh else 'as of'} {view.as_of}"
    out.print(f"[bold]{head}[/bold]")

    attrs = Table.grid(padding=(0, 1))
    for key in _ATTRIBUTES:
        if view.attributes.get(key) is not None:
            attrs.add_row(f"[dim]{key}[/dim]", _fmt(view.attributes[key]))
    scores = Table.grid(padding=(0, 1))
    for key, value in view.scores.items():
        scores.add_row(f"[dim]{key}[/dim]", _fmt(value))
    out.print(Columns([Panel(attrs, title=title("attributes")),
                       Panel(scores, title=title("scores"))]))  # fmt: skip

    if view.tags:
        by_group: dict[str, list[str]] = {}
        for name, value in view.tags.items():
            tag = tags.get(name)
            if value is None or (
                value in (False, 0, 0.0) and (tag is None or tag.type != "category")
            ):
                continue  # only what is true / non-zero: a profile, not a spreadsheet
            label = tag.label(loc) if tag else name
            shown = tag.value_label(str(value), loc) if tag and tag.type == "category" else None
            text = label if value is True else f"{label}: {shown or _fmt(value)}"
            by_group.setdefault(tag.group if tag else "custom", []).append(text)
        grid = Table.grid(padding=(0, 1))
        for group, items in sorted(by_group.items()):
            grid.add_row(f"[dim]{group}[/dim]", " · ".join(items))
        out.print(Panel(grid, title=title("tags")))

    zone = view.attributes.get("time_zone")

    def table(key: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
        if not rows:
            return
        t = Table(*columns, title=title(key), title_justify="left")
        for r in rows:
            t.add_row(*(_fmt(r.get(c), zone) for c in columns))
        out.print(t)

    table("holdings", view.holdings, ("product_name" if zh else "product_name_en", "category",
                                      "status", "open_date", "balance", "credit_limit"))  # fmt: skip
    table("timeline", view.timeline, ("ts", "kind", "what", "amount", "direction", "via"))
    table("contacts", view.contacts, ("contacted_at", "campaign_id", "arm", "channel", "outcome"))
    table("consents", view.consents, ("channel", "purpose", "in_force", "ts"))
    if view.life_events:
        cols = tuple(c for c in ("ts", "event_type", "details") if c in view.life_events[0])
        table("life_events", view.life_events, cols)
    table("complaints", view.complaints, ("ts", "channel", "category", "severity", "status"))
    table("surveys", view.surveys, ("ts", "survey_type", "score", "touchpoint"))
