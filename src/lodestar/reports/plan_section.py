"""Report section for a campaign plan: the headline figures, the exclusion funnel, budget and
capacity use, the mix of offers and channels, and the plan beside response-only and untargeted
plans under the same limits.

It reads a saved plan's summary (:mod:`lodestar.decisioning.plan_summary`).
"""

from __future__ import annotations

from html import escape
from typing import Any

from lodestar.reports.html import Section, _fig_html

TEXT = {
    "zh-CN": {
        "title": "营销计划：{campaign}（{plan_id}）",
        "headline": "发送日 {send_on}：{customers:,} 位客户中触达 {contacts:,} 位，另有 {holdout:,} 位随机对照组客户只跟踪不触达。预计成本 {cost:,.0f} 元（预算 {budget}），预计增量转化 {conv:,.1f} 笔，增量价值 {value:,.0f} 元，净收益 {net:,.0f} 元。",
        "optimiser": "预算分配：拉格朗日松弛求解，目标值 {objective:,.0f}，可证明上界 {bound:,.0f}，最优性差距 {gap:.3%}；起约束作用的限制：{binding}。",
        "funnel": "排除漏斗：每一步之后仍可触达的客户", "step": "环节", "customers": "客户数",
        "compare": "同样预算与容量下的预计净收益（按本计划的增益估计计算）",
        "plan": "方案", "net": "预计净收益（元）", "conv": "预计增量转化",
        "mix": "触达构成：方案 × 渠道", "contacts": "触达数", "budget_use": "预算使用",
        "capacity": "渠道容量使用", "used": "已用", "cap": "容量", "none": "无",
        "plan_names": {"uplift_plan": "本计划（增益）", "response_only": "仅按响应率",
                       "untargeted": "不做筛选"},
        "steps": {"universe": "全部客户", "offer_not_valid": "不在有效期", "audience": "不在活动人群",
                  "offer_audience": "不符合方案人群", "kyc": "KYC 未核验", "prescreen": "风险预筛未通过",
                  "holds_product": "已持有产品", "suitability": "适当性不匹配",
                  "credit_declined": "无可授信额度", "not_profitable": "预计不盈利",
                  "arbitration": "预算与容量优化后入选"},
    },
    "en": {
        "title": "Campaign plan: {campaign} ({plan_id})",
        "headline": "Send date {send_on}: {contacts:,} of {customers:,} customers contacted, and {holdout:,} in the random holdout (tracked, never contacted). Expected cost {cost:,.0f} (budget {budget}), incremental conversions {conv:,.1f}, incremental value {value:,.0f}, net {net:,.0f}.",
        "optimiser": "Allocation by Lagrangian relaxation: objective {objective:,.0f}, proven upper bound {bound:,.0f}, optimality gap {gap:.3%}; binding limits: {binding}.",
        "funnel": "Exclusion funnel: customers still reachable after each step", "step": "step",
        "customers": "customers",
        "compare": "Expected net under the same budget and capacity (valued with this plan's uplift estimates)",
        "plan": "plan", "net": "expected net", "conv": "incremental conversions",
        "mix": "Contacts by offer and channel", "contacts": "contacts", "budget_use": "budget use",
        "capacity": "Channel capacity use", "used": "used", "cap": "capacity", "none": "none",
        "plan_names": {"uplift_plan": "this plan (uplift)", "response_only": "response-only",
                       "untargeted": "untargeted"},
        "steps": {},
    },
}  # fmt: skip


def plan_section(summary: dict[str, Any], locale: str) -> Section:
    import plotly.graph_objects as go

    text = TEXT.get(locale, TEXT["en"])
    steps: dict[str, str] = text["steps"]  # type: ignore[assignment]
    names: dict[str, str] = text["plan_names"]  # type: ignore[assignment]
    budget = summary.get("budget")
    parts = [
        "<p>" + escape(str(text["headline"]).format(
            send_on=summary["send_on"], customers=summary["customers"],
            contacts=summary["contacts"], holdout=summary["holdout_tracked"],
            cost=summary["expected_cost"], budget=f"{budget:,.0f}" if budget else text["none"],
            conv=summary["expected_incremental_conversions"],
            value=summary["expected_incremental_value"], net=summary["expected_net"])) + "</p>",
    ]  # fmt: skip
    opt = summary["optimiser"]
    parts.append("<p>" + escape(str(text["optimiser"]).format(
        objective=opt["objective"], bound=opt["upper_bound"], gap=opt["gap"] or 0.0,
        binding=", ".join(opt["binding"]) or text["none"])) + "</p>")  # fmt: skip

    funnel = summary["funnel"]
    labels = [steps.get(s["step"], s["step"].replace("policy:", "")) for s in funnel]
    fig = go.Figure(go.Funnel(y=labels, x=[s["customers"] for s in funnel],
                              textinfo="value+percent initial"))  # fmt: skip
    fig.update_layout(title=text["funnel"], height=120 + 28 * len(funnel))
    parts.append(_fig_html(fig))

    comparison = summary["comparison"]
    fig = go.Figure(go.Bar(
        x=[names.get(r["plan"], r["plan"]) for r in comparison],
        y=[r["expected_net"] for r in comparison],
        text=[f"{r['expected_net']:,.0f}" for r in comparison], textposition="auto",
    ))  # fmt: skip
    fig.update_layout(title=text["compare"], yaxis_title=text["net"], height=360)
    parts.append(_fig_html(fig))

    mix = summary.get("by_offer_channel", [])
    if mix:
        fig = go.Figure()
        for channel in dict.fromkeys(r["channel"] for r in mix):
            part = [r for r in mix if r["channel"] == channel]
            fig.add_trace(go.Bar(name=channel, x=[r["offer_id"] for r in part],
                                 y=[r["contacts"] for r in part]))  # fmt: skip
        fig.update_layout(title=text["mix"], barmode="stack", height=380,
                          yaxis_title=text["contacts"])  # fmt: skip
        parts.append(_fig_html(fig))
    rows = [f"<tr><td>{escape(str(text['budget_use']))}</td><td class='num'>"
            f"{summary['budget_use']:.1%}</td></tr>"] if summary.get("budget_use") is not None else []  # fmt: skip
    for channel, use in summary.get("capacity_use", {}).items():
        rows.append(f"<tr><td>{escape(channel)}</td><td class='num'>{use['used']:,} / "
                    f"{use['capacity']:,}</td></tr>")  # fmt: skip
    if rows:
        parts.append(f"<h3>{escape(str(text['capacity']))}</h3><table><tbody>{''.join(rows)}"
                     "</tbody></table>")  # fmt: skip
    title = str(text["title"]).format(campaign=summary.get("name") or summary["campaign"],
                                      plan_id=summary["plan_id"])  # fmt: skip
    return Section(title, "\n".join(parts))
