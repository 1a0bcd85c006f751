"""Example audiences a retail bank's marketers usually start from, for the demo bank.

They use only fields that every workspace has (``customers.*``, ``age``, ``tenure_months``,
``rfm_*`` once RFM has run) and behaviour functions, so they keep working when tags, value tiers
and personas join ``customer_profile``; tag-based examples are added where those are built.
"""

from __future__ import annotations

from dataclasses import dataclass

from lodestar.segments.session import Segments
from lodestar.segments.store import SegmentVersion


@dataclass(frozen=True)
class Example:
    name: str
    expression: str
    description: str
    #: Fields the expression needs in customer_profile (skipped when one is missing).
    needs: tuple[str, ...] = ()


EXAMPLES: tuple[Example, ...] = (
    Example(
        "young_salaried_no_card",
        "age between 22 and 35 and transacted('salary', within='90d', times >= 2) "
        "and not holds(category='credit_card') and consent('sms')",
        "代发工资的年轻客户，尚无信用卡，可短信营销：信用卡首卡获客 / Young salaried customers "
        "without a credit card who accept marketing SMS: first-card acquisition",
        ("age",),
    ),
    Example(
        "wealth_high_value_at_risk",
        "holds(category='wealth', balance >= 100000) and rfm_r <= 2 "
        "and not transacted(within='60d')",
        "理财余额 10 万以上、近期活跃度下降的高价值客户：流失预警与挽留 / High-value wealth "
        "customers whose activity has dropped: retention",
        ("rfm_r",),
    ),
    Example(
        "loan_application_abandoned",
        "did('apply_start', within='30d') and not did('apply_submit', within='30d') "
        "and consent('sms')",
        "30 天内发起贷款申请但未提交、可短信营销：申请挽回 / Started a loan application in the last "
        "30 days but did not submit, with SMS consent: recover the application",
    ),
    Example(
        "dormant_app_users",
        "did('app_open', within='1y') and not did('app_open', within='60d') and status = 'active'",
        "一年内用过手机银行、近 60 天未打开的存续客户：App 唤醒 / Active customers who used the "
        "app in the last year but not in the last 60 days: app re-engagement",
        ("status",),
    ),
    Example(
        "important_retain_rfm",
        "rfm_group_code in ('important_retain', 'important_winback') and consent('app_push')",
        "RFM 重要保持 / 重要挽留客户，可推送：价值客户关怀 / RFM important-to-retain and "
        "important-to-win-back customers reachable by push: care programme",
        ("rfm_group_code",),
    ),
    Example(
        "new_customers_90d",
        "tenure_months <= 3 and status = 'active'",
        "开户三个月内的新客户：新客旅程 / Customers who joined in the last three months: "
        "onboarding journey",
        ("tenure_months", "status"),
    ),
    # Built on tags, value tiers and lifecycle (present once those are built).
    Example(
        "card_gap_salaried_tags",
        "gap_credit_card and age < 40 and is_digital_active and consent('sms')",
        "代发工资、KYC 有效、无逾期、尚无信用卡的 40 岁以下数字化客户：信用卡交叉销售 / Salaried, "
        "KYC-valid, non-delinquent digital customers under 40 without a card: card cross-sell",
        ("gap_credit_card", "is_digital_active"),
    ),
    Example(
        "affluent_wealth_gap",
        "value_tier in ('private_banking', 'affluent') and not has_wealth and consent('telemarketing')",
        "私人银行 / 贵宾客户中尚未持有理财、可电话营销：理财经理跟进 / Private-banking and affluent "
        "customers without wealth products, reachable by phone: relationship-manager follow-up",
        ("value_tier", "has_wealth"),
    ),
    Example(
        "declining_valuable",
        "lifecycle_stage = 'declining' and value_tier in ('private_banking', 'affluent', 'mass') "
        "and not recent_complaint_30d",
        "价值客户进入衰退期且近 30 天无投诉：挽留关怀 / Valuable customers now declining, with no "
        "complaint in 30 days: retention care",
        ("lifecycle_stage", "value_tier", "recent_complaint_30d"),
    ),
)


def save_examples(segments: Segments, actor: str) -> list[SegmentVersion]:
    """Save every example whose fields exist in this workspace; returns the versions saved
    (an example saved before and unchanged keeps its version)."""
    segments.refresh()
    saved = []
    for ex in EXAMPLES:
        if all(f in segments.catalogue for f in ex.needs):
            version, _ = segments.save(ex.name, ex.expression, ex.description, actor)
            saved.append(version)
    return saved
