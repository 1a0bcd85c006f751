"""Report section for a referral programme: the funnel as a chart (codes issued -> touches ->
attributed -> each step, with the conversion from the stage before), the leaderboard (ids and
masked names only) and rewards and cost against the budget."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from lodestar.reports.html import Section, _fig_html

if TYPE_CHECKING:
    from lodestar.campaigns.referrals.reporting import FunnelRow

TEXT = {
    "zh-CN": {"title": "邀请有礼：{name}", "stages": {"codes": "已发邀请码", "touches": "点击/填码",
              "attributed": "成功归因", "register": "注册", "quota_test": "测额",
              "drawdown": "支用"},
              "count": "人数", "rate": "环节转化率", "board": "邀请排行榜", "referrer": "邀请人",
              "name": "姓名", "referees": "邀请人数", "completed": "完成全部环节", "flagged": "待审核",
              "reward_cny": "奖励成本（元）", "reward_points": "奖励积分",
              "cost": "已发奖励 {rewards} 笔，成本 {cny} 元（预算 {budget}），积分 {points}（预算 {pbudget}）。",
              "none": "不限"},
    "en": {"title": "Referrals: {name}", "stages": {}, "count": "customers",
           "rate": "conversion from the stage before", "board": "Top referrers",
           "referrer": "referrer", "name": "name", "referees": "referees",
           "completed": "completed", "flagged": "awaiting review", "reward_cny": "reward cost",
           "reward_points": "reward points",
           "cost": "{rewards} rewards issued, cost CNY {cny} (budget {budget}), {points} points (budget {pbudget}).",
           "none": "none"},
}  # fmt: skip


def referrals_section(name: str, funnel: list[FunnelRow], board: list[dict[str, Any]],
                      costs: dict[str, Any], locale: str) -> Section:  # fmt: skip
    import plotly.graph_objects as go

    text: dict[str, Any] = TEXT.get(locale, TEXT["en"])
    labels = [text["stages"].get(r.stage, r.stage) for r in funnel]
    fig = go.Figure(go.Funnel(y=labels, x=[r.count for r in funnel],
                              textinfo="value+percent previous"))  # fmt: skip
    fig.update_layout(height=360, margin={"l": 120, "r": 20, "t": 20, "b": 20})
    rows = "".join(
        f"<tr><td>{escape(lbl)}</td><td>{r.count:,}</td>"
        f"<td>{'' if r.rate is None else f'{r.rate:.1%}'}</td></tr>"
        for lbl, r in zip(labels, funnel, strict=True))  # fmt: skip
    columns = ("referrer", "name", "referees", "completed", "flagged", "reward_cny",
               "reward_points")  # fmt: skip
    key = {"referrer": "referrer_id"}
    board_rows = "".join("<tr>" + "".join(f"<td>{escape(str(b.get(key.get(c, c)) or ''))}</td>"
                                          for c in columns) + "</tr>" for b in board)  # fmt: skip
    cost = text["cost"].format(rewards=costs["rewards"], cny=costs["cny"],
                               budget=costs["cny_budget"] or text["none"], points=costs["points"],
                               pbudget=costs["points_budget"] or text["none"])  # fmt: skip
    html = (_fig_html(fig)
            + f"<table><tr><th></th><th>{text['count']}</th><th>{text['rate']}</th></tr>{rows}"
            "</table>"
            + f"<p>{escape(cost)}</p><h3>{text['board']}</h3><table><tr>"
            + "".join(f"<th>{text[c]}</th>" for c in columns) + f"</tr>{board_rows}</table>")  # fmt: skip
    return Section(text["title"].format(name=name), html)
