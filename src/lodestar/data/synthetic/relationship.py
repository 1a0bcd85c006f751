"""The customer relationship beyond money: consents, surveys (NPS / CSAT / CES) and complaints.

Consent exists only for channels a customer can be reached on; a share is refused or later
withdrawn (more often by dissatisfied customers). Survey scores follow latent satisfaction, and
complaints come more often from dissatisfied and delinquent customers, in their own words.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lodestar.data.schema import COMPLAINTS, CONSENTS, SURVEYS
from lodestar.data.synthetic.calendar import Calendar, ids, sigmoid, take, timestamps
from lodestar.data.synthetic.people import Population

CHANNELS = ("sms", "email", "app_push", "in_app", "wecom", "voice_robot", "telemarketing")
SOURCES = ("app", "web", "branch", "call_center", "contract")
TOUCHPOINTS = ("app", "branch", "call_center", "web", "wecom", "mini_program")
STAGES = ("registration", "application", "approval", "drawdown", "repayment", "servicing")
POSITIVE = ("办理很快，体验不错", "客户经理很专业", "APP 操作方便", "利率有优势", "到账速度快")
NEUTRAL = ("还可以", "一般，没什么特别", "流程有点多", "希望额度再高一些")
NEGATIVE = ("审批太慢了", "电话营销太频繁，很烦", "APP 经常闪退", "利率太高", "网点排队时间长",
            "额度太低", "客服电话打不通")  # fmt: skip
COMPLAINT_TEXT = {
    "fees": ("年费扣得莫名其妙", "手续费没有提前告知"),
    "interest_rate": ("实际利率和宣传的不一样", "提前还款还要收违约金"),
    "service_attitude": ("柜员态度很差", "客服敷衍了事"),
    "waiting_time": ("网点排队两个小时", "贷款审批等了半个月"),
    "app_experience": ("APP 登录不上", "转账页面一直卡住"),
    "marketing_harassment": ("一天接到三个营销电话", "退订了还在发短信"),
    "fraud_security": ("账户被盗刷", "收到可疑的验证码短信"),
    "product_mismatch": ("理财产品风险没有讲清楚", "被推荐了不适合我的保险"),
    "credit_limit": ("信用卡额度被降了", "申请提额一直不通过"),
    "collection": ("催收电话打到了家人那里", "还款后还在催收"),
}


def make_consents(rng: np.random.Generator, pop: Population, cal: Calendar) -> pa.Table:
    n = pop.n
    phone = np.ones(n, bool)
    reachable = np.stack(
        [phone, pop.has_email, pop.app_user, pop.app_user, pop.has_wecom, phone, phone], axis=1
    )
    # Marketing consent per reachable channel; service consent for the main service channels.
    cust, chan = np.nonzero(reachable)
    m = len(cust)
    sat = pop.satisfaction[cust]
    granted = rng.random(m) < sigmoid(1.6 + 0.6 * sat - 0.6 * (chan >= 5))
    withdrawn = granted & (rng.random(m) < sigmoid(-2.8 - 0.8 * sat))
    given_day = np.clip(np.maximum(pop.join_day[cust], 0) + rng.integers(0, 30, m), 0,
                        cal.days - 2)  # fmt: skip
    given = cal.sample_times(rng, given_day)
    span = np.maximum(cal.days - 1 - given_day, 1)
    withdrawn_at = given + (rng.random(m) * span * 86_400_000_000).astype(np.int64) + 1
    service = np.isin(chan, (0, 2, 3))
    s_cust, s_chan, s_time = cust[service], chan[service], given[service]
    k = len(s_cust)
    all_cust = np.concatenate([cust, s_cust])
    total = m + k
    number = pop.number[all_cust] * 100 + np.concatenate([chan, 10 + s_chan])
    source = np.where(pop.digital[all_cust] > 0.5, 0, 2)
    source = np.where(rng.random(total) < 0.15, rng.integers(0, 5, total), source)
    return pa.Table.from_arrays(
        [
            ids("G", number, 11),
            pop.customer_id.take(pa.array(all_cust)),
            take(CHANNELS, np.concatenate([chan, s_chan])),
            take(("marketing", "service"), np.concatenate([np.zeros(m, int), np.ones(k, int)])),
            pa.array(np.concatenate([granted, np.ones(k, bool)])),
            take(SOURCES, source),
            timestamps(np.concatenate([given, s_time])),
            pc.if_else(
                pa.array(np.concatenate([withdrawn, np.zeros(k, bool)])),
                timestamps(np.concatenate([withdrawn_at, s_time])),
                pa.scalar(None, pa.timestamp("us", tz="UTC")),
            ),
        ],
        schema=CONSENTS.arrow_schema,
    )


def make_surveys(rng: np.random.Generator, pop: Population, cal: Calendar) -> pa.Table:
    tables = []
    lo = np.maximum(pop.join_day, 0)
    hi = np.maximum(lo, np.minimum(pop.churn_day, cal.days) - 1)
    for t, (kind, share, lo_s, hi_s) in enumerate(
        (("nps", 0.10, 0, 10), ("csat", 0.06, 1, 5), ("ces", 0.03, 1, 7))
    ):
        idx = np.nonzero(rng.random(pop.n) < share)[0]
        k = len(idx)
        sat = pop.satisfaction[idx]
        mid = (lo_s + hi_s) / 2
        width = (hi_s - lo_s) / 2
        if kind == "ces":  # effort: lower is better, so satisfaction pushes it down
            score = mid - width * np.tanh(0.8 * sat + rng.normal(0, 0.6, k))
        else:
            score = mid + width * np.tanh(0.9 * sat + 0.4 + rng.normal(0, 0.6, k))
        score = np.clip(np.round(score), lo_s, hi_s).astype(int)
        good = (score - lo_s) / (hi_s - lo_s) if kind != "ces" else (hi_s - score) / (hi_s - lo_s)
        day = lo[idx] + (rng.random(k) * (hi[idx] - lo[idx] + 1)).astype(int)
        mood = np.digitize(good, [0.45, 0.75])  # negative, neutral, positive
        texts = (*NEGATIVE, *NEUTRAL, *POSITIVE)
        offset = np.array([0, len(NEGATIVE), len(NEGATIVE) + len(NEUTRAL)])[mood]
        size = np.array([len(NEGATIVE), len(NEUTRAL), len(POSITIVE)])[mood]
        pick = offset + (rng.random(k) * size).astype(int)
        tables.append(
            pa.Table.from_arrays(
                [
                    ids(f"R{t}", pop.number[idx], 9),
                    pop.customer_id.take(pa.array(idx)),
                    pa.array(np.full(k, kind)),
                    pa.array(score, pa.int64()),
                    take(
                        TOUCHPOINTS,
                        rng.choice(len(TOUCHPOINTS), k, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05]),
                    ),
                    take(STAGES, rng.integers(0, len(STAGES), k)),
                    timestamps(cal.sample_times(rng, day)),
                    take(texts, pick, mask=rng.random(k) < 0.55),
                ],
                schema=SURVEYS.arrow_schema,
            )
        )
    return pa.concat_tables(tables)


def make_complaints(rng: np.random.Generator, pop: Population, cal: Calendar) -> pa.Table:
    p = sigmoid(-4.2 - 0.9 * pop.satisfaction + 0.5 * (pop.credit_risk > -2))
    idx = np.nonzero(rng.random(pop.n) < p)[0]
    k = len(idx)
    cats = tuple(COMPLAINT_TEXT)
    weights = np.array([0.12, 0.1, 0.12, 0.12, 0.12, 0.14, 0.05, 0.07, 0.08, 0.08])
    cat = rng.choice(len(cats), k, p=weights / weights.sum())
    collection = pop.credit_risk[idx] > -1.8
    cat = np.where(collection & (rng.random(k) < 0.5), cats.index("collection"), cat)
    texts = [t for c in cats for t in COMPLAINT_TEXT[c]]
    text_idx = cat * 2 + rng.integers(0, 2, k)
    lo = np.maximum(pop.join_day[idx], 0)
    hi = np.maximum(lo, np.minimum(pop.churn_day[idx], cal.days) - 1)
    day = lo + (rng.random(k) * (hi - lo + 1)).astype(int)
    ts = cal.sample_times(rng, day)
    resolved = rng.random(k) < 0.85
    resolved_at = ts + (rng.exponential(5, k) * 86_400_000_000).astype(np.int64) + 3_600_000_000
    status = np.where(resolved, np.where(rng.random(k) < 0.6, 3, 2), rng.integers(0, 2, k))
    return pa.Table.from_arrays(
        [
            ids("Q", pop.number[idx], 9),
            pop.customer_id.take(pa.array(idx)),
            timestamps(ts),
            take(
                ("call_center", "app", "branch", "wecom", "web"),
                rng.choice(5, k, p=[0.45, 0.2, 0.2, 0.1, 0.05]),
            ),
            take(cats, cat),
            pa.nulls(k, pa.string()),
            take(("low", "medium", "high"), rng.choice(3, k, p=[0.5, 0.38, 0.12])),
            take(("open", "in_progress", "resolved", "closed"), status),
            take(tuple(texts), text_idx),
            pc.if_else(
                pa.array(resolved),
                timestamps(resolved_at),
                pa.scalar(None, pa.timestamp("us", tz="UTC")),
            ),
        ],
        schema=COMPLAINTS.arrow_schema,
    )
