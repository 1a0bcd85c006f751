"""Report section for a running or finished campaign: the campaign funnel (messages queued,
sent, delivered, opened, clicked, replied, then customers converted), the same per journey step
and channel, how the journeys ended, and the cost against the budget.

It reads a :meth:`lodestar.workspace.Workspace.campaign_status` answer
(:mod:`lodestar.campaigns.monitoring`), the figures ``lodestar campaign status`` prints.
"""

from __future__ import annotations

from html import escape
from typing import Any

from lodestar.campaigns.monitoring import FUNNEL, funnel
from lodestar.reports.html import Section, _fig_html

TEXT = {
    "zh-CN": {
        "title": "活动执行：{id}（{state}）",
        "funnel": "活动漏斗", "steps": "各步骤触达与回执", "step": "步骤", "channel": "渠道",
        "journeys": "旅程结果：进入 {entered:,} 人，达成目标（转化）{goal:,} 人，走完全程 {completed:,} 人，其他 {other:,} 人。",
        "cost": "已花费触达成本 {spent:,.2f} 元（预算 {budget}）。",
        "reasons": "未发送原因", "reason": "原因", "count": "条数", "none": "无",
        "stages": {"queued": "待发", "sent": "已发送", "delivered": "已送达", "opened": "已打开",
                   "clicked": "已点击", "replied": "已回复", "converted": "已转化"},
    },
    "en": {
        "title": "Campaign execution: {id} ({state})",
        "funnel": "Campaign funnel", "steps": "Sends and receipts per step", "step": "step",
        "channel": "channel",
        "journeys": "Journeys: {entered:,} entered, {goal:,} reached the goal (converted), {completed:,} went the whole way, {other:,} other.",
        "cost": "Contact cost so far CNY {spent:,.2f} (budget {budget}).",
        "reasons": "Why sends stopped", "reason": "reason", "count": "messages", "none": "none",
        "stages": {},
    },
}  # fmt: skip


def campaign_funnel_section(status: dict[str, Any], locale: str) -> Section:
    import plotly.graph_objects as go

    text = TEXT.get(locale, TEXT["en"])
    stages: dict[str, str] = text["stages"]  # type: ignore[assignment]
    campaign = status["campaign"]
    stages_counts = funnel(status)
    fig = go.Figure(go.Funnel(y=[stages.get(k, k) for k, _ in stages_counts],
                              x=[n for _, n in stages_counts],
                              textinfo="value+percent previous"))  # fmt: skip
    fig.update_layout(title=text["funnel"], height=360)
    parts = [_fig_html(fig)]
    journeys = status.get("journeys") or {}
    if journeys:
        goal, completed = journeys.get("goal", 0), journeys.get("completed", 0)
        other = journeys.get("entered", 0) - goal - completed - journeys.get("active", 0)
        parts.append("<p>" + escape(str(text["journeys"]).format(
            entered=journeys.get("entered", 0), goal=goal, completed=completed,
            other=max(other, 0))) + "</p>")  # fmt: skip
    cost = status.get("cost") or {}
    budget = cost.get("budget")
    parts.append("<p>" + escape(str(text["cost"]).format(
        spent=cost.get("spent", 0.0), budget=f"{budget:,.0f}" if budget else text["none"]))
        + "</p>")  # fmt: skip
    head = "".join(f"<th>{escape(str(h))}</th>" for h in
                   [text["step"], text["channel"], *(stages.get(n, n) for n in FUNNEL[:-1])])  # fmt: skip
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in
                         [s["step"], s["channel"], *(f"{int(s.get(n, 0)):,}" for n in FUNNEL[:-1])])
        + "</tr>" for s in status.get("steps", []))  # fmt: skip
    parts.append(f"<h3>{escape(str(text['steps']))}</h3><table><tr>{head}</tr>{rows}</table>")
    reasons = status.get("reasons") or []
    if reasons:
        body = "".join(f"<tr><td>{escape(str(r['reason']))}</td><td>{r['count']:,}</td></tr>"
                       for r in reasons)  # fmt: skip
        parts.append(f"<h3>{escape(str(text['reasons']))}</h3><table><tr><th>"
                     f"{escape(str(text['reason']))}</th><th>{escape(str(text['count']))}</th>"
                     f"</tr>{body}</table>")  # fmt: skip
    title = str(text["title"]).format(id=campaign["campaign_id"], state=campaign["state"])
    return Section(title=title, html="".join(parts))
